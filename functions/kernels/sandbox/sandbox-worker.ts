import { AsyncLocalStorage } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import type { JsonValue } from '../../ledger/index.ts';
import { limitMessages } from './limits.ts';
import type { DoneMessage, FromWorker, HostCallMessage, HostResultMessage, PreparedRun, RunMessage, WorkerData } from './protocol.ts';
import type { HostFunctions, RunResult, SandboxErrorCode } from './types.ts';

/** The host kills a worker this long after a run's deadline if the worker has not answered by then. */
const KILL_GRACE_MS = 250;

/** setTimeout fires at once for delays above 2^31 − 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** V8 heap of the worker (the WASM memory is bounded separately, and V8 does not count it). */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };

/**
 * Set while a host function runs. A run started from inside one (a kernel whose host call runs
 * another kernel) must not wait for the worker its caller holds, so the pool gives it one at once.
 */
const hostCallScope = new AsyncLocalStorage<true>();

export function insideHostCall(): boolean {
  return hostCallScope.getStore() === true;
}

export interface WorkerRun {
  readonly result: RunResult;
  /** False when the engine may be damaged (a limit hit, a crash): the pool replaces the worker. */
  readonly reusable: boolean;
}

interface ActiveRun {
  readonly runId: number;
  onHostCall(message: HostCallMessage): void;
  onDone(message: DoneMessage): void;
  /** The worker stopped (crash, exit, close) while the run was in it. */
  onStopped(code: SandboxErrorCode, message: string): void;
}

/** The host side of one kernel worker: starts it, runs one kernel at a time, kills it on overrun. */
export class SandboxWorker {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private current: ActiveRun | null = null;
  private nextRunId = 1;
  private stopped = false;
  private readySent = false;

  /** `onExit` tells the pool the worker is gone, whether or not a run was in it. */
  constructor(script: string | URL, data: WorkerData, onExit: () => void) {
    // No inherited flags, and an empty environment: the host's secrets never enter the worker's memory.
    this.worker = new Worker(script, { workerData: data, resourceLimits: RESOURCE_LIMITS, execArgv: [], env: {} });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('message', (message: FromWorker) => {
        this.readySent = message.type === 'ready';
        if (this.readySent) resolve();
        else reject(new Error(`the sandbox worker sent ${message.type} before ready`));
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`the sandbox worker exited with code ${code} while starting`)));
    });
    // A worker's 'error' without a listener would crash the host process.
    this.worker.on('error', (error: Error & { code?: string }) => {
      const outOfMemory = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.current?.onStopped(outOfMemory ? 'MemoryLimit' : 'SandboxFailure', `the sandbox worker failed: ${error.message}`);
    });
    this.worker.on('exit', (code) => {
      this.stopped = true;
      this.current?.onStopped('SandboxFailure', `the sandbox worker exited (code ${code}) during the run`);
      onExit();
    });
    this.worker.on('message', (message: FromWorker) => {
      if (message.type === 'host' && message.runId === this.current?.runId) this.current.onHostCall(message);
      else if (message.type === 'done' && message.runId === this.current?.runId) this.current.onDone(message);
    });
  }

  /** The worker said it was ready; one that dies before that is not replaced automatically. */
  get started(): boolean {
    return this.readySent;
  }

  get alive(): boolean {
    return !this.stopped;
  }

  /** Runs one kernel. Never rejects: every way a run can end is a RunResult. */
  run(prepared: PreparedRun): Promise<WorkerRun> {
    const { limits } = prepared;
    const runId = this.nextRunId++;
    const started = performance.now();
    const inflight = new Set<Promise<void>>();
    let hostCalls = 0;
    let finished = false;

    return new Promise<WorkerRun>((resolve) => {
      const durationMs = () => Math.round((performance.now() - started) * 1000) / 1000;
      const finish = (result: RunResult, reusable: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.current = null;
        resolve({ result, reusable });
      };
      const failed = (code: SandboxErrorCode, message: string): RunResult => ({ ok: false, error: { code, message }, durationMs: durationMs(), hostCalls });

      const timer = setTimeout(() => {
        finish(failed('Timeout', limitMessages.timeout(limits)), false);
        void this.worker.terminate();
      }, Math.min(limits.timeoutMs + KILL_GRACE_MS, MAX_TIMER_MS));

      this.current = {
        runId,
        onHostCall: (message) => {
          hostCalls += 1;
          const call = this.callHost(prepared.host, message)
            .then((reply) => {
              if (!finished) this.worker.postMessage(reply);
            })
            .catch(() => undefined); // a worker gone meanwhile: the run ends through 'exit' or the timer
          inflight.add(call);
          void call.then(() => inflight.delete(call));
        },
        onDone: ({ outcome, recycle }) => {
          // A failed run ends now: its host calls are refused from here on by the caller, who waits
          // for the one on its session before rolling back (the executor does). Waiting for every
          // call still queued (a kernel that fired thousands at once, then hit a limit) kept a
          // stopped run alive past its time limit, holding its caller's session.
          if (!outcome.ok) return finish(failed(outcome.code, outcome.message), !recycle);
          // The kernel may return without awaiting a host call; its caller's session is still in use
          // until that call ends, so the run ends only then (or at the deadline).
          void Promise.allSettled([...inflight]).then(() => {
            let output: JsonValue;
            try {
              output = JSON.parse(outcome.json) as JsonValue;
            } catch (error) {
              return finish(failed('SandboxFailure', `the worker sent an output that is not JSON: ${String(error)}`), false);
            }
            finish({ ok: true, output, durationMs: durationMs(), hostCalls }, !recycle);
          });
        },
        onStopped: (code, message) => finish(failed(code, message), false),
      };

      if (this.stopped) return finish(failed('SandboxFailure', 'the sandbox worker had already stopped'), false);
      try {
        this.worker.postMessage({
          type: 'run',
          runId,
          code: prepared.code,
          inputJson: prepared.inputJson,
          envJson: prepared.envJson,
          hostNames: Object.keys(prepared.host),
          limits: { ...limits },
        } satisfies RunMessage);
      } catch (error) {
        finish(failed('SandboxFailure', `the run could not be sent to the sandbox worker: ${String(error)}`), false);
      }
    });
  }

  /** Stops the worker; a run in it ends with SandboxFailure and `reason`. */
  async terminate(reason = 'the sandbox was closed during the run'): Promise<void> {
    this.current?.onStopped('SandboxFailure', reason);
    this.stopped = true;
    await this.worker.terminate();
  }

  private async callHost(host: HostFunctions, message: HostCallMessage): Promise<HostResultMessage> {
    const { runId, callId, name } = message;
    try {
      const fn = Object.hasOwn(host, name) ? host[name] : undefined;
      if (!fn) throw new TypeError(`ctx.${name} is not a host function of this run`);
      const args = JSON.parse(message.argsJson) as JsonValue[];
      const value = await hostCallScope.run(true, () => fn(...args));
      const json = JSON.stringify(value ?? null) as string | undefined;
      if (json === undefined) throw new TypeError(`ctx.${name} returned a value with no JSON form`);
      return { type: 'hostResult', runId, callId, ok: true, json };
    } catch (error) {
      const { name: errorName, message: errorMessage } = error instanceof Error ? error : { name: 'Error', message: String(error) };
      return { type: 'hostResult', runId, callId, ok: false, error: { name: errorName, message: errorMessage } };
    }
  }
}
