import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { spanInclusionProof } from '../../ledger/index.ts';

export default function inclusionProof(event: AppSyncEvent<{ spanId: string; seq?: number | null; treeSize?: number | null }>, { ledger }: Services) {
  return spanInclusionProof(ledger, identityFrom(event.identity), event.arguments.spanId, event.arguments.seq, event.arguments.treeSize);
}
