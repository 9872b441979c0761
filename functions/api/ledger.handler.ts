import { observedHandler } from '../commons/observability.ts';
import { currentLedger } from '../commons/runtime.ts';
import { createHandler } from './handler.ts';
import { containerServicesOf } from './lambda-entry.ts';
import { runCheckpointPass, type CheckpointPassReport } from './ledger/checkpoint-pass.ts';
import { LEDGER_DATA_SOURCE } from './ledger/data-source.ts';

// One set of services per container serves the API and the scheduled checkpoint passes.
const current = containerServicesOf(LEDGER_DATA_SOURCE);

/** Lambda entry of the `ledger` data source. */
export const handler = observedHandler('ledger', createHandler(LEDGER_DATA_SOURCE.operations, current), { ledger: currentLedger });

/**
 * The EventBridge schedule's target (same bundle, handler `scheduled`): a signed checkpoint of every
 * Merkle log that is due, kept in the witness bucket and published to the live timeline.
 */
export const scheduled = observedHandler('ledger.scheduled', async (): Promise<CheckpointPassReport> => runCheckpointPass(await current()), { ledger: currentLedger });
