import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { forgetMemory as forget, type MemoryServices } from '../../memory/index.ts';

export default function forgetMemory(event: AppSyncEvent<{ id: string }>, services: MemoryServices) {
  return forget(services, identityFrom(event.identity), event.arguments.id);
}
