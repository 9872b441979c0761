import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { verifySpan as verify } from '../../ledger/index.ts';

export default function verifySpan(event: AppSyncEvent<{ id: string; seq?: number | null }>, { ledger }: Services) {
  return verify(ledger, identityFrom(event.identity), event.arguments.id, event.arguments.seq);
}
