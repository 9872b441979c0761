import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BatchJob, BatchOutcome } from './verify-batch.ts';
import type { FromVerifyWorker, ToVerifyWorker } from './verify-worker.ts';

/*
 * Worker threads that check batches of spans for verifyChain. One pool per process, started on
 * first use and kept for the next chain (the CLI verifies chains one after another); a worker holds
 * the process open only while it has a batch, so an idle pool never keeps a process alive.
 *
 * The workers run verify-worker.ts through tsx, as the rest of the project runs (Node 20 ignores
 * `--import tsx` in a Worker's execArgv, so the worker registers tsx itself). Where that file or tsx
 * is missing (a bundle), there is no pool and verifyChain checks every batch on its own thread.
 */

const WORKER_FILE = new URL('./verify-worker.ts', import.meta.url);

/** A batch whose worker stopped before answering; verifyChain checks it itself. */
export class VerifyWorkerLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyWorkerLost';
  }
}

interface Pending {
  resolve(outcome: BatchOutcome): void;
  reject(error: Error): void;
}

class VerifyWorker {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private alive = true;

  constructor(bootstrap: string) {
    this.worker = new Worker(bootstrap, { eval: true });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('message', (message: FromVerifyWorker) => (message.type === 'ready' ? resolve() : reject(new Error(`a verify worker sent ${message.type} before ready`))));
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`a verify worker exited with code ${code} while starting`)));
    });
    this.worker.on('message', (message: FromVerifyWorker) => {
      if (message.type === 'ready') return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.settled(message.id);
      if (message.type === 'done') pending.resolve(message.outcome);
      else pending.reject(new Error(message.message));
    });
    // Without an 'error' listener a worker's crash would crash the process.
    this.worker.on('error', () => undefined);
    this.worker.on('exit', (code) => {
      this.alive = false;
      for (const [id, pending] of this.pending) {
        this.settled(id);
        pending.reject(new VerifyWorkerLost(`a verify worker exited (code ${code}) with a batch in hand`));
      }
    });
    // Held open while it starts (someone awaits it), then only while it has a batch. Adding a
    // 'message' listener refs the worker's port, so this comes after the listeners.
    this.ready.then(() => {
      if (this.pending.size === 0) this.worker.unref();
    }, () => undefined);
  }

  get load(): number {
    return this.alive ? this.pending.size : Number.POSITIVE_INFINITY;
  }

  run(id: number, job: BatchJob): Promise<BatchOutcome> {
    return new Promise<BatchOutcome>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, job } satisfies ToVerifyWorker);
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }
}

export interface VerifyPool {
  readonly size: number;
  /** Checks a batch in the least busy worker; rejects with VerifyWorkerLost when that worker dies. */
  run(job: BatchJob): Promise<BatchOutcome>;
}

let shared: { size: number; pool: Promise<VerifyPool | null>; workers: VerifyWorker[]; started?: VerifyPool | null } | undefined;
let nextId = 1;

/** Workers verifyChain uses by default: one per core. */
export function defaultVerifyWorkers(): number {
  const configured = process.env.LOGLINEOS_VERIFY_WORKERS;
  if (configured !== undefined && configured !== '') {
    const workers = Number(configured);
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`LOGLINEOS_VERIFY_WORKERS must be a whole number (0 = no worker threads), got ${JSON.stringify(configured)}`);
    return workers;
  }
  return availableParallelism();
}

/**
 * The process's pool of `size` workers, started on the first call (a pool of another size replaces
 * it). Resolves to null where workers cannot start; verification then runs on the calling thread.
 */
export function verifyPool(size: number): Promise<VerifyPool | null> {
  if (shared && shared.size === size) return shared.pool;
  const previous = shared;
  shared = startPool(size);
  if (previous) void previous.pool.then(() => Promise.all(previous.workers.map((worker) => worker.terminate())));
  return shared.pool;
}

/** The pool of `size` workers if it has already started, without waiting or starting one. */
export function startedVerifyPool(size: number): VerifyPool | null {
  return shared && shared.size === size ? (shared.started ?? null) : null;
}

/** Stops the pool's workers (tests, benchmarks); the next verification starts a new one. */
export async function closeVerifyPool(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) await Promise.all(current.workers.map((worker) => worker.terminate()));
}

function startPool(size: number): NonNullable<typeof shared> {
  const bootstrap = workerBootstrap();
  if (!bootstrap) return { size, pool: Promise.resolve(null), workers: [], started: null };
  const workers = Array.from({ length: size }, () => new VerifyWorker(bootstrap));
  const pool = Promise.all(workers.map((worker) => worker.ready)).then(
    (): VerifyPool => ({
      size,
      run(job) {
        const worker = workers.reduce((best, candidate) => (candidate.load < best.load ? candidate : best));
        if (worker.load === Number.POSITIVE_INFINITY) return Promise.reject(new VerifyWorkerLost('every verify worker has stopped'));
        const id = nextId;
        nextId += 1;
        return worker.run(id, job);
      },
    }),
    async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
      return null;
    },
  );
  const entry: NonNullable<typeof shared> = { size, pool, workers };
  void pool.then((started) => {
    entry.started = started;
  });
  return entry;
}

/** The worker's entry: registers tsx, then imports verify-worker.ts. Null when either is missing. */
function workerBootstrap(): string | null {
  if (WORKER_FILE.protocol !== 'file:' || !existsSync(fileURLToPath(WORKER_FILE))) return null;
  const tsx = tsxEsmApi();
  if (!tsx) return null;
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_FILE.href)}); });`;
}

/** tsx's ESM API (`tsx/esm/api`, import condition); require.resolve would give its CommonJS build. */
function tsxEsmApi(): string | null {
  try {
    const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
    const entry = manifest.exports?.['./esm/api']?.import?.default;
    return entry ? new URL(entry, pathToFileURL(manifestPath)).href : null;
  } catch {
    return null;
  }
}
