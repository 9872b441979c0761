import type { Identity } from '../commons/db/index.ts';
import { LogLineError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { appendSpan, isUuid, latestVersion } from '../ledger/index.ts';
import type { ModelEvent, ModelProvider } from '../models/index.ts';
import { INSUFFICIENT_EVIDENCE } from '../models/index.ts';
import { requireCaller } from './blocks.ts';
import { compilePrompt, type CompiledPrompt } from './build.ts';
import { fitContext } from './context.ts';
import { noSink } from './run-events.ts';
import { executeRun, type RunOutcome } from './run.ts';
import type { ContextPiece, PromptContext, PromptVariant } from './types.ts';
import { resolveVariant } from './variants.ts';
import { randomUUID } from 'node:crypto';

/** Fixtures run at once against the model. */
const EVAL_CONCURRENCY = 4;

export const FIXTURE_TYPES = ['happy', 'ambiguous', 'overlong_context', 'conflicting', 'tool_unavailable'] as const;
export type FixtureType = (typeof FIXTURE_TYPES)[number];

/** One evaluation case. `must_error`: the run must end in an error or "Insufficient evidence." (containing the text, when a string). */
export interface EvalFixture {
  readonly name: string;
  readonly type: FixtureType;
  readonly userInput: string;
  readonly variables?: Readonly<Record<string, string>>;
  readonly context?: readonly { readonly id: string; readonly text: string }[];
  readonly must_contain?: readonly string[];
  readonly must_error?: boolean | string;
}

export interface FixtureResult {
  readonly name: string;
  readonly type: FixtureType;
  readonly passed: boolean;
  readonly status: string;
  readonly reasons: readonly string[];
  readonly text: string | null;
  readonly citations: readonly string[];
}

export interface EvaluationResult {
  readonly id: string;
  readonly variant: PromptVariant;
  readonly evalId: string | null;
  readonly passed: number;
  readonly total: number;
  readonly results: readonly FixtureResult[];
}

const filler = (n: number) => `Archived note ${n}: ${'routine operational detail without bearing on the question. '.repeat(8).trim()}`;

/** The fixtures a variant is evaluated with when no `prompt_eval` span names others: one of each type. */
export const DEFAULT_FIXTURES: readonly EvalFixture[] = [
  { name: 'states a fact from the context', type: 'happy', userInput: 'When are invoices due?', context: [{ id: 'fixture-invoices', text: 'Invoices are due 30 days after they are issued.' }], must_contain: ['30 days'] },
  { name: 'no evidence for a vague question', type: 'ambiguous', userInput: 'And what about the other one?', context: [], must_error: INSUFFICIENT_EVIDENCE },
  {
    name: 'finds the answer in more context than the budget',
    type: 'overlong_context',
    userInput: 'When does the support line open?',
    context: [{ id: 'fixture-hours', text: 'The support line opens at 9:00 on weekdays.' }, ...Array.from({ length: 60 }, (_, i) => ({ id: `fixture-filler-${i}`, text: filler(i) }))],
    must_contain: ['9:00'],
  },
  {
    name: 'reports both sides of conflicting sources',
    type: 'conflicting',
    userInput: 'How long is the refund window?',
    context: [{ id: 'fixture-policy-2024', text: 'The refund window is 14 days.' }, { id: 'fixture-policy-2025', text: 'The refund window is 30 days.' }],
    must_contain: ['14 days', '30 days'],
  },
  { name: 'fails plainly when the model is unavailable', type: 'tool_unavailable', userInput: 'Summarise my open tickets.', context: [{ id: 'fixture-tickets', text: 'Ticket 7 is open.' }], must_error: true },
];

/** A model that is down: how `tool_unavailable` fixtures check that a run ends in a clear error. */
const unavailableModel: ModelProvider = {
  name: 'unavailable',
  offline: true,
  async *stream(): AsyncIterable<ModelEvent> {
    throw Object.assign(new Error('the model is unavailable (evaluation fixture tool_unavailable)'), { name: 'ServiceUnavailableException' });
  },
  complete: () => Promise.reject(Object.assign(new Error('the model is unavailable'), { name: 'ServiceUnavailableException' })),
};

export function parseFixtures(value: unknown): EvalFixture[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 50) {
    throw new ValidationError('fixtures', value, 'must be 1 to 50 fixtures', 'Give the prompt_eval span content {"fixtures": [{name, type, userInput, context, must_contain | must_error}]}.');
  }
  return value.map((raw, index) => {
    const fixture = raw as Partial<EvalFixture> | null;
    const field = `fixtures[${index}]`;
    if (!fixture || typeof fixture.userInput !== 'string' || fixture.userInput === '') throw new ValidationError(`${field}.userInput`, fixture?.userInput, 'must be a non-empty string', 'Give each fixture the question to ask.');
    if (!FIXTURE_TYPES.includes(fixture.type as FixtureType)) throw new ValidationError(`${field}.type`, fixture.type, `must be one of ${FIXTURE_TYPES.join(', ')}`, 'Pick the kind of case the fixture checks.');
    if (fixture.must_contain !== undefined && (!Array.isArray(fixture.must_contain) || fixture.must_contain.some((s) => typeof s !== 'string'))) {
      throw new ValidationError(`${field}.must_contain`, fixture.must_contain, 'must be a list of strings', 'List the texts the answer must contain.');
    }
    if (fixture.must_error !== undefined && typeof fixture.must_error !== 'boolean' && typeof fixture.must_error !== 'string') {
      throw new ValidationError(`${field}.must_error`, fixture.must_error, 'must be true or a text the error must contain', 'Send true, or e.g. "Insufficient evidence.".');
    }
    const context = fixture.context ?? [];
    if (!Array.isArray(context) || context.some((piece) => typeof piece?.id !== 'string' || typeof piece.text !== 'string')) {
      throw new ValidationError(`${field}.context`, fixture.context, 'must be a list of {id, text}', 'Give the context the run should see.');
    }
    return { ...fixture, name: typeof fixture.name === 'string' ? fixture.name : `fixture ${index + 1}`, context } as EvalFixture;
  });
}

/** Whether an outcome meets the fixture's expectations, with the reasons when it does not. */
export function judge(fixture: EvalFixture, outcome: Pick<RunOutcome, 'status' | 'answer' | 'error' | 'citations' | 'problems'>): { passed: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (fixture.must_error !== undefined && fixture.must_error !== false) {
    const failed = outcome.status === 'error' || outcome.status === 'insufficient_evidence';
    const said = outcome.status === 'insufficient_evidence' ? INSUFFICIENT_EVIDENCE : `${outcome.error?.code ?? ''}: ${outcome.error?.message ?? ''}`;
    if (!failed) reasons.push(`expected an error, the run ended ${outcome.status}`);
    else if (typeof fixture.must_error === 'string' && !said.toLowerCase().includes(fixture.must_error.toLowerCase())) reasons.push(`expected an error containing ${JSON.stringify(fixture.must_error)}, got ${JSON.stringify(said)}`);
    return { passed: reasons.length === 0, reasons };
  }
  if (outcome.status !== 'complete') {
    reasons.push(`expected an answer, the run ended ${outcome.status}${outcome.error ? ` (${outcome.error.code}: ${outcome.error.message})` : ''}${outcome.problems.length ? ` (${outcome.problems.join('; ')})` : ''}`);
    return { passed: false, reasons };
  }
  const text = (outcome.answer?.text ?? '').toLowerCase();
  for (const needle of fixture.must_contain ?? []) if (!text.includes(needle.toLowerCase())) reasons.push(`the answer lacks ${JSON.stringify(needle)}`);
  return { passed: reasons.length === 0, reasons };
}

/**
 * Runs a variant against fixtures (those of a `prompt_eval` span, or one default fixture of each
 * type), each as a real run with the fixture's context instead of memory, and records a
 * `prompt_eval_result`. The runs themselves are kept in that span, not as `prompt_run` spans, so
 * evaluations do not sway the bandit.
 */
export async function evaluatePrompt(context: PromptContext, caller: Identity | null, ref: { evalId?: string | null; variantId?: string | null }): Promise<EvaluationResult> {
  const identity = requireCaller(caller);
  if (!ref.evalId && !ref.variantId) throw new ValidationError('evalId', null, 'neither evalId nor variantId was given', 'Send the id of a prompt_eval span, or a variantId to run the default fixtures.');
  const { variant, fixtures } = await context.ledger.db.withSession(identity, async (tx) => {
    let fixtures: EvalFixture[] = [...DEFAULT_FIXTURES];
    let variantId = ref.variantId ?? null;
    if (ref.evalId) {
      const span = isUuid(ref.evalId) ? await latestVersion(tx, ref.evalId) : null;
      if (!span || span.entityType !== 'prompt_eval') throw new NotFoundError(`no prompt_eval span ${JSON.stringify(ref.evalId)} you can read`, { evalId: ref.evalId });
      const content = (span.content ?? {}) as { variantId?: unknown; fixtures?: unknown };
      fixtures = parseFixtures(content.fixtures);
      variantId ??= typeof content.variantId === 'string' ? content.variantId : span.parentId;
      if (!variantId) throw new ValidationError('evalId', ref.evalId, 'names no variant (content.variantId or parentId)', 'Pass variantId, or give the prompt_eval span one.');
    }
    return { variant: await resolveVariant(tx, { variantId }), fixtures };
  });
  // A few fixtures at a time: the whole evaluation answers within the request (AppSync allows 30 s).
  const results: FixtureResult[] = new Array(fixtures.length);
  let nextFixture = 0;
  const worker = async () => {
    for (let index = nextFixture++; index < fixtures.length; index = nextFixture++) {
      const fixture = fixtures[index]!;
      const outcome = await runFixture(context, identity, variant, fixture);
      const verdict = judge(fixture, outcome);
      results[index] = { name: fixture.name, type: fixture.type, passed: verdict.passed, status: outcome.status, reasons: verdict.reasons, text: outcome.answer?.text ?? null, citations: outcome.citations };
    }
  };
  await Promise.all(Array.from({ length: Math.min(EVAL_CONCURRENCY, fixtures.length) }, worker));
  const passed = results.filter((result) => result.passed).length;
  const span = await appendSpan(context.ledger, identity, {
    entityType: 'prompt_eval_result',
    who: `user:${identity.userId}`,
    did: 'evaluated',
    this: variant.name,
    parentId: variant.id,
    relatedTo: ref.evalId && isUuid(ref.evalId) ? [ref.evalId.toLowerCase()] : null,
    variant: variant.name,
    promptFamily: variant.family,
    status: passed === results.length ? 'passed' : 'failed',
    model: context.runtime.model.defaultModelId,
    provider: context.runtime.model.name,
    content: { results },
    metadata: { passed, failed: results.length - passed, total: results.length, offline: context.runtime.model.offline },
    visibility: identity.tenantId ? 'tenant' : 'private',
  });
  return { id: span.id, variant, evalId: ref.evalId ?? null, passed, total: results.length, results };
}

async function runFixture(context: PromptContext, identity: Identity, variant: PromptVariant, fixture: EvalFixture): Promise<RunOutcome | Pick<RunOutcome, 'status' | 'answer' | 'error' | 'citations' | 'problems'>> {
  let compiled: CompiledPrompt;
  try {
    compiled = await context.ledger.db.withSession(identity, (tx) => compilePrompt(tx, variant, fixture.variables ?? {}));
  } catch (error) {
    if (!(error instanceof LogLineError)) throw error;
    return { status: 'error', answer: null, error: { code: error.errorType, message: error.message }, citations: [], problems: [] };
  }
  const pieces: ContextPiece[] = (fixture.context ?? []).map((piece) => ({ spanId: piece.id, text: piece.text, score: null }));
  const { runtime } = context;
  return executeRun(
    { ledger: context.ledger, model: fixture.type === 'tool_unavailable' ? unavailableModel : runtime.model, events: noSink, settings: runtime.settings, record: false },
    {
      runId: randomUUID(),
      identity,
      traceId: randomUUID(),
      variant: { id: variant.id, seq: variant.seq, name: variant.name, family: variant.family },
      compiled: { system: compiled.system, hash: compiled.hash, blocks: compiled.blocks },
      variables: compiled.variables,
      userInput: fixture.userInput,
      useMemory: false,
      sessionId: null,
      modelId: runtime.model.defaultModelId,
      startedAt: new Date().toISOString(),
      fixedContext: fitContext(pieces, runtime.settings.maxContextTokens),
    },
  );
}
