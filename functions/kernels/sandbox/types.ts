import type { JsonValue } from '../../ledger/index.ts';

/**
 * The contract between the kernel executor and the sandbox. Kernel code is a script that sets
 * `globalThis.default = async function main(ctx) { … }` (SPEC §4); the sandbox runs it in its own
 * isolation boundary and gives it a `ctx` whose only ways out are the host functions below.
 */

/** Limits of one run. The sandbox enforces every one; the caller never has to check again. */
export interface SandboxLimits {
  /** Wall clock for the whole run, host calls included. */
  readonly timeoutMs: number;
  /** Memory of the guest engine. */
  readonly memoryBytes: number;
  /** Size of the JSON of the returned value. */
  readonly maxOutputBytes: number;
  /** How many host calls (`ctx.sql`, `ctx.insertSpan`, …) one run may make. */
  readonly maxHostCalls: number;
  /** Size of the JSON of the arguments of one host call. */
  readonly maxHostArgumentBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  timeoutMs: 5_000,
  memoryBytes: 32 * 1024 * 1024,
  maxOutputBytes: 256 * 1024,
  maxHostCalls: 1_000,
  maxHostArgumentBytes: 256 * 1024,
};

/** One asynchronous capability of the host, called from the guest as `await ctx.<name>(...args)`. */
export type HostFunction = (...args: JsonValue[]) => Promise<JsonValue>;

/**
 * The capabilities the host gives one run, each exposed as `ctx.<name>`. The executor always gives
 * `sql(text, params)` and `insertSpan(span)`; a core kernel may get more (running a function,
 * calling a model) when the executor grants them. Arguments and results cross the boundary as JSON.
 * A thrown error reaches the guest as a rejected promise with the error's message and `name`, so
 * kernel code can catch it.
 */
export type HostFunctions = Readonly<Record<string, HostFunction>>;

/** What the guest sees besides the host functions (`ctx.input`, `ctx.env`). */
export interface RunRequest {
  readonly code: string;
  readonly input: JsonValue;
  readonly env: { readonly user: string; readonly tenant: string | null; readonly [key: string]: JsonValue };
  readonly host: HostFunctions;
  readonly limits?: Partial<SandboxLimits>;
}

/** Why a run failed, stable across engines (becomes the `error.code` of the execution span). */
export type SandboxErrorCode =
  | 'KernelError' // the kernel threw, or returned a rejected promise
  | 'SyntaxError' // the code does not parse
  | 'NoEntryPoint' // the code did not set globalThis.default to a function
  | 'Timeout'
  | 'MemoryLimit'
  | 'StackOverflow'
  | 'OutputTooLarge'
  | 'OutputNotJson' // the value cannot be represented as JSON
  | 'HostCallLimit' // too many host calls, or an argument too large
  | 'SandboxFailure'; // the boundary itself failed (worker crash); the run's effects must be rolled back

export type RunResult =
  | { readonly ok: true; readonly output: JsonValue; readonly durationMs: number; readonly hostCalls: number }
  | {
      readonly ok: false;
      readonly error: { readonly code: SandboxErrorCode; readonly message: string };
      readonly durationMs: number;
      readonly hostCalls: number;
    };

export interface Sandbox {
  /** Runs one kernel. Never throws for anything the kernel does; a failed run is `ok: false`. */
  run(request: RunRequest): Promise<RunResult>;
  /** Stops the workers; runs in flight end with SandboxFailure. */
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Workers kept warm; each runs one kernel at a time (default 2). */
  readonly poolSize?: number;
  /**
   * The worker script (path or file URL). Default: env `LOGLINEOS_SANDBOX_WORKER`, else the TypeScript
   * worker beside this file started through tsx. A Lambda bundle points this at its prebuilt JS worker.
   */
  readonly workerScript?: string | URL;
  /**
   * Hard cap on each worker's WebAssembly memory (default 64 MiB). QuickJS's own memory limit does
   * not hold for large allocations; this bound does. A run's `memoryBytes` above it is capped by it.
   */
  readonly workerMemoryBytes?: number;
}
