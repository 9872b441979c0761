import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { promoteMemory as promote, type MemoryServices } from '../../memory/index.ts';

export default async function promoteMemory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return toGraphqlMemory(await promote(services, identityFrom(event.identity), event.arguments.id));
}
