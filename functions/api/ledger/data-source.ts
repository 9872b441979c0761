import type { DataSourceDefinition } from '../handler.ts';
import { LEDGER_OPERATIONS } from './operations.ts';

/** The `ledger` data source: spans, the timeline, verification, apps and access. */
export const LEDGER_DATA_SOURCE: DataSourceDefinition = {
  operations: LEDGER_OPERATIONS,
  services: (base) => Promise.resolve(base),
};
