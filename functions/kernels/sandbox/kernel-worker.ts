/**
 * The kernel worker: one QuickJS WebAssembly module on a bounded memory, one run at a time, each run
 * in a new runtime and context. Host calls go to the host thread as messages; their answers come back
 * as messages and settle the guest's promises. The host thread owns the wall clock and kills this
 * worker when a run overstays or fails; nothing here has to survive a bad run.
 */
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type CustomizeVariantOptions,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
} from 'quickjs-emscripten-core';
import { GUEST_PRELUDE } from './guest-prelude.ts';
import { formatBytes, limitMessages } from './limits.ts';
import type { DoneMessage, FromWorker, HostCallMessage, HostResultMessage, RunMessage, RunOutcome, ToWorker, WorkerData } from './protocol.ts';
import type { SandboxErrorCode, SandboxLimits } from './types.ts';

/** Larger stacks let deep recursion escape QuickJS's check and crash the WASM module (docs/sandbox.md). */
const MAX_STACK_BYTES = 256 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;
/** Room the engine itself needs beside the guest's heap inside the bounded WASM memory. */
const ENGINE_RESERVE_BYTES = 4 * 1024 * 1024;

const port = parentPort;
if (!port) throw new Error('kernel-worker.ts runs inside a worker_threads Worker started by createSandbox()');
const { wasmMemoryBytes, wasmModule } = workerData as WorkerData;
// The package's types are CommonJS, so TypeScript sees its ESM default export as the namespace.
const RELEASE_SYNC = releaseSyncVariant as unknown as QuickJSSyncVariant;
// @types/node does not declare the WebAssembly global.
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => unknown } }).WebAssembly;
const quickjs = await newQuickJSWASMModuleFromVariant(
  newVariant(RELEASE_SYNC, {
    wasmMemory: new Memory({ initial: 256, maximum: Math.floor(wasmMemoryBytes / WASM_PAGE_BYTES) }) as CustomizeVariantOptions['wasmMemory'],
    ...(wasmModule ? { wasmModule: wasmModule as CustomizeVariantOptions['wasmModule'] } : {}),
  }),
);

/** Failures that end a run with the engine in a consistent state. */
const CLEAN_FAILURES: ReadonlySet<SandboxErrorCode> = new Set(['KernelError', 'SyntaxError', 'NoEntryPoint', 'OutputNotJson', 'OutputTooLarge']);

type Failure = { readonly code: SandboxErrorCode; readonly message: string };
type Phase = 'load' | 'run' | 'output';

function send(message: FromWorker): void {
  port?.postMessage(message);
}

class GuestRun {
  readonly runId: number;
  private readonly limits: SandboxLimits;
  private readonly memoryBytes: number;
  private readonly deadline: number;
  private readonly rt: QuickJSRuntime;
  private readonly vm: QuickJSContext;
  private readonly owned: QuickJSHandle[] = [];
  private readonly pending = new Map<number, QuickJSDeferredPromise>();
  private nextCallId = 1;
  private hostCalls = 0;
  /** A limit the kernel hit; once set the run fails with it, even if the kernel catches the error. */
  private failure: Failure | null = null;
  private promise: QuickJSHandle | null = null;
  private toJson: QuickJSHandle | null = null;
  private done = false;

  constructor(private readonly message: RunMessage) {
    this.runId = message.runId;
    this.limits = message.limits;
    this.memoryBytes = Math.min(message.limits.memoryBytes, wasmMemoryBytes - ENGINE_RESERVE_BYTES);
    this.deadline = Date.now() + message.limits.timeoutMs;
    this.rt = quickjs.newRuntime();
    this.rt.setMemoryLimit(this.memoryBytes);
    this.rt.setMaxStackSize(MAX_STACK_BYTES);
    this.rt.setInterruptHandler(() => this.failure !== null || Date.now() > this.deadline);
    this.vm = this.rt.newContext();
  }

  start(): void {
    const { vm } = this;
    const prelude = this.own(vm.unwrapResult(vm.evalCode(GUEST_PRELUDE, 'prelude.js')));
    const args = [
      this.bridge(),
      this.own(vm.newString(this.message.inputJson)),
      this.own(vm.newString(this.message.envJson)),
      this.own(vm.newArray()),
    ] as const;
    this.message.hostNames.forEach((name, i) => vm.newString(name).consume((handle) => vm.setProp(args[3], i, handle)));
    const api = this.own(vm.unwrapResult(vm.callFunction(prelude, vm.undefined, ...args)));
    const entry = this.own(vm.getProp(api, 'entry'));
    const start = this.own(vm.getProp(api, 'start'));
    this.toJson = this.own(vm.getProp(api, 'toJson'));

    const evaluated = vm.evalCode(this.message.code, 'kernel.js');
    if (evaluated.error) return this.fail(this.classify(evaluated.error, 'load'));
    evaluated.value.dispose();
    // Read by the guest, not with getProp: `default` may be a getter that throws or loops.
    const entered = vm.callFunction(entry, vm.undefined);
    if (entered.error) return this.fail(this.classify(entered.error, 'run'));
    const main = this.own(entered.value);
    const mainType = vm.typeof(main);
    if (mainType !== 'function') {
      return this.fail({
        code: 'NoEntryPoint',
        message: `the code must set globalThis.default to a function (globalThis.default = async function main(ctx) {…}); it is ${mainType === 'undefined' ? 'not set' : `a ${mainType}`}`,
      });
    }
    const called = vm.callFunction(start, vm.undefined, main);
    if (called.error) return this.fail(this.classify(called.error, 'run'));
    this.promise = this.own(called.value);
    this.settle();
  }

  /** Runs the guest's pending jobs and finishes the run when its promise has settled. */
  settle(): void {
    if (this.done || !this.promise) return;
    const jobs = this.rt.executePendingJobs();
    if (jobs.error) return this.fail(this.classify(jobs.error, 'run'));
    if (this.failure) return this.fail(this.failure);
    if (Date.now() > this.deadline) return this.fail({ code: 'Timeout', message: limitMessages.timeout(this.limits) });
    const state = this.vm.getPromiseState(this.promise);
    if (state.type === 'rejected') return this.fail(this.classify(state.error, 'run'));
    if (state.type === 'fulfilled') return this.output(this.own(state.value));
    if (this.pending.size === 0) {
      this.fail({ code: 'KernelError', message: 'main(ctx) returned a promise that never settles: it awaits something no host call will resolve' });
    }
  }

  /** The answer of one host call, from the host thread. */
  answer(message: HostResultMessage): void {
    const deferred = this.pending.get(message.callId);
    if (!deferred || this.done) return;
    this.pending.delete(message.callId);
    const { vm } = this;
    if (message.ok && (message.json ?? 'null').length > this.memoryBytes) {
      this.failure = { code: 'MemoryLimit', message: `${limitMessages.memory(this.memoryBytes)}: a host call returned ${(message.json ?? '').length} characters of JSON` };
      deferred.dispose();
      return this.fail(this.failure);
    }
    const value = message.ok ? vm.newString(message.json ?? 'null') : vm.newError(message.error ?? { name: 'Error', message: 'host call failed' });
    if (message.ok) deferred.resolve(value);
    else deferred.reject(value);
    value.dispose();
    deferred.dispose();
    this.settle();
  }

  fail(failure: Failure): void {
    this.finish({ ok: false, ...failure });
  }

  private output(value: QuickJSHandle): void {
    if (!this.toJson) return;
    const json = this.vm.callFunction(this.toJson, this.vm.undefined, value);
    if (json.error) return this.fail(this.classify(json.error, 'output'));
    const text = this.vm.getString(json.value);
    json.value.dispose();
    const size = Buffer.byteLength(text);
    if (size > this.limits.maxOutputBytes) return this.fail({ code: 'OutputTooLarge', message: limitMessages.output(size, this.limits) });
    this.finish({ ok: true, json: text });
  }

  private finish(outcome: RunOutcome): void {
    if (this.done) return;
    this.done = true;
    if (active === this) active = null;
    // A run stopped by a limit may have left the engine mid-operation, and disposing a runtime with
    // live objects aborts the whole WASM module: the host replaces this worker instead of cleaning up.
    // A kernel that merely threw leaves a consistent engine; its runtime is disposed (which checks
    // that nothing leaked) and the worker is reused, so a kernel that fails often does not cost a
    // worker start per run.
    // Host calls the kernel did not await: their answers will be ignored, and their promises go
    // with the runtime.
    let recycle = !outcome.ok && !CLEAN_FAILURES.has(outcome.code);
    if (!recycle) {
      try {
        for (const deferred of this.pending.values()) deferred.dispose();
        this.pending.clear();
        for (const handle of this.owned) if (handle.alive) handle.dispose();
        this.vm.dispose();
        this.rt.dispose();
      } catch {
        recycle = true;
      }
    }
    send({ type: 'done', runId: this.runId, outcome, recycle } satisfies DoneMessage);
  }

  /** The native functions the prelude turns into `ctx`. */
  private bridge(): QuickJSHandle {
    const { vm } = this;
    const bridge = this.own(vm.newObject());
    const define = (name: string, fn: (...args: QuickJSHandle[]) => QuickJSHandle) =>
      vm.newFunction(name, fn).consume((handle) => vm.setProp(bridge, name, handle));
    define('call', (name, argsJson) => this.hostCall(vm.getString(name), vm.getString(argsJson)));
    define('now', () => vm.newString(new Date().toISOString()));
    define('blake3', (text) => vm.newString(bytesToHex(blake3(utf8ToBytes(this.text(text, 'ctx.crypto.blake3'))))));
    define('hex', (text) => vm.newString(bytesToHex(utf8ToBytes(this.text(text, 'ctx.crypto.hex')))));
    define('randomUUID', () => vm.newString(randomUUID()));
    return bridge;
  }

  private hostCall(name: string, argsJson: string): QuickJSHandle {
    if (this.failure) throw new Error(this.failure.message);
    if (Date.now() > this.deadline) this.failure = { code: 'Timeout', message: limitMessages.timeout(this.limits) };
    else if (this.hostCalls >= this.limits.maxHostCalls) this.failure = { code: 'HostCallLimit', message: limitMessages.hostCalls(this.limits) };
    else {
      const size = Buffer.byteLength(argsJson);
      if (size > this.limits.maxHostArgumentBytes) {
        this.failure = { code: 'HostCallLimit', message: limitMessages.hostArgument(name, size, this.limits) };
      }
    }
    if (this.failure) throw new RangeError(this.failure.message);
    this.hostCalls += 1;
    const callId = this.nextCallId++;
    const deferred = this.vm.newPromise();
    this.pending.set(callId, deferred);
    send({ type: 'host', runId: this.runId, callId, name, argsJson } satisfies HostCallMessage);
    return deferred.handle;
  }

  private text(handle: QuickJSHandle, what: string): string {
    const type = this.vm.typeof(handle);
    if (type !== 'string') throw new TypeError(`${what}(text) takes a string, got ${type}`);
    return this.vm.getString(handle);
  }

  private own(handle: QuickJSHandle): QuickJSHandle {
    this.owned.push(handle);
    return handle;
  }

  /** Turns what the guest threw into a failure; the limit the run hit wins over the guest's error. */
  private classify(errorHandle: QuickJSHandle, phase: Phase): Failure {
    let thrown: unknown;
    try {
      thrown = this.vm.dump(errorHandle);
      errorHandle.dispose();
    } catch {
      thrown = null;
    }
    if (this.failure) return this.failure;
    const { name, message } = describeThrown(thrown);
    if (message === 'interrupted') return { code: 'Timeout', message: limitMessages.timeout(this.limits) };
    if (/out of memory|string too long/i.test(message)) return { code: 'MemoryLimit', message: limitMessages.memory(this.memoryBytes) };
    if (/stack overflow|call stack/i.test(message)) return { code: 'StackOverflow', message: limitMessages.stack() };
    if (thrown === null && this.nearMemoryLimit()) return { code: 'MemoryLimit', message: limitMessages.memory(this.memoryBytes) };
    if (phase === 'load' && name === 'SyntaxError') return { code: 'SyntaxError', message: `the code does not parse: ${message}` };
    if (phase === 'output') return { code: 'OutputNotJson', message: `the kernel's output cannot be represented as JSON: ${name}: ${message}` };
    return { code: 'KernelError', message: name ? `${name}: ${message}` : message };
  }

  /** At the limit QuickJS may have no memory left to build the error, and throws null instead. */
  private nearMemoryLimit(): boolean {
    try {
      const usage = this.rt.computeMemoryUsage();
      const { memory_used_size: used } = this.vm.dump(usage) as { memory_used_size?: number };
      usage.dispose();
      return typeof used !== 'number' || used > this.memoryBytes * 0.8;
    } catch {
      return true;
    }
  }
}

function describeThrown(thrown: unknown): { name: string; message: string } {
  if (thrown && typeof thrown === 'object' && 'message' in thrown) {
    const { name, message } = thrown as { name?: unknown; message?: unknown };
    return { name: typeof name === 'string' ? name : 'Error', message: String(message) };
  }
  const text = JSON.stringify(thrown) ?? String(thrown);
  return { name: '', message: `the kernel threw ${text.length > 200 ? `${text.slice(0, 200)}…` : text}` };
}

let active: GuestRun | null = null;

function startRun(message: RunMessage): void {
  if (active) {
    send({ type: 'done', runId: message.runId, outcome: { ok: false, code: 'SandboxFailure', message: 'the worker was given a run while busy' }, recycle: true });
    return;
  }
  let run: GuestRun | null = null;
  try {
    run = new GuestRun(message);
    active = run;
    run.start();
  } catch (error) {
    const failure = engineFailure(error);
    if (run) run.fail(failure);
    else send({ type: 'done', runId: message.runId, outcome: { ok: false, ...failure }, recycle: true });
  }
}

/** An exception from the engine itself (not the guest): the bounded memory ran out, or worse. */
function engineFailure(error: unknown): Failure {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (/out of memory|memory access out of bounds|Cannot enlarge memory/i.test(text)) {
    return { code: 'MemoryLimit', message: `the kernel exhausted the sandbox's memory of ${formatBytes(wasmMemoryBytes)} (${text})` };
  }
  return { code: 'SandboxFailure', message: `the sandbox engine failed: ${text}` };
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'run') return startRun(message);
  const run = active;
  if (!run || run.runId !== message.runId) return;
  try {
    run.answer(message);
  } catch (error) {
    run.fail(engineFailure(error));
  }
});

send({ type: 'ready' });
