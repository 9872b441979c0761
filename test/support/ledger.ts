import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { createDatabase, dropDatabase, openPglite, openPostgres, type Database, type Identity } from '../../functions/commons/db/index.ts';
import type { Ledger } from '../../functions/ledger/index.ts';
import { testSigner } from './signer.ts';
import { databaseUrl } from './urls.ts';

export const backend = inject('backend');

export { TEST_SEED, testSigner } from './signer.ts';

export interface TestLedger extends Ledger {
  close(): Promise<void>;
}

/** A fresh, migrated database of the configured backend, private to the caller. */
export async function openTestDatabase(): Promise<{ db: Database; close(): Promise<void>; /** PostgreSQL: its connection string. */ url?: string }> {
  const template = inject('template');
  if (backend === 'pglite') {
    const db = await openPglite({ loadDataDir: new Blob([readFileSync(template)]) });
    return { db, close: () => db.close() };
  }
  const url = process.env.DATABASE_URL ?? '';
  const name = `loglineos_t_${randomBytes(6).toString('hex')}`;
  await createDatabase(url, name, template);
  const db = openPostgres({ connectionString: databaseUrl(url, name), max: 12 });
  return {
    db,
    url: databaseUrl(url, name),
    close: async () => {
      await db.close();
      await dropDatabase(url, name);
    },
  };
}

export async function openTestLedger(options: { signing?: boolean } = {}): Promise<TestLedger> {
  const { db, close } = await openTestDatabase();
  return { db, ...(options.signing === false ? {} : { signer: testSigner }), close };
}

/** Ids unique to one test, so tests sharing a database never see each other's chains. */
export function persona(name: string, tenant: string | null, suffix = randomBytes(3).toString('hex')): Identity {
  return { userId: `${name}-${suffix}`, tenantId: tenant === null ? null : `${tenant}-${suffix}` };
}

/** Row count seen by the database owner (past RLS), for "nothing was written" checks. */
export async function rowCount(db: Database): Promise<number> {
  const [row] = await db.withOwner((tx) => tx.query<{ n: number }>('select count(*)::int as n from ledger.universal_registry'));
  return Number(row?.n);
}

/**
 * Waits until every transaction up to `txId` has finished, so the timeline shows it. On a shared
 * PostgreSQL cluster (the test files run side by side) a transaction of another database can hold
 * the timeline back for a few milliseconds; the timeline waits rather than skip.
 */
export async function settled(db: Database, txId: string): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const [row] = await db.withSession(null, (tx) =>
      tx.query<{ done: boolean }>('select pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8 as done', [txId]),
    );
    if (row?.done) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`transaction ${txId} still holds the timeline back after 10 s`);
}
