import type { AppSyncEvent } from '../../commons/appsync.ts';
import { parseAwsJson } from '../ledger/shape.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { upsertMemory as upsert, type MemoryInput, type MemoryServices } from '../../memory/index.ts';

/** AWSJSON reaches a Lambda as JSON text; the domain takes the value. Headers carry consent and session. */
export default async function upsertMemory(event: AppSyncEvent<{ input: MemoryInput & { content?: unknown } }>, services: MemoryServices) {
  const input = { ...event.arguments.input, content: parseAwsJson('content', event.arguments.input.content) };
  return toGraphqlMemory(await upsert(services, identityFrom(event.identity), input, event.request?.headers ?? {}));
}
