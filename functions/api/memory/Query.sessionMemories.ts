import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { sessionMemories as list, type MemoryServices } from '../../memory/index.ts';

export default function sessionMemories(event: AppSyncEvent<{ sessionId: string }>, services: MemoryServices) {
  return list(services, identityFrom(event.identity), event.arguments.sessionId);
}
