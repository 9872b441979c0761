import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import {
  API_ROLE,
  APPLY_IDENTITY_SQL,
  LEDGER_ROLE,
  StatementFailed,
  identityParams,
  type Database,
  type Identity,
  type OwnerSession,
  type Queryable,
  type Row,
  type TransactionOptions,
} from './database.ts';

export interface PgliteOptions {
  /** Folder of the database files; omitted means in memory. */
  readonly dataDir?: string;
  /** A tarball made by `dumpDataDir()` to start from (tests start every file from one migrated copy). */
  readonly loadDataDir?: Blob;
}

/**
 * Embedded PostgreSQL in WebAssembly. It is one backend session, so PGlite runs one transaction at a
 * time; `transaction()` queues the rest. Roles switch per transaction with set_config(…, true), which
 * a superuser session (PGlite's only user) may do and which ends with the transaction.
 */
export async function openPglite(options: PgliteOptions = {}): Promise<Database & { dump(): Promise<Blob> }> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const unlock = options.dataDir ? lockDataDir(options.dataDir) : () => undefined;
  const db = await PGlite.create(options.dataDir, {
    extensions: { vector },
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });

  const wrap = (tx: Transaction): OwnerSession => ({
    async query<R extends Row>(text: string, params: readonly unknown[] = []) {
      const result = await tx.query<R>(text, [...params]);
      return result.rows;
    },
    async exec(script: string) {
      await tx.exec(script);
    },
  });

  const inRole = <T>(role: string, identity: Identity | null, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) =>
    db.transaction(async (tx) => {
      if (options?.snapshot) await tx.query('set transaction isolation level repeatable read, read only');
      await tx.query(APPLY_IDENTITY_SQL, identityParams(role, identity));
      return fn(wrap(tx));
    });

  return {
    backend: 'pglite',
    withSession: (identity, fn, options) => inRole(API_ROLE, identity, fn, options),
    runStatements: (identity, statements) =>
      inRole(API_ROLE, identity, async (tx) => {
        const results = [];
        for (const [index, statement] of statements.entries()) {
          try {
            results.push(await tx.query(statement.text, statement.params));
          } catch (error) {
            throw new StatementFailed(index, error);
          }
        }
        return results;
      }),
    withLedger: (fn, options) => inRole(LEDGER_ROLE, null, fn, options),
    withOwner: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: async () => {
      await db.close();
      unlock();
    },
    dump: () => db.dumpDataDir('none'),
  };
}

/**
 * PGlite's files belong to one process: a second one opening the same folder would corrupt it.
 * A lock file names the owner; a lock left by a process that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(readFileSync(lockFile, 'utf8'));
    if (owner !== process.pid && isRunning(owner)) {
      throw new Error(`the embedded database in ${dataDir} is in use by process ${owner}; stop it first, or set LOGLINEOS_DATA_DIR to another folder`);
    }
    writeFileSync(lockFile, String(process.pid), { mode: 0o600 });
  }
  return () => rmSync(lockFile, { force: true });
}

function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
