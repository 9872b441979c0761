import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { getSpan, type Ledger } from '../../ledger/index.ts';
import { toGraphqlSpan } from './shape.ts';

export default async function span(event: AppSyncEvent<{ id: string; seq?: number | null }>, ledger: Ledger) {
  const found = await getSpan(ledger, identityFrom(event.identity), event.arguments.id, event.arguments.seq);
  return found ? toGraphqlSpan(found) : null;
}
