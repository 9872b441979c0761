import { resolve as resolvePath } from 'node:path';
import { resolveLimits } from './limits.ts';
import type { PreparedRun } from './protocol.ts';
import { insideHostCall, SandboxWorker } from './sandbox-worker.ts';
import { quickjsWasmModule } from './wasm-module.ts';
import type { RunRequest, RunResult, Sandbox, SandboxOptions } from './types.ts';

const DEFAULT_POOL_SIZE = 2;
const DEFAULT_WORKER_MEMORY_BYTES = 64 * 1024 * 1024;
/** The WASM module starts at 16 MiB; below this there is no room for a guest heap. */
const MIN_WORKER_MEMORY_BYTES = 24 * 1024 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;
/** Names `ctx` already has: a host function cannot take them. */
const RESERVED_CTX_NAMES = new Set(['input', 'env', 'now', 'crypto']);

interface QueuedRun {
  readonly prepared: PreparedRun;
  readonly resolve: (result: RunResult) => void;
}

/**
 * A pool of kernel workers (QuickJS in WebAssembly, one worker per concurrent run). Runs queue in
 * arrival order when every worker is busy; a run started from inside a host call goes first, on an
 * extra worker when none is idle, so nested runs cannot deadlock the pool. A worker whose run hit a
 * limit or crashed is terminated and a replacement starts at once, so the pool stays warm and no run
 * inherits a damaged engine.
 */
export function createSandbox(options: SandboxOptions = {}): Sandbox {
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw new RangeError(`poolSize must be a positive integer, got ${String(poolSize)}; leave it out for ${DEFAULT_POOL_SIZE}`);
  }
  const wasmMemoryBytes = options.workerMemoryBytes ?? DEFAULT_WORKER_MEMORY_BYTES;
  if (!Number.isSafeInteger(wasmMemoryBytes) || wasmMemoryBytes < MIN_WORKER_MEMORY_BYTES || wasmMemoryBytes % WASM_PAGE_BYTES !== 0) {
    throw new RangeError(
      `workerMemoryBytes must be a multiple of 64 KiB and at least ${MIN_WORKER_MEMORY_BYTES} bytes, got ${String(wasmMemoryBytes)}; leave it out for 64 MiB`,
    );
  }
  const script = workerScript(options.workerScript);

  const live = new Set<SandboxWorker>();
  const idle: SandboxWorker[] = [];
  const queue: QueuedRun[] = [];
  let closed = false;
  /** Workers start once QuickJS is compiled (once per process); runs queue until then. */
  let wasmModule: { loaded: false } | { loaded: true; module: unknown } = { loaded: false };

  const failed = (message: string): RunResult => ({ ok: false, error: { code: 'SandboxFailure', message }, durationMs: 0, hostCalls: 0 });

  const forget = (worker: SandboxWorker) => {
    live.delete(worker);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  };

  const startFailed = (error: unknown) => {
    // Not retried here (a broken worker script would loop); the next run() tries again.
    if (live.size > 0) return;
    const reason = `the sandbox worker could not start (${String(script)}): ${error instanceof Error ? error.message : String(error)}`;
    for (const queued of queue.splice(0)) queued.resolve(failed(reason));
  };

  /** Starts one worker; false when the Worker could not even be constructed. */
  const spawn = (): boolean => {
    const module = wasmModule.loaded ? wasmModule.module : undefined;
    let worker: SandboxWorker;
    try {
      worker = new SandboxWorker(script, { wasmMemoryBytes, ...(module ? { wasmModule: module } : {}) }, () => {
        if (!live.has(worker)) return;
        forget(worker);
        // A started worker that died on its own is replaced; one that never started is startFailed's.
        if (worker.started) refill();
      });
    } catch (error) {
      startFailed(error);
      return false;
    }
    live.add(worker);
    worker.ready.then(
      () => {
        if (!live.has(worker)) return;
        idle.push(worker);
        pump();
      },
      (error: unknown) => {
        forget(worker);
        startFailed(error);
      },
    );
    return true;
  };

  const refill = () => {
    while (wasmModule.loaded && !closed && live.size < poolSize) if (!spawn()) return;
  };

  const retire = (worker: SandboxWorker) => {
    forget(worker);
    refill();
    void worker.terminate();
  };

  const pump = () => {
    while (queue.length > 0 && idle.length > 0) {
      const worker = idle.shift() as SandboxWorker;
      if (!worker.alive) {
        forget(worker);
        continue;
      }
      const queued = queue.shift() as QueuedRun;
      void worker.run(queued.prepared).then(({ result, reusable }) => {
        if (reusable && worker.alive && !closed && live.size <= poolSize) idle.push(worker);
        else retire(worker);
        queued.resolve(result);
        pump();
      });
    }
  };

  void quickjsWasmModule().then((module) => {
    wasmModule = { loaded: true, module };
    refill();
  });

  return {
    run(request: RunRequest): Promise<RunResult> {
      if (closed) return Promise.resolve(failed('the sandbox is closed; create a new one'));
      const prepared = prepare(request);
      if (typeof prepared === 'string') return Promise.resolve(failed(prepared));
      return new Promise<RunResult>((resolve) => {
        if (insideHostCall()) {
          // A run started by a host function of a run in progress: that run holds a worker until
          // this one ends, so this one goes first, on an extra worker if none is idle.
          queue.unshift({ prepared, resolve });
          if (idle.length === 0 && wasmModule.loaded) spawn();
        } else {
          queue.push({ prepared, resolve });
        }
        refill();
        pump();
      });
    },

    async close(): Promise<void> {
      closed = true;
      for (const queued of queue.splice(0)) queued.resolve(failed('the sandbox was closed before the run started'));
      const workers = [...live];
      live.clear();
      idle.length = 0;
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

/** Checks what the caller gave and turns the values into JSON; a string is why it cannot run. */
function prepare(request: RunRequest): PreparedRun | string {
  if (typeof request.code !== 'string') return `code must be a string of JavaScript, got ${typeof request.code}`;
  const limits = resolveLimits(request.limits);
  if ('problem' in limits) return limits.problem;
  for (const [name, fn] of Object.entries(request.host ?? {})) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name) || RESERVED_CTX_NAMES.has(name)) {
      return `host function name ${JSON.stringify(name)} cannot be a ctx member: use an identifier other than ${[...RESERVED_CTX_NAMES].join(', ')}`;
    }
    if (typeof fn !== 'function') return `host.${name} must be a function, got ${typeof fn}`;
  }
  try {
    const inputJson = JSON.stringify(request.input ?? null) as string | undefined;
    const envJson = JSON.stringify(request.env ?? {}) as string | undefined;
    if (inputJson === undefined || envJson === undefined) return 'input and env must be JSON values';
    return { code: request.code, inputJson, envJson, host: request.host ?? {}, limits };
  } catch (error) {
    return `input and env must be JSON values: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function workerScript(option: string | URL | undefined): string | URL {
  const chosen = option ?? process.env.LOGLINEOS_SANDBOX_WORKER;
  if (chosen === undefined || chosen === '') return new URL('./kernel-worker.boot.mjs', import.meta.url);
  if (chosen instanceof URL) return chosen;
  return chosen.startsWith('file:') ? new URL(chosen) : resolvePath(chosen);
}
