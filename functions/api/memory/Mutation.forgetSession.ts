import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { forgetSession as forget, type MemoryServices } from '../../memory/index.ts';

export default function forgetSession(event: AppSyncEvent<{ sessionId: string }>, services: MemoryServices) {
  return forget(services, identityFrom(event.identity), event.arguments.sessionId);
}
