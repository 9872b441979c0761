import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { ledgerCheckpoint as checkpoint } from '../../ledger/index.ts';

export default function ledgerCheckpoint(event: AppSyncEvent<{ tenantId?: string | null; treeSize?: number | null }>, { ledger }: Services) {
  return checkpoint(ledger, identityFrom(event.identity), event.arguments.tenantId, event.arguments.treeSize);
}
