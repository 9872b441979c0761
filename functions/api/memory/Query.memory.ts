import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { getMemory, type MemoryServices } from '../../memory/index.ts';

export default async function memory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return toGraphqlMemory(await getMemory(services, identityFrom(event.identity), event.arguments.id));
}
