import type { HostFunctions, SandboxErrorCode, SandboxLimits } from './types.ts';

/**
 * Messages between the host thread and a kernel worker. Values cross as JSON strings: the guest
 * builds them, the host parses them, so nothing but plain data ever crosses the boundary.
 */

export interface WorkerData {
  /** Hard cap on the worker's WebAssembly memory, a multiple of 64 KiB. */
  readonly wasmMemoryBytes: number;
  /**
   * QuickJS compiled once by the host (a WebAssembly.Module, typed loosely because @types/node does
   * not declare WebAssembly). Absent when the host could not find the .wasm: the worker loads it.
   */
  readonly wasmModule?: unknown;
}

/** A request made ready to cross: its values as JSON, checked before it waits for a worker. */
export interface PreparedRun {
  readonly code: string;
  readonly inputJson: string;
  readonly envJson: string;
  readonly host: HostFunctions;
  readonly limits: SandboxLimits;
}

export interface RunMessage {
  readonly type: 'run';
  readonly runId: number;
  readonly code: string;
  readonly inputJson: string;
  readonly envJson: string;
  readonly hostNames: readonly string[];
  readonly limits: SandboxLimits;
}

export interface HostResultMessage {
  readonly type: 'hostResult';
  readonly runId: number;
  readonly callId: number;
  readonly ok: boolean;
  /** The result as JSON when ok. */
  readonly json?: string;
  /** The error the guest's promise rejects with when not ok. */
  readonly error?: { readonly name: string; readonly message: string };
}

export type ToWorker = RunMessage | HostResultMessage;

export interface ReadyMessage {
  readonly type: 'ready';
}

export interface HostCallMessage {
  readonly type: 'host';
  readonly runId: number;
  readonly callId: number;
  readonly name: string;
  readonly argsJson: string;
}

export type RunOutcome =
  | { readonly ok: true; readonly json: string }
  | { readonly ok: false; readonly code: SandboxErrorCode; readonly message: string };

export interface DoneMessage {
  readonly type: 'done';
  readonly runId: number;
  readonly outcome: RunOutcome;
  /** The worker's engine may be damaged (any failed run, or a leak on dispose): replace it. */
  readonly recycle: boolean;
}

export type FromWorker = ReadyMessage | HostCallMessage | DoneMessage;
