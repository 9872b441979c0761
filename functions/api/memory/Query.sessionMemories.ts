import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { sessionMemories as list, type MemoryServices } from '../../memory/index.ts';

export default async function sessionMemories(event: AppSyncEvent<{ sessionId: string }>, services: MemoryServices) {
  return (await list(services, identityFrom(event.identity), event.arguments.sessionId)).map(toGraphqlMemory);
}
