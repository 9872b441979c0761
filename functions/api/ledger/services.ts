import type { Services } from '../handler.ts';
import type { CheckpointPolicy, Witness } from '../../ledger/index.ts';

/** The ledger data source's services: the shared ones, the checkpoint witnesses and policy. */
export interface LedgerServices extends Services {
  readonly witnesses: readonly Witness[];
  readonly checkpointPolicy: CheckpointPolicy;
}
