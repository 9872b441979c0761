import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { noPublisher } from '../../functions/commons/publisher.ts';
import type { Database } from '../../functions/commons/db/index.ts';
import { createMemoryServices, type MemoryServiceOptions, type MemoryServices } from '../../functions/memory/index.ts';
import { openTestLedger, type TestLedger } from '../support/ledger.ts';

export const ON = { 'x-logline-memory': 'on' } as const;

/**
 * Generous Redis waits for tests: on a loaded CI machine (PGlite blocks the event loop while it
 * queries) the production 300 ms command timeout turns a slow command into a silent cache miss, and
 * the connection may take longer than 1 s. `ready()` still resolves as soon as Redis is connected.
 */
export const TEST_REDIS_TIMEOUTS = { MEMORY_REDIS_COMMAND_TIMEOUT_MS: '5000', MEMORY_REDIS_READY_TIMEOUT_MS: '10000' } as const;

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
  const services = await createMemoryServices({ ledger: db, publisher: noPublisher, tokenSecret: Buffer.alloc(32), env: { LOGLINEOS_DATA_DIR: dataDir, MEMORY_EMBEDDINGS: 'local', ...TEST_REDIS_TIMEOUTS, ...env } }, options);
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

export interface TestRedis {
  /** The unix socket path, usable as REDIS_URL (`<socket>?username=…&password=…` for an ACL user). */
  readonly socket: string;
  /** A client of its own, to look at keys. */
  readonly client: Redis;
  readonly process: ChildProcess;
  close(): Promise<void>;
}

/**
 * A Redis of the test's own, on a unix socket in a fresh folder (`--port 0`: no TCP port to race
 * for). Resolves once a client is connected; rejects if redis-server cannot be started.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'loglineos-redis-'));
  const socket = join(dir, 'redis.sock');
  let spawnError: Error | undefined;
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  child.on('error', (error) => (spawnError = error));
  const client = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // tests may stop this Redis on purpose
  const close = async () => {
    client.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt += 1) {
    try {
      if (spawnError) throw spawnError;
      await client.connect();
      return { socket, client, process: child, close };
    } catch (error) {
      if (spawnError || attempt >= 100) {
        await close();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
