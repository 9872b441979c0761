import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { logConsistencyProof } from '../../ledger/index.ts';

export default function consistencyProof(event: AppSyncEvent<{ tenantId?: string | null; fromSize: number; toSize?: number | null }>, { ledger }: Services) {
  return logConsistencyProof(ledger, identityFrom(event.identity), event.arguments.tenantId, event.arguments.fromSize, event.arguments.toSize);
}
