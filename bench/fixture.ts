import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, dropDatabase, migrate, openPostgres, type Database } from '../functions/commons/db/index.ts';
import { ledgerMigrations } from '../functions/ledger/index.ts';
import { openIssuer, type LocalIssuer } from '../local/issuer.ts';

export interface BenchDatabase {
  readonly db: Database;
  /** The new database's connection string. */
  readonly url: string;
  /** A token issuer in a throwaway key folder. */
  readonly issuer: LocalIssuer;
}

/** A fresh, migrated PostgreSQL database for one benchmark, dropped afterwards whatever happens. */
export async function withBenchDatabase<T>(serverUrl: string, pool: number, run: (bench: BenchDatabase) => Promise<T>): Promise<T> {
  const name = `loglineos_bench_${randomBytes(4).toString('hex')}`;
  await createDatabase(serverUrl, name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = openPostgres({ connectionString: url.toString(), max: pool });
  const keys = mkdtempSync(join(tmpdir(), 'bench-keys-'));
  try {
    await migrate(db, ledgerMigrations());
    return await run({ db, url: url.toString(), issuer: await openIssuer(join(keys, 'issuer.json')) });
  } finally {
    await db.close();
    await dropDatabase(serverUrl, name);
    rmSync(keys, { recursive: true, force: true });
  }
}
