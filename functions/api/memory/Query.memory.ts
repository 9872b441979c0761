import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { getMemory, type MemoryServices } from '../../memory/index.ts';

export default function memory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return getMemory(services, identityFrom(event.identity), event.arguments.id);
}
