import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { openPglite, openPostgres, type Database } from '../../functions/commons/db/index.ts';
import { TEST_SEED } from '../support/signer.ts';
import { openTestDatabase } from '../support/ledger.ts';

/**
 * A ledger as a process outside the test opens it from the environment (a Lambda, the CLI): on PGlite
 * a data folder restored from the migrated template, on PostgreSQL a fresh database of its own. `env`
 * is what such a process needs to find it; `open` gives the test its own connection (to be closed by
 * it) while no other process holds the folder (PGlite allows one).
 */
export interface LedgerHome {
  readonly env: Record<string, string>;
  open(): Promise<Database>;
  close(): Promise<void>;
}

export async function ledgerHome(): Promise<LedgerHome> {
  const dir = mkdtempSync(join(tmpdir(), 'llos-observability-'));
  const common = { LOGLINEOS_DATA_DIR: dir, LOGLINEOS_SIGNING_KEY: TEST_SEED, LOGLINEOS_TOKEN_SECRET: '07'.repeat(32) };
  if (inject('backend') === 'pglite') {
    const pgliteDir = join(dir, 'pglite');
    const restored = await openPglite({ dataDir: pgliteDir, loadDataDir: new Blob([readFileSync(inject('template'))]) });
    await restored.close();
    return {
      env: { ...common, DATABASE_URL: '' },
      open: () => openPglite({ dataDir: pgliteDir }),
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const database = await openTestDatabase();
  return {
    env: { ...common, DATABASE_URL: database.url ?? '' },
    // A pool of the test's own, closed by whoever opened it.
    open: async () => openPostgres({ connectionString: database.url ?? '', max: 4 }),
    close: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Everything written to stdout and stderr while `fn` runs, as JSON lines (other lines dropped). */
export async function capturedJsonLines<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; lines: Record<string, unknown>[] }> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  let outcome: { result?: T; error?: unknown };
  try {
    outcome = { result: await fn() };
  } catch (error) {
    outcome = { error };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const lines = chunks.join('').split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  return { ...outcome, lines };
}
