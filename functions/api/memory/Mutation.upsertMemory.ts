import type { AppSyncEvent } from '../../commons/appsync.ts';
import { ValidationError } from '../../commons/errors.ts';
import { identityFrom } from '../../commons/identity.ts';
import { toGraphqlMemory } from './shape.ts';
import { upsertMemory as upsert, type MemoryInput, type MemoryServices } from '../../memory/index.ts';

/** AWSJSON reaches a Lambda as JSON text; the domain takes the value. Headers carry consent and session. */
export default async function upsertMemory(event: AppSyncEvent<{ input: MemoryInput & { content?: unknown } }>, services: MemoryServices) {
  const input = { ...event.arguments.input };
  if (typeof input.content === 'string') {
    try {
      input.content = JSON.parse(input.content) as unknown;
    } catch {
      throw new ValidationError('content', input.content, 'is not valid JSON', 'Send AWSJSON: a JSON value as text, e.g. "\\"likes green tea\\"".');
    }
  }
  return toGraphqlMemory(await upsert(services, identityFrom(event.identity), input, event.request?.headers ?? {}));
}
