import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { listSpans, type SpanFilter } from '../../ledger/index.ts';
import { toGraphqlPage } from './shape.ts';

export default async function spans(event: AppSyncEvent<{ filter?: SpanFilter | null; first?: number | null; after?: string | null }>, { ledger }: Services) {
  const { filter, first, after } = event.arguments;
  return toGraphqlPage(await listSpans(ledger, identityFrom(event.identity), filter ?? {}, first, after));
}
