import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { getSpan } from '../../ledger/index.ts';
import { toGraphqlSpan } from './shape.ts';

export default async function span(event: AppSyncEvent<{ id: string; seq?: number | null }>, { ledger }: Services) {
  const found = await getSpan(ledger, identityFrom(event.identity), event.arguments.id, event.arguments.seq);
  return found ? toGraphqlSpan(found) : null;
}
