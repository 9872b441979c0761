import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { appendSpan as append } from '../../ledger/index.ts';
import { parseJsonFields, toGraphqlSpan } from './shape.ts';

export default async function appendSpan(event: AppSyncEvent<{ input: Record<string, unknown> }>, { ledger, publisher }: Services) {
  const span = await append(ledger, identityFrom(event.identity), parseJsonFields(event.arguments.input));
  await publishCommitted(publisher, span);
  return toGraphqlSpan(span);
}
