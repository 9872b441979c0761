import type { Database } from '../commons/db/index.ts';
import type { Signer } from './signing.ts';

/** What the ledger operations need: the database, and the deployment's signing key when configured. */
export interface Ledger {
  readonly db: Database;
  readonly signer?: Signer;
}
