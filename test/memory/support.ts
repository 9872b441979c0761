import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noPublisher } from '../../functions/commons/publisher.ts';
import type { Database } from '../../functions/commons/db/index.ts';
import { createMemoryServices, type MemoryServiceOptions, type MemoryServices } from '../../functions/memory/index.ts';
import { openTestLedger, type TestLedger } from '../support/ledger.ts';

export const ON = { 'x-logline-memory': 'on' } as const;

export interface TestMemory extends MemoryServices {
  readonly ledger: TestLedger;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** Memory services on a fresh test database, with their own key folder and the given settings. */
export async function openTestMemory(env: NodeJS.ProcessEnv = {}, options: MemoryServiceOptions = {}, ledger?: TestLedger): Promise<TestMemory> {
  const dataDir = mkdtempSync(join(tmpdir(), 'loglineos-memory-'));
  const owned = ledger === undefined;
  const db = ledger ?? (await openTestLedger());
  const services = await createMemoryServices({ ledger: db, publisher: noPublisher, tokenSecret: Buffer.alloc(32), env: { LOGLINEOS_DATA_DIR: dataDir, MEMORY_EMBEDDINGS: 'local', ...env } }, options);
  return {
    ...services,
    ledger: db,
    dataDir,
    async close() {
      await services.close();
      if (owned) await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Rows of memory and memory_audit spans and memory index rows, as the database owner sees them. */
export async function memoryRowCounts(db: Database): Promise<{ spans: number; index: number }> {
  const [row] = await db.withOwner((tx) =>
    tx.query<{ spans: number; index: number }>(
      "select (select count(*)::int from ledger.universal_registry where entity_type in ('memory', 'memory_audit')) as spans, (select count(*)::int from ledger.memory_index) as index",
    ),
  );
  return { spans: Number(row?.spans), index: Number(row?.index) };
}

/** Every value the database holds for memory, as text, for "no plaintext anywhere" checks (owner role, past RLS). */
export async function everythingStored(db: Database): Promise<string> {
  const rows = await db.withOwner((tx) =>
    tx.query<{ t: string }>(
      `select r::text as t from ledger.universal_registry r
       union all select m::text from ledger.memory_index m
       union all select k::text from ledger.memory_keys k`,
    ),
  );
  return rows.map((row) => row.t).join('\n');
}

/** Captures console output while `fn` runs. */
export async function captureConsole<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originals = methods.map((m) => console[m]);
  const lines: string[] = [];
  for (const m of methods) console[m] = (...args: unknown[]) => void lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  try {
    const result = await fn();
    return { result, output: lines.join('\n') };
  } finally {
    methods.forEach((m, i) => (console[m] = originals[i]!));
  }
}
