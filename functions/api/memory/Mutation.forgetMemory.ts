import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { forgetMemory as forget, type MemoryServices } from '../../memory/index.ts';

export default async function forgetMemory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return toGraphqlMemory(await forget(services, identityFrom(event.identity), event.arguments.id));
}
