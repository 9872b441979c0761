import type { AppSyncEvent } from '../../commons/appsync.ts';
import { ForbiddenError } from '../../commons/errors.ts';
import { identityFrom, isAdmin, requireSignedIn } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { readableLog, writeCheckpoint } from '../../ledger/index.ts';
import type { LedgerServices } from './services.ts';
import { toGraphqlSpan } from './shape.ts';

/** A tenant's members checkpoint their log on demand; the system log's checkpoints are the operators'. */
export default async function checkpointLedger(event: AppSyncEvent<{ tenantId?: string | null }>, services: LedgerServices) {
  const caller = requireSignedIn(identityFrom(event.identity), 'checkpointing a log');
  const chain = readableLog(caller, event.arguments.tenantId);
  if (chain === '' && !isAdmin(caller)) {
    throw new ForbiddenError('only the admin group or an internal IAM caller checkpoints the system log; checkpoints of it are written on a schedule', { field: 'tenantId', fix: 'Send your own tenant id.' });
  }
  const written = await writeCheckpoint(services.ledger, chain, services.witnesses);
  await publishCommitted(services.publisher, written.span);
  return { ...written, span: toGraphqlSpan(written.span) };
}
