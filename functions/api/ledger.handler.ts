import { lambdaEntry } from './lambda-entry.ts';
import { LEDGER_DATA_SOURCE } from './ledger/data-source.ts';

/** Lambda entry of the `ledger` data source. */
export const handler = lambdaEntry(LEDGER_DATA_SOURCE);
