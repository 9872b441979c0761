import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { appendSpan as append, type Ledger } from '../../ledger/index.ts';
import { parseJsonFields, toGraphqlSpan } from './shape.ts';

export default async function appendSpan(event: AppSyncEvent<{ input: Record<string, unknown> }>, ledger: Ledger) {
  const span = await append(ledger, identityFrom(event.identity), parseJsonFields(event.arguments.input));
  return toGraphqlSpan(span);
}
