/**
 * What a kernel sees as `ctx` inside the sandbox (SPEC §4). Kernel sources in this folder are
 * type-checked against it; the sandbox builds the real object from the executor's host functions.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A stored span as ctx.insertSpan and ctx.sql return it (camelCase from insertSpan, snake_case from SQL rows). */
export type SpanRecord = { readonly id: string; readonly seq: number; readonly [key: string]: Json | undefined };

/** What runFunction answers: the nested run's execution span and outcome. */
export interface RunSummary {
  readonly status: 'complete' | 'error' | 'refused';
  readonly executionId: string | null;
  readonly output: Json;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface ModelAnswer {
  readonly text: string;
  readonly stopReason: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly modelId: string;
  readonly provider: string;
  readonly offline: boolean;
  readonly latencyMs: number;
}

export interface KernelContext {
  readonly input: Json;
  readonly env: { readonly user: string; readonly tenant: string | null; readonly kernel_id: string; readonly trace_id: string };
  /** One read-only statement on the caller's row-level-secured session. */
  sql<R extends Record<string, Json> = Record<string, Json>>(text: string, params?: Json[]): Promise<R[]>;
  /** Appends a span as the caller (hashed, chained, signed by the deployment). */
  insertSpan(span: Record<string, Json>): Promise<SpanRecord>;
  now(): string;
  readonly crypto: {
    randomUUID(): string;
    blake3(text: string): string;
    hex(text: string): string;
  };
  /** Core kernels only: runs a function span through the executor, as the caller. */
  runFunction?(id: string, input: Json, options?: { force?: boolean; requestId?: string }): Promise<RunSummary>;
  /** policy_agent only: evaluates a policy's `on(span)` in its own sandbox run (no host access). */
  evaluatePolicy?(code: string, span: Json): Promise<Json>;
  /** provider_exec only: one model completion through the deployment's model provider. */
  invokeModel?(request: { modelId: string; system: string; messages: { role: 'user' | 'assistant'; text: string }[]; maxTokens?: number; temperature?: number }): Promise<ModelAnswer>;
}

/** Registers a kernel's entry point the way the sandbox expects it. */
export function defineKernel(main: (ctx: KernelContext) => Promise<Json>): void {
  (globalThis as { default?: unknown }).default = main;
}

/** A host capability the executor grants this kernel, or a clear error when it does not. */
export function capability<K extends 'runFunction' | 'evaluatePolicy' | 'invokeModel'>(ctx: KernelContext, name: K): NonNullable<KernelContext[K]> {
  const fn = ctx[name];
  if (typeof fn !== 'function') throw new Error(`this kernel was not granted ctx.${name}; only the core kernels signed by the deployment get it`);
  return fn as NonNullable<KernelContext[K]>;
}
