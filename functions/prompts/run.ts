import { randomUUID } from 'node:crypto';
import type { Identity, Queryable } from '../commons/db/index.ts';
import { ConflictError, LogLineError, ValidationError } from '../commons/errors.ts';
import { appendSpan, isUuid, latestVersion, type Ledger } from '../ledger/index.ts';
import type { ModelProvider } from '../models/index.ts';
import { requireCaller } from './blocks.ts';
import { compileFromBlocks, latestVersions } from './build.ts';
import { resolveVariant } from './variants.ts';
import { memoryContext, userMessage, type MemorySearch } from './context.ts';
import { CONTRACT_INSTRUCTIONS, CONTRACT_VERSION, readReply, type PromptAnswer } from './contract.ts';
import { parseVariables } from './placeholders.ts';
import { RunEventStream, type RunEventSink } from './run-events.ts';
import { observeMetric } from '../commons/observability-metrics.ts';
import type { ContextPiece, PromptContext, PromptSettings, RunJob } from './types.ts';

export interface RunPromptInput {
  readonly variantId?: string | null;
  readonly family?: string | null;
  readonly userInput?: string | null;
  readonly variables?: unknown;
  readonly useMemory?: boolean | null;
  /** Let secret and pii memories be context (default false); the answer may then quote them, and the run span says so. */
  readonly includeSensitiveMemory?: boolean | null;
  /** A Bedrock model id, or the id of a `provider` span naming one; the configured model otherwise. */
  readonly model?: string | null;
  /** Pick the run id yourself to subscribe to onPromptRun(runId) before starting the run. */
  readonly runId?: string | null;
  readonly sessionId?: string | null;
  readonly traceId?: string | null;
}

export interface RunStarted {
  readonly runId: string;
  readonly traceId: string;
  readonly variant: string;
  readonly variantId: string;
  readonly compiledHash: string;
  readonly model: string;
  readonly provider: string;
}

export type RunStatus = 'complete' | 'insufficient_evidence' | 'contract_violation' | 'error';

/** What the final event carries and the `prompt_run` span records. */
export interface RunOutcome {
  readonly runId: string;
  readonly status: RunStatus;
  readonly answer: PromptAnswer | null;
  readonly reply: string;
  readonly problems: readonly string[];
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly citations: readonly string[];
  readonly context: readonly { readonly spanId: string; readonly score: number | null; readonly sensitive?: boolean }[];
  readonly model: string;
  readonly provider: string;
  readonly offline: boolean;
  readonly compiledHash: string;
  readonly variant: string;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly traceId: string;
}

const MAX_INPUT_CHARS = 20_000;

/**
 * Accepts a run: resolves the variant (by id, or the family's current winner), builds the system
 * prompt and refuses bad input before anything starts, then hands the run to the runtime's
 * launcher and returns its id at once. The answer streams to onPromptRun(runId).
 */
export async function startRun(context: PromptContext, caller: Identity | null, input: RunPromptInput): Promise<RunStarted> {
  const identity = requireCaller(caller);
  const userInput = input.userInput ?? '';
  if (userInput.trim() === '' || userInput.length > MAX_INPUT_CHARS) {
    throw new ValidationError('input.userInput', input.userInput, `must be 1 to ${MAX_INPUT_CHARS} characters`, 'Send the question or instruction for the model.');
  }
  if (!input.variantId && !input.family) throw new ValidationError('input', input, 'names neither variantId nor family', 'Send variantId, or family to use its current winner.');
  if (input.runId !== undefined && input.runId !== null && !isUuid(input.runId)) {
    throw new ValidationError('input.runId', input.runId, 'must be a UUID', 'Leave runId out, or send a fresh UUID (crypto.randomUUID()).');
  }
  for (const field of ['traceId', 'sessionId'] as const) {
    const value = input[field];
    // checked now: the run span is written only at the end, where a refusal would lose the answer
    if (value !== undefined && value !== null && (value === '' || value.length > 256)) {
      throw new ValidationError(`input.${field}`, value, 'must be 1 to 256 characters', `Send a shorter ${field}, or leave it out.`);
    }
  }
  const variables = parseVariables('input.variables', input.variables);
  const runId = (input.runId ?? randomUUID()).toLowerCase();
  // The run id is checked as the ledger role (every span, not only those the caller can read: an id
  // taken by someone's private span would otherwise lose the answer when the run span is written),
  // alongside the caller's read of the variant and its blocks.
  const [{ variant, compiled, modelId }, taken] = await Promise.all([
    context.ledger.db.withSession(identity, async (tx) => {
      const variant = await resolveVariant(tx, input);
      const latest = await latestVersions(tx, variant.blockIds);
      return { variant, compiled: compileFromBlocks(variant, latest, variables), modelId: await chooseModel(tx, input.model, context.runtime.model.defaultModelId) };
    }),
    context.ledger.db.withLedger(async (tx) => (await tx.query('select 1 from ledger.universal_registry where id = $1 limit 1', [runId])).length > 0),
  ]);
  if (taken) throw new ConflictError(`input.runId ${runId} is already used by a span; send a fresh UUID for every run`, { field: 'input.runId', value: runId, fix: 'Send a fresh UUID (crypto.randomUUID()) for every run.' });
  const job: RunJob = {
    runId,
    identity: { userId: identity.userId, tenantId: identity.tenantId, ...(identity.groups ? { groups: [...identity.groups] } : {}) },
    traceId: input.traceId ?? randomUUID(),
    variant: { id: variant.id, seq: variant.seq, name: variant.name, family: variant.family },
    compiled: { system: compiled.system, hash: compiled.hash, blocks: compiled.blocks },
    variables: compiled.variables,
    userInput,
    useMemory: input.useMemory ?? true,
    ...(input.includeSensitiveMemory ? { includeSensitiveMemory: true } : {}),
    sessionId: input.sessionId ?? null,
    modelId,
    startedAt: new Date().toISOString(),
  };
  await context.runtime.launch(job);
  return { runId, traceId: job.traceId, variant: variant.name, variantId: variant.id, compiledHash: compiled.hash, model: modelId, provider: context.runtime.model.name };
}

/** A model id as given, or read from a `provider` span (its `model` column or content.modelId). */
async function chooseModel(tx: Queryable, model: string | null | undefined, fallback: string): Promise<string> {
  if (!model) return fallback;
  if (isUuid(model)) {
    const span = await latestVersion(tx, model);
    const fromContent = (span?.content as { modelId?: unknown } | null | undefined)?.modelId;
    const id = span?.entityType === 'provider' ? (span.model ?? (typeof fromContent === 'string' ? fromContent : null)) : null;
    if (!id) throw new ValidationError('input.model', model, 'is not a provider span you can read that names a model', 'Send a Bedrock model id, or the id of a provider span with a model.');
    return id;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$/.test(model)) {
    throw new ValidationError('input.model', model, 'is not a model id', 'Send a Bedrock model or inference profile id, e.g. anthropic.claude-3-5-haiku-20241022-v1:0.');
  }
  return model;
}

export interface RunDependencies {
  readonly ledger: Ledger;
  readonly model: ModelProvider;
  readonly events: RunEventSink;
  readonly memory?: MemorySearch | undefined;
  readonly settings: PromptSettings;
  /** Append the prompt_run span (evaluations keep their runs in the eval result instead). */
  readonly record?: boolean;
  /** Fires when the host shuts down: the run is aborted and ends in an error (`ShuttingDown`), recorded and published. */
  readonly shutdown?: AbortSignal;
}

/** Why a run ends when its host closes. */
export const SHUTTING_DOWN = 'the server is shutting down';

/**
 * Runs an accepted job to its end, never throwing and never hanging: context, the model's stream
 * (each text delta to the run's events as it arrives), the reply read against the contract, the
 * `prompt_run` span, then exactly one final event, `result` or `error`.
 */
export async function executeRun(deps: RunDependencies, job: RunJob): Promise<RunOutcome> {
  const { identity } = job;
  const stream = new RunEventStream(deps.events, { runId: job.runId, ownerId: identity.userId, tenantId: identity.tenantId });
  const record = deps.record ?? true;
  const started = performance.now();
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(new LogLineError('Timeout', `the run did not finish within ${deps.settings.runTimeoutMs} ms`)), deps.settings.runTimeoutMs);
  const onShutdown = () => abort.abort(new LogLineError('ShuttingDown', SHUTTING_DOWN));
  if (deps.shutdown?.aborted) onShutdown();
  else deps.shutdown?.addEventListener('abort', onShutdown, { once: true });
  let reply = '';
  let ttftMs: number | null = null;
  let inputTokens = 0;
  let outputTokens = 0;
  let context: readonly ContextPiece[] = [];
  let outcome: RunOutcome;
  const base = () => ({
    runId: job.runId,
    reply,
    context: context.map((piece) => ({ spanId: piece.spanId, score: piece.score, ...(piece.sensitive ? { sensitive: true } : {}) })),
    model: job.modelId,
    provider: deps.model.name,
    offline: deps.model.offline,
    compiledHash: job.compiled.hash,
    variant: job.variant.name,
    latencyMs: Math.round(performance.now() - started),
    ttftMs,
    inputTokens,
    outputTokens,
    traceId: job.traceId,
  });
  try {
    context =
      job.fixedContext ??
      (job.useMemory
        ? await untilAbortedPromise(
            memoryContext(deps.memory, identity, job.userInput, { topK: deps.settings.topK, sessionId: job.sessionId, budget: deps.settings.maxContextTokens, includeSensitive: job.includeSensitiveMemory === true }),
            abort.signal,
          )
        : []);
    const events = deps.model.stream({
      modelId: job.modelId,
      system: `${job.compiled.system}\n\n${CONTRACT_INSTRUCTIONS}`,
      messages: [{ role: 'user', text: userMessage(context, job.userInput) }],
      maxTokens: deps.settings.maxOutputTokens,
      signal: abort.signal,
    });
    for await (const event of untilAborted(events, abort.signal)) {
      if (event.type === 'text') {
        ttftMs ??= Math.round(performance.now() - started);
        reply += event.text;
        stream.chunk(event.text);
      } else {
        inputTokens = event.inputTokens;
        outputTokens = event.outputTokens;
      }
    }
    const read = readReply(reply, new Set(context.map((piece) => piece.spanId)));
    outcome = {
      ...base(),
      status: read.status,
      answer: read.status === 'complete' ? read.answer : null,
      problems: read.status === 'contract_violation' ? read.problems : [],
      error: null,
      citations: read.status === 'complete' ? read.answer.citations : [],
    };
  } catch (error) {
    const failure = abort.signal.aborted && abort.signal.reason instanceof LogLineError ? abort.signal.reason : error;
    outcome = { ...base(), status: 'error', answer: null, problems: [], error: describeFailure(failure), citations: [] };
  } finally {
    clearTimeout(deadline);
    deps.shutdown?.removeEventListener('abort', onShutdown);
  }
  observeMetric('PromptLatency', outcome.latencyMs);
  observeMetric('PromptTokens', outcome.inputTokens + outcome.outputTokens);
  if (record) {
    try {
      await appendSpan(deps.ledger, identity, runSpanInput(job, outcome));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', message: 'recording a prompt run failed', runId: job.runId, error: error instanceof Error ? error.message : String(error) }));
      if (outcome.status !== 'error') outcome = { ...outcome, status: 'error', answer: null, error: { code: 'RecordFailed', message: 'the answer could not be recorded in the ledger; it was not kept' } };
    }
  }
  await stream.finish(outcome.status === 'error' ? 'error' : 'result', finalEvent(outcome));
  return outcome;
}

/** Settles with the promise, or rejects when the signal fires first (a search or embedding call that hangs). */
function untilAbortedPromise<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return fail();
    signal.addEventListener('abort', fail, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', fail);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', fail);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Ends the iteration when the signal fires, even if the provider ignores it. */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  const iterator = source[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    void iterator.return?.()?.catch(() => undefined);
  }
}

function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof Error) return { code: error.name && error.name !== 'Error' ? error.name : 'ModelError', message: error.message };
  return { code: 'ModelError', message: String(error) };
}

/** The final event: the parsed answer and what the span recorded, without the raw reply. */
function finalEvent(outcome: RunOutcome) {
  const { reply, ...rest } = outcome;
  return { ...rest, ...(outcome.status === 'contract_violation' ? { reply: reply.slice(0, 4000) } : {}) };
}

/**
 * The run's span. It names the exact variant and block versions and the variables, which rebuild
 * the system prompt whose hash it records, so a run needs no prompt_build span of its own (one write
 * per run; buildPrompt records builds).
 */
function runSpanInput(job: RunJob, outcome: RunOutcome) {
  return {
    id: job.runId,
    seq: 0,
    entityType: 'prompt_run',
    who: `user:${job.identity.userId}`,
    did: 'ran',
    this: job.variant.name,
    parentId: job.variant.id,
    relatedTo: outcome.citations.some(isUuid) ? outcome.citations.filter(isUuid) : null,
    status: outcome.status,
    visibility: 'private',
    traceId: job.traceId,
    sessionId: job.sessionId,
    model: job.modelId,
    provider: outcome.provider,
    compiledHash: job.compiled.hash,
    variant: job.variant.name,
    promptFamily: job.variant.family,
    confidence: outcome.answer?.confidence ?? null,
    inputTokens: outcome.inputTokens,
    outputTokens: outcome.outputTokens,
    latencyMs: outcome.latencyMs,
    ttftMs: outcome.ttftMs,
    durationMs: outcome.latencyMs,
    startedAt: job.startedAt,
    finishedAt: new Date().toISOString(),
    input: {
      userInput: job.userInput,
      variables: job.variables,
      useMemory: job.useMemory,
      includeSensitiveMemory: job.includeSensitiveMemory === true,
      context: outcome.context,
      variantSeq: job.variant.seq,
      blocks: job.compiled.blocks,
    },
    output: outcome.status === 'error' ? null : { status: outcome.status, answer: outcome.answer, citations: outcome.citations, problems: outcome.problems, reply: outcome.status === 'contract_violation' ? outcome.reply.slice(0, 16_000) : null },
    error: outcome.error,
    metadata: {
      offline: outcome.offline,
      contract: CONTRACT_VERSION,
      ...(outcome.offline ? { label: 'offline: no model was called' } : {}),
      // Opted in: secret/pii memories may have been context, so the answer in this span may quote them.
      ...(job.includeSensitiveMemory ? { includeSensitiveMemory: true, sensitiveContext: outcome.context.filter((piece) => piece.sensitive).map((piece) => piece.spanId) } : {}),
    },
  };
}
