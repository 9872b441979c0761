import { publishCommitted } from '../../commons/publisher.ts';
import { checkpointPass } from '../../ledger/index.ts';
import type { LedgerServices } from './services.ts';

/** The error logged for a checkpoint a witness missed; the deployment counts these lines and alarms on them. */
export const WITNESS_MISSED = 'a witness did not keep a checkpoint';

/** What one scheduled checkpoint pass wrote: each log's origin and size, and the witnesses that missed it. */
export interface CheckpointPassReport {
  readonly checkpoints: readonly {
    readonly origin: string;
    readonly treeSize: number;
    readonly witnessed: readonly string[];
    readonly witnessFailures: readonly string[];
  }[];
}

/**
 * One checkpoint pass as the EventBridge schedule runs it (functions/api/ledger.handler.ts,
 * `scheduled`): a signed checkpoint of every log that is due, kept by the witnesses, its span put on
 * the live timeline. A witness that missed a checkpoint does not fail the pass (the checkpoint is in
 * the ledger, and the next one covers it); it is logged as an error for the alarms to find.
 */
export async function runCheckpointPass(services: LedgerServices): Promise<CheckpointPassReport> {
  const written = await checkpointPass(services.ledger, services.checkpointPolicy, services.witnesses);
  for (const checkpoint of written) await publishCommitted(services.publisher, checkpoint.span);
  const checkpoints = written.map(({ checkpoint, witnessed, witnessFailures }) => ({ origin: checkpoint.origin, treeSize: checkpoint.treeSize, witnessed, witnessFailures }));
  for (const missed of checkpoints.filter((checkpoint) => checkpoint.witnessFailures.length > 0)) {
    console.error(JSON.stringify({ level: 'error', message: WITNESS_MISSED, origin: missed.origin, treeSize: missed.treeSize, failures: missed.witnessFailures }));
  }
  return { checkpoints };
}
