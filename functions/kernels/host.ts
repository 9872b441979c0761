import { LogLineError, ValidationError } from '../commons/errors.ts';
import { checkSpan, isUuid, spanFromRow, type JsonValue, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../ledger/span.ts';
import type { CoreKernelName } from './ids.ts';
import { append, checkInput, sandboxAt, type RunScope } from './run-scope.ts';
import type { HostFunctions } from './sandbox/types.ts';
import { runKernelSql } from './sql-guard.ts';

/** How deep core kernels may nest runs (run_code → function; policy_agent → run_code → function). */
export const MAX_DEPTH = 3;

/**
 * A policy's on(span) gets a quarter of the manifest's run limit (2.5 s of the default 10 s): enough
 * for a loaded machine, while one runaway policy cannot use up the policy_agent pass around it.
 */
export const policyTimeoutMs = (runTimeoutMs: number): number => Math.max(1, Math.floor(runTimeoutMs / 4));

/** A nested run through the executor, in the same transaction (runFunction). */
export type RunNested = (id: string, input: JsonValue, options: { requestId?: string; force: boolean }, depth: number) => Promise<{
  readonly status: string;
  readonly execution: Span | null;
  readonly output: JsonValue;
  readonly error: { readonly code: string; readonly message: string } | null;
}>;

/**
 * The capabilities of one run, each `ctx.<name>` in the guest. Every kernel gets sql and insertSpan,
 * both on the caller's transaction; only the core kernels (by id, owned by the system, signed by this
 * deployment) get runFunction, evaluatePolicy or invokeModel, and those act as the caller too.
 * Calls that touch the transaction go through `serial`, one at a time.
 */
export function hostFunctions(scope: RunScope, kernel: Span, core: CoreKernelName | undefined, depth: number, serial: <T>(fn: () => Promise<T>) => Promise<T>, runNested: RunNested): HostFunctions {
  const { tx } = scope;
  const name = kernel.name ?? kernel.id;
  const host: Record<string, HostFunctions[string]> = {
    sql: (text, params) => serial(() => runKernelSql(tx, text, params, scope.manifest?.timeoutMs ?? 10_000) as Promise<JsonValue>),
    insertSpan: (span) =>
      serial(async () => {
        if (typeof span !== 'object' || span === null || Array.isArray(span)) throw new ValidationError('span', span, 'must be an object', 'Pass ctx.insertSpan({ entityType, did, this, … }).');
        await tx.query('savepoint kernel_insert');
        try {
          const stored = await append(scope, { who: `kernel:${name}`, ...(span as Record<string, unknown>) });
          await tx.query('release savepoint kernel_insert');
          return JSON.parse(JSON.stringify(stored)) as JsonValue;
        } catch (error) {
          await tx.query('rollback to savepoint kernel_insert');
          await tx.query('release savepoint kernel_insert');
          throw error;
        }
      }),
  };
  if (core === 'run_code' || core === 'request_worker' || core === 'policy_agent') {
    host.runFunction = (id, input, opts) =>
      serial(async () => {
        if (depth + 1 >= MAX_DEPTH) throw new LogLineError('KernelDepth', `runFunction nests at most ${MAX_DEPTH} runs deep`);
        const options = (opts ?? {}) as { requestId?: unknown };
        const requestId = typeof options.requestId === 'string' && isUuid(options.requestId) ? options.requestId : undefined;
        const force = requestId ? await forcedRequest(scope, requestId, String(id).toLowerCase()) : false;
        const outcome = await runNested(String(id).toLowerCase(), checkInput(input), { ...(requestId ? { requestId } : {}), force }, depth + 1);
        return {
          status: outcome.status,
          executionId: outcome.execution?.id ?? null,
          output: outcome.output,
          error: outcome.error,
        } as unknown as JsonValue;
      });
  }
  if (core === 'policy_agent') {
    host.evaluatePolicy = async (code, span) => {
      if (typeof code !== 'string' || code.trim() === '') throw new Error('the policy has no code; a policy span carries `function on(span) { … }` in its code');
      const result = await sandboxAt(scope.services, depth + 1).run({
        code: `${code}\n;globalThis.default = async function main(ctx) { if (typeof on !== 'function') throw new Error('the policy defines no on(span) function'); return (await on(ctx.input)) ?? null; };`,
        input: span,
        env: { user: scope.caller.userId, tenant: scope.caller.tenantId },
        host: {},
        limits: { timeoutMs: policyTimeoutMs(scope.manifest?.timeoutMs ?? 10_000), maxHostCalls: 0 },
      });
      if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
      return result.output;
    };
  }
  if (core === 'provider_exec') {
    host.invokeModel = async (request) => {
      const models = scope.services.models;
      if (!models) throw new LogLineError('ModelUnavailable', 'no model provider is configured for kernels');
      const r = (request ?? {}) as { modelId?: unknown; system?: unknown; messages?: unknown; maxTokens?: unknown; temperature?: unknown };
      if (typeof r.modelId !== 'string' || !Array.isArray(r.messages)) throw new ValidationError('request', request, 'needs modelId and messages', 'Pass { modelId, system, messages: [{ role, text }] }.');
      const started = performance.now();
      const answer = await models.complete({
        modelId: r.modelId,
        system: typeof r.system === 'string' ? r.system : '',
        messages: r.messages as { role: 'user' | 'assistant'; text: string }[],
        ...(typeof r.maxTokens === 'number' ? { maxTokens: r.maxTokens } : {}),
        ...(typeof r.temperature === 'number' ? { temperature: r.temperature } : {}),
        // The call ends with the run: a kernel that timed out leaves no model call running.
        signal: AbortSignal.timeout(scope.manifest?.timeoutMs ?? 10_000),
      });
      return { ...answer, provider: models.name, latencyMs: Math.round(performance.now() - started) } as unknown as JsonValue;
    };
  }
  return host;
}

/**
 * A request for `target` passes the quota when its first version carries metadata.force and a valid
 * signature by the manifest's override key, and only for its first completed run: the executor
 * refuses the override again once any version of the request is complete or error.
 */
async function forcedRequest(scope: RunScope, requestId: string, target: string): Promise<boolean> {
  const override = scope.manifest?.overridePubkeyHex;
  if (!override) return false;
  // The version the client signed is the first one; later versions are the worker's.
  const [row] = await scope.tx.query(`select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = $1 and r.seq = 0`, [requestId]);
  if (!row) return false;
  const original = spanFromRow(row);
  const force = (original.metadata as { force?: unknown } | null)?.force === true;
  return force && original.parentId === target && original.publicKey === override && original.signature !== null && checkSpan(original).ok;
}
