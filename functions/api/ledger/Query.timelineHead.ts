import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { timelineHead as head } from '../../ledger/index.ts';
import type { Services } from '../handler.ts';

export default function timelineHead(event: AppSyncEvent<Record<string, never>>, { ledger }: Services) {
  return head(ledger, identityFrom(event.identity));
}
