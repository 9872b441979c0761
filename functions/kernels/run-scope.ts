import type { Identity, Queryable } from '../commons/db/index.ts';
import { API_ROLE, LEDGER_ROLE } from '../commons/db/database.ts';
import { ValidationError } from '../commons/errors.ts';
import type { SpanPublisher } from '../commons/publisher.ts';
import { appendSpanInSession, type JsonValue, type Ledger, type Span } from '../ledger/index.ts';
import type { ModelProvider } from '../models/index.ts';
import type { Manifest } from './manifest.ts';
import type { Sandbox } from './sandbox/types.ts';

/** What the executor needs; built once per data source (the sandbox pool is warm). */
export interface KernelServices {
  readonly ledger: Ledger;
  readonly publisher: SpanPublisher;
  readonly sandbox: Sandbox;
  /**
   * The pool for runs nested `depth` (≥ 1) deep (runFunction, evaluatePolicy). A run waiting for its
   * nested run holds its worker, so nested runs never queue behind top-level runs in the same pool.
   */
  readonly nestedSandbox?: (depth: number) => Sandbox;
  readonly models?: ModelProvider & { readonly defaultModelId?: string };
}

/** One top-level run: the caller, its transaction, everything written (published after commit). */
export interface RunScope {
  readonly services: KernelServices;
  readonly caller: Identity;
  readonly tx: Queryable;
  readonly traceId: string;
  readonly written: Span[];
  /**
   * An app token's scopes, or null for a signed-in user. Every run of the scope is checked against
   * them, the nested runs of run_code, request_worker and policy_agent included.
   */
  readonly scopes: readonly string[] | null;
  manifest?: Manifest;
}

export const MAX_INPUT_BYTES = 64 * 1024;

/** Appends as the caller in the run's transaction; the span is published once the run commits. */
export async function append(scope: RunScope, span: Record<string, unknown>): Promise<Span> {
  const stored = await appendSpanInSession(scope.tx, scope.caller, { traceId: scope.traceId, ...span }, scope.services.ledger.signer);
  scope.written.push(stored);
  return stored;
}

/** Reads as the ledger role inside the caller's transaction (device keys the caller cannot read), then switches back. */
export async function asLedger<T>(tx: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  await tx.query("select set_config('role', $1, true)", [LEDGER_ROLE]);
  try {
    return await fn(tx);
  } finally {
    await tx.query("select set_config('role', $1, true)", [API_ROLE]);
  }
}

export function checkInput(input: unknown): JsonValue {
  if (input === undefined) return null;
  const text = JSON.stringify(input);
  if (text === undefined) throw new ValidationError('input', input, 'is not JSON', 'Send the input as AWSJSON.');
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
    throw new ValidationError('input', `${Buffer.byteLength(text)} bytes`, `is larger than the ${MAX_INPUT_BYTES}-byte limit of a kernel's input`, 'Store large data as spans and pass their ids.');
  }
  return JSON.parse(text) as JsonValue;
}

export const sandboxAt = (services: KernelServices, depth: number): Sandbox => (depth === 0 ? services.sandbox : services.nestedSandbox?.(depth) ?? services.sandbox);
