import { noPublisher } from '../commons/publisher.ts';
import { currentLedger } from '../commons/runtime.ts';
import { createHandler } from './handler.ts';
import { LEDGER_OPERATIONS } from './ledger/operations.ts';

/** Lambda entry of the `ledger` data source. */
export const handler = createHandler(LEDGER_OPERATIONS, async () => ({ ledger: await currentLedger(), publisher: noPublisher }));
