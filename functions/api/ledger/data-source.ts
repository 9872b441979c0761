import { S3Client } from '@aws-sdk/client-s3';
import { intSetting } from '../../commons/config.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { logConsistencyProof, startCheckpointInterval, type Witness } from '../../ledger/index.ts';
import { fileWitness, s3Witness } from '../../ledger/witnesses.ts';
import type { DataSourceDefinition } from '../handler.ts';
import { LEDGER_OPERATIONS } from './operations.ts';
import type { LedgerServices } from './services.ts';

/**
 * The `ledger` data source: spans, the timeline, verification, proofs and checkpoints, apps and access.
 * Checkpoint witnesses: LOGLINEOS_WITNESS_DIR (a folder; the local server uses `<data dir>/witness`)
 * and LOGLINEOS_WITNESS_BUCKET (an S3 bucket with Object Lock, on AWS). LOGLINEOS_CHECKPOINT_INTERVAL_MS
 * > 0 runs checkpoint passes in this process (the local server; on AWS an EventBridge schedule), each
 * writing a checkpoint of every log that grew by LOGLINEOS_CHECKPOINT_EVERY_SPANS (default 1000) or
 * grew at all in LOGLINEOS_CHECKPOINT_EVERY_SECONDS (default 60).
 */
export const LEDGER_DATA_SOURCE: DataSourceDefinition<LedgerServices> = {
  operations: LEDGER_OPERATIONS,
  services: async (base) => {
    const witnesses: Witness[] = [];
    const folder = base.env.LOGLINEOS_WITNESS_DIR;
    if (folder) {
      // In process, the witness asks the ledger for the proof; it still checks the proof itself.
      const iam = { userId: 'system:witness', tenantId: null, groups: ['iam'] };
      witnesses.push(fileWitness(folder, async (chain, from, to) => (await logConsistencyProof(base.ledger, iam, chain === '' ? null : chain, from, to)).hashes));
    }
    if (base.env.LOGLINEOS_WITNESS_BUCKET) witnesses.push(s3Witness(new S3Client({}), base.env.LOGLINEOS_WITNESS_BUCKET));
    const checkpointPolicy = {
      everySpans: intSetting(base.env, 'LOGLINEOS_CHECKPOINT_EVERY_SPANS', 1000),
      everyMs: intSetting(base.env, 'LOGLINEOS_CHECKPOINT_EVERY_SECONDS', 60) * 1000,
    };
    const intervalMs = intSetting(base.env, 'LOGLINEOS_CHECKPOINT_INTERVAL_MS', 0, 0);
    const interval = intervalMs > 0 && base.ledger.signer
      ? startCheckpointInterval(base.ledger, checkpointPolicy, witnesses, intervalMs, (written) => publishCommitted(base.publisher, written.span))
      : null;
    return {
      ...base,
      witnesses,
      checkpointPolicy,
      close: async () => {
        await interval?.stop();
      },
    };
  },
};

