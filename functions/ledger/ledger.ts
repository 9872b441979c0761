import type { Database } from '../commons/db/index.ts';
import type { Signer } from './signing.ts';

/** What the ledger operations need: the database, and the deployment's signing key when configured. */
export interface Ledger {
  readonly db: Database;
  readonly signer?: Signer;
  /**
   * Group-commit transactions in flight at once (LOGLINEOS_APPEND_GROUPS). The first append on a
   * database fixes it for that database. Default: 1 on PGlite (one session), 2 on PostgreSQL.
   */
  readonly appendGroups?: number;
  /** The name the Merkle logs and their checkpoints carry (LOGLINEOS_LOG_ORIGIN); default loglineos.local. */
  readonly logOrigin?: string;
}
