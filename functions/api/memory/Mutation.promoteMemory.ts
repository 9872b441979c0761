import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { promoteMemory as promote, type MemoryServices } from '../../memory/index.ts';

export default function promoteMemory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return promote(services, identityFrom(event.identity), event.arguments.id);
}
