import { randomUUID } from 'node:crypto';
import type { Identity, Queryable } from '../commons/db/index.ts';
import { asDatabaseFailure } from '../commons/db/database.ts';
import { ForbiddenError, LogLineError, ValidationError } from '../commons/errors.ts';
import { publishCommitted } from '../commons/publisher.ts';
import { isUuid, latestVersion, type JsonValue, type Span } from '../ledger/index.ts';
import type { RunResult } from './sandbox/types.ts';
import { KernelError, type KernelRefusal } from './errors.ts';
import { hostFunctions } from './host.ts';
import { coreKernelName, type CoreKernelName } from './ids.ts';
import { checkKernelIntegrity } from './integrity.ts';
import { manifestFromMetadata, readManifest, DEFAULT_MANIFEST_METADATA } from './manifest.ts';
import { append, asLedger, checkInput, sandboxAt, type KernelServices, type RunScope } from './run-scope.ts';
import { countMetric } from '../commons/observability-metrics.ts';
import { requireSignedIn } from '../commons/identity.ts';

export { MAX_INPUT_BYTES, type KernelServices } from './run-scope.ts';

export interface RunOptions {
  /** The stage-0 path: manifest allow-list, trusted signature, boot_event. */
  readonly stage0?: boolean;
  /**
   * The token's scopes when the caller is an app token: it needs `kernel:<name>:invoke` (or admin) for
   * the kernel and for every function a core kernel runs inside it (`name` = the function span's name).
   */
  readonly scopes?: readonly string[] | null;
  /** The request span this run serves (request_worker), recorded on the execution. */
  readonly requestId?: string;
  /** Pass the daily quota: only for a request carrying metadata.force signed by the manifest's override key. */
  readonly force?: boolean;
}

export interface KernelOutcome {
  readonly status: 'complete' | 'error' | 'refused';
  readonly kernel: Span | null;
  readonly execution: Span | null;
  readonly bootEvent: Span | null;
  readonly output: JsonValue;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly traceId: string;
  /** The refusal, thrown to the caller once the spans recording it are committed. */
  readonly refusal: KernelError | null;
}

/** Output cap: the execution span (input + output + the rest) must stay under the ledger's span limit. */
const MAX_OUTPUT_BYTES = 128 * 1024;

/**
 * Runs a kernel as `caller` in ONE database transaction (so its locks are taken and released in one
 * session), then publishes what it wrote. A refusal (not found, not allowed, bad hash or signature,
 * busy, over quota) is thrown as its errorType after the span recording it is committed.
 */
export async function executeKernel(services: KernelServices, caller: Identity | null, kernelId: string, input: unknown, options: RunOptions = {}): Promise<KernelOutcome> {
  caller = requireSignedIn(caller, 'running a kernel');
  if (typeof kernelId !== 'string' || !isUuid(kernelId)) throw new ValidationError('id', kernelId, 'must be a function span id (a UUID)', 'Send the id of a function span you can read.');
  const inputJson = checkInput(input);
  const traceId = randomUUID();
  const written: Span[] = [];
  const outcome = await services.ledger.db.withSession(caller, (tx) => runInSession({ services, caller, tx, traceId, written, scopes: options.scopes ?? null }, kernelId.toLowerCase(), inputJson, options, 0));
  for (const span of written) await publishCommitted(services.publisher, span);
  countMetric(outcome.refusal ? 'KernelRefusals' : 'KernelRuns');
  if (outcome.refusal) throw outcome.refusal;
  return outcome;
}




const refused = (scope: RunScope, kernel: Span | null, bootEvent: Span | null, errorType: KernelRefusal, message: string, info: Record<string, unknown> = {}): KernelOutcome => ({
  status: 'refused',
  kernel,
  execution: null,
  bootEvent,
  output: null,
  error: { code: errorType, message },
  traceId: scope.traceId,
  refusal: new KernelError(errorType, message, { traceId: scope.traceId, ...info }),
});

async function runInSession(scope: RunScope, kernelId: string, input: JsonValue, options: RunOptions, depth: number): Promise<KernelOutcome> {
  const { tx } = scope;
  const current = scope.manifest ?? (await readManifest(tx))?.manifest;
  if (!current && options.stage0) return refused(scope, null, null, 'ManifestMissing', 'no manifest span is in the ledger; apply the seeds (npx loglineos migrate) or publish one');
  const manifest = current ?? manifestFromMetadata(DEFAULT_MANIFEST_METADATA);
  scope.manifest = manifest;

  // Stage-0 refusals are recorded as refused boot events.
  const refuseBoot = async (kernel: Span | null, errorType: KernelRefusal, message: string) => {
    const bootEvent = options.stage0
      ? await append(scope, {
          entityType: 'boot_event', who: 'edge:stage0', did: 'refused', this: kernel?.name ?? kernelId, relatedTo: [kernelId],
          status: 'refused', error: { code: errorType, message }, metadata: { kernel_id: kernelId, kernel_seq: kernel?.seq ?? null, manifest_seq: manifest.seq },
        })
      : null;
    return refused(scope, kernel, bootEvent, errorType, message, { kernelId });
  };

  if (options.stage0 && !manifest.allowedBootIds.includes(kernelId)) {
    return refuseBoot(null, 'KernelNotAllowed', `kernel ${kernelId} is not in the manifest's allowed_boot_ids; an admin must publish a manifest that allows it`);
  }
  const kernel = await latestVersion(tx, kernelId);
  if (!kernel || kernel.entityType !== 'function' || kernel.isDeleted || !kernel.code) {
    return refuseBoot(kernel && kernel.entityType === 'function' ? kernel : null, 'KernelNotFound', `no function span ${kernelId} with code that you can read`);
  }
  const name = kernel.name ?? kernel.id;
  // Checked for nested runs too: kernel:run_code:invoke alone does not open every function to a token.
  if (scope.scopes && !scope.scopes.includes('admin') && !scope.scopes.includes(`kernel:${name}:invoke`)) {
    throw new ForbiddenError(`this token may not run kernel ${JSON.stringify(name)}: it needs the scope kernel:${name}:invoke`, { kernelId, scope: `kernel:${name}:invoke` });
  }
  const integrity = await checkKernelIntegrity((fn) => asLedger(tx, fn), kernel, manifest, scope.services.ledger.signer?.publicKeyHex, options.stage0 === true);
  if (integrity) return refuseBoot(kernel, integrity.errorType, `kernel ${name} (${kernel.id} seq ${kernel.seq}) refused: ${integrity.reason}`);

  // One run of a function per caller's tenant (or tenantless caller) at a time; the lock ends with the transaction.
  const lockScope = scope.caller.tenantId ?? `user:${scope.caller.userId}`;
  const [lock] = await tx.query<{ locked: boolean }>("select pg_try_advisory_xact_lock(hashtextextended('kernels.function:' || $1 || ':' || $2, 0)) as locked", [kernel.id, lockScope]);
  if (!lock?.locked) return refused(scope, kernel, null, 'KernelBusy', `kernel ${name} is already running for your tenant; try again when that run has finished`, { kernelId });

  // The request this run serves may have been served (or cancelled) since the worker read it: by
  // another worker, or by a run earlier in the same pass. Its latest version, read under the
  // function's lock as the ledger role, decides; anything but scheduled is skipped, not run again.
  if (options.requestId !== undefined) {
    const current = await requestStatus(tx, options.requestId);
    if (current !== 'scheduled') {
      return refused(scope, kernel, null, 'RequestNotScheduled', `request ${options.requestId} is no longer scheduled (${current ?? 'not found'}); it was not run again`, { kernelId, requestId: options.requestId });
    }
  }

  const core = isCoreKernel(scope, kernel);
  // An override is good for one run of its request: once any version of the request completed (or
  // failed), a re-scheduled version of it pays the quota like any run. Checked under the function's
  // lock, so two workers cannot both spend it.
  const force = options.force === true && options.requestId !== undefined && !(await requestServedBefore(tx, options.requestId));
  if (!force && !core) {
    // Runs of one tenant queue here until the transaction that counted commits: no two runs can both
    // see room for one more. The wait is bounded, so a tenant's burst cannot hold every connection.
    const waitMs = Math.min(2 * manifest.timeoutMs, 25_000);
    const previous = await waitForQuotaLock(tx, lockScope, waitMs);
    if (previous === null) {
      return refused(scope, kernel, null, 'KernelBusy', `your tenant's runs queue for its daily quota and the queue did not move within ${waitMs} ms; try again shortly`, { kernelId });
    }
    // A new statement, so a new snapshot: it sees every run that committed before the lock was ours.
    const [row] = await tx.query<{ used: number }>("select set_config('lock_timeout', $1, true), ledger.kernel_executions_today() as used", [previous]);
    const used = Number(row?.used ?? 0);
    if (used >= manifest.perTenantDailyExecLimit) {
      const violation = await append(scope, {
        entityType: 'policy_violation', who: 'kernel:run_code', did: 'refused', this: 'daily execution quota', relatedTo: [kernel.id], status: 'refused',
        error: { code: 'QuotaExceeded', message: `${used} of ${manifest.perTenantDailyExecLimit} executions used today (UTC)` },
        metadata: { kernel_id: kernel.id, limit: manifest.perTenantDailyExecLimit, used, request_id: options.requestId ?? null },
      });
      return { ...refused(scope, kernel, null, 'QuotaExceeded', `your tenant has used its ${manifest.perTenantDailyExecLimit} kernel executions for today (UTC); runs resume tomorrow, or ask for a signed override`, { kernelId, violationId: violation.id }) };
    }
  }

  const bootEvent = options.stage0
    ? await append(scope, {
        entityType: 'boot_event', who: 'edge:stage0', did: 'booted', this: name, relatedTo: [kernel.id], status: 'booted',
        metadata: { kernel_id: kernel.id, kernel_seq: kernel.seq, kernel_hash: kernel.currHash, manifest_seq: manifest.seq },
      })
    : null;

  const startedAt = new Date();
  const run = await sandboxed(scope, kernel, input, depth);
  const finishedAt = new Date();
  const error = run.ok ? null : run.error;
  const execution = await append(scope, {
    entityType: 'execution', who: `kernel:${name}`, did: 'executed', this: name, parentId: kernel.id,
    relatedTo: [kernel.id, ...(options.requestId ? [options.requestId] : []), ...(bootEvent ? [bootEvent.id] : [])],
    status: run.ok ? 'complete' : 'error',
    input, output: run.ok ? run.output : null, error,
    durationMs: Math.round(run.durationMs), startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(),
    metadata: { kernel_seq: kernel.seq, kernel_hash: kernel.currHash, host_calls: run.hostCalls, depth, ...(force ? { forced: true } : {}) },
  });
  if (run.durationMs > manifest.slowMs) {
    await append(scope, {
      entityType: 'status_patch', who: 'kernel:run_code', did: 'marked', this: `execution ${execution.id}`, parentId: execution.id, relatedTo: [execution.id, kernel.id],
      status: 'slow', metadata: { duration_ms: Math.round(run.durationMs), slow_ms: manifest.slowMs },
    });
  }
  return { status: run.ok ? 'complete' : 'error', kernel, execution, bootEvent, output: run.ok ? run.output : null, error, traceId: scope.traceId, refusal: null };
}


/**
 * Takes the tenant's quota lock, waiting at most `waitMs`; returns the session's previous lock_timeout
 * (to put back), or null when the wait timed out (the savepoint keeps the transaction usable).
 */
async function waitForQuotaLock(tx: Queryable, key: string, waitMs: number): Promise<string | null> {
  await tx.query('savepoint kernel_quota');
  try {
    const [row] = await tx.query<{ previous: string }>(
      "select current_setting('lock_timeout') as previous, set_config('lock_timeout', $2, true) as waiting, pg_advisory_xact_lock(hashtextextended('kernels.quota:' || $1, 0)) is null as locked",
      [key, `${waitMs}ms`],
    );
    return row?.previous ?? '0';
  } catch (error) {
    if (asDatabaseFailure(error)?.code !== '55P03') throw error;
    await tx.query('rollback to savepoint kernel_quota');
    return null;
  }
}

/** The status of the request's latest version ('deleted' when that version deletes it), read as the ledger role. */
async function requestStatus(tx: Queryable, requestId: string): Promise<string | null> {
  return asLedger(tx, async (ledgerTx) => {
    const [row] = await ledgerTx.query<{ status: string | null; is_deleted: boolean }>(
      "select r.status, r.is_deleted from ledger.universal_registry r where r.id = $1 and r.entity_type = 'request' order by r.seq desc limit 1",
      [requestId],
    );
    if (!row) return null;
    return row.is_deleted ? 'deleted' : (row.status ?? 'no status');
  });
}

/** Whether some version of the request is already complete or error (read as the ledger role: every version counts). */
async function requestServedBefore(tx: Queryable, requestId: string): Promise<boolean> {
  return asLedger(tx, async (ledgerTx) => {
    const rows = await ledgerTx.query("select 1 from ledger.universal_registry r where r.id = $1 and r.entity_type = 'request' and r.status in ('complete', 'error') limit 1", [requestId]);
    return rows.length > 0;
  });
}

/** One of the five core kernels, as seeded: owned by the system and signed by this deployment's key. */
function isCoreKernel(scope: RunScope, kernel: Span): CoreKernelName | undefined {
  const deploymentKey = scope.services.ledger.signer?.publicKeyHex;
  if (!deploymentKey || kernel.publicKey !== deploymentKey || kernel.signature === null || kernel.ownerId !== 'system:loglineos') return undefined;
  return coreKernelName(kernel.id);
}

/**
 * The sandboxed run inside a savepoint: a failed run leaves none of its writes behind (its execution
 * span, written after, records what happened). Host calls are serialised (one transaction) and
 * refused once the run is over.
 */
async function sandboxed(scope: RunScope, kernel: Span, input: JsonValue, depth: number): Promise<RunResult> {
  const { tx } = scope;
  const savepoint = `kernel_run_${depth}`;
  await tx.query(`savepoint ${savepoint}`);
  let open = true;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(() => {
      if (!open) throw new LogLineError('KernelFinished', 'the run is over; host calls after it ended are refused');
      return fn();
    });
    queue = next.catch(() => undefined);
    return next;
  };
  const core = isCoreKernel(scope, kernel);
  const host = hostFunctions(scope, kernel, core, depth, serial, (id, nestedInput, options, nestedDepth) => runInSession(scope, id, nestedInput, options, nestedDepth));
  const writtenBefore = scope.written.length;
  let run: RunResult;
  try {
    run = await sandboxAt(scope.services, depth).run({
      code: kernel.code ?? '',
      input,
      env: { user: scope.caller.userId, tenant: scope.caller.tenantId, kernel_id: kernel.id, trace_id: scope.traceId },
      host,
      limits: { timeoutMs: scope.manifest?.timeoutMs ?? 10_000, maxOutputBytes: MAX_OUTPUT_BYTES },
    });
  } finally {
    open = false;
    await queue; // a host call still on the transaction finishes before the savepoint is touched
  }
  if (run.ok) await tx.query(`release savepoint ${savepoint}`);
  else {
    await tx.query(`rollback to savepoint ${savepoint}`);
    await tx.query(`release savepoint ${savepoint}`);
    scope.written.length = writtenBefore; // what the run wrote is gone: keep it off the timeline
  }
  return run;
}
