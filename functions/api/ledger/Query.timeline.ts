import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { timeline as readTimeline, type SpanFilter } from '../../ledger/index.ts';
import { toGraphqlPage } from './shape.ts';

export default async function timeline(event: AppSyncEvent<{ filter?: SpanFilter | null; first?: number | null; after?: string | null }>, { ledger }: Services) {
  const { filter, first, after } = event.arguments;
  return toGraphqlPage(await readTimeline(ledger, identityFrom(event.identity), filter ?? {}, first, after));
}
