import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlHit } from './shape.ts';
import { SESSION_HEADER, searchMemories as search, type MemoryServices, type SearchRequest } from '../../memory/index.ts';

export default async function searchMemories(event: AppSyncEvent<SearchRequest>, services: MemoryServices) {
  const args = event.arguments;
  const sessionId = args.sessionId ?? event.request?.headers?.[SESSION_HEADER] ?? null;
  return (await search(services, identityFrom(event.identity), { ...args, sessionId })).map(toGraphqlHit);
}
