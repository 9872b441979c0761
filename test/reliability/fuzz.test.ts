import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GraphQLField } from 'graphql';
import * as commonErrors from '../../functions/commons/errors.ts';
import { LogLineError } from '../../functions/commons/errors.ts';
import type { KernelRefusal } from '../../functions/kernels/errors.ts';
import { KernelSqlRefused } from '../../functions/kernels/sql-guard.ts';
import { MemoryDisabledError } from '../../functions/memory/validate.ts';
import { listChains, verifyChain } from '../../functions/ledger/index.ts';
import { loadSchema } from '../../local/schema.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';
import { apiKeyCaller, appTokenCaller, iamCaller, iamPrincipal, post, refusedCallers, userCaller, type FuzzCaller, type GraphqlAnswer } from './support/fuzz-callers.ts';
import { ledgerState, rowsSince, type LedgerState } from './support/fuzz-ledger-state.ts';
import { argumentsFor, documentFor, type ValuePools } from './support/fuzz-values.ts';
import { FULL_RUN, scale } from './scale.ts';

/*
 * Schema-aware fuzzing: every query, mutation and subscription of schema/ (found by reading the
 * schema, so a new operation is fuzzed without touching this file), with arguments generated from
 * their GraphQL types by fast-check, as every auth mode. For each case: no HTTP 5xx, every error has
 * an errorType from the stable list below (never InternalError), and a refused request leaves every
 * row count and chain head as it was. Reproduce a run with FUZZ_SEED=<seed>.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 0x15f022);
const CASES_PER_OPERATION_AND_CALLER = scale(1, 12);

// The errorTypes a client may see. The domain's: every LogLineError class errors.ts exports (made
// here from the module itself, so a new class is allowed by adding it there), the domains' own
// subclasses, and the kernel refusals (typed: a new KernelRefusal fails to compile here until listed).
const KERNEL_REFUSALS = {
  KernelNotFound: true,
  KernelNotAllowed: true,
  KernelHashMismatch: true,
  KernelSignatureInvalid: true,
  KernelBusy: true,
  QuotaExceeded: true,
  RequestNotScheduled: true,
  ManifestMissing: true,
} satisfies Record<KernelRefusal, true>;
const COMMON_ERROR_TYPES = (Object.values(commonErrors) as unknown[])
  .filter((value): value is new (...args: string[]) => LogLineError => typeof value === 'function' && value.prototype instanceof LogLineError)
  .map((ErrorClass) => new ErrorClass('field', 'value', 'problem', 'fix').errorType);
const ALLOWED_ERROR_TYPES = new Set([
  ...COMMON_ERROR_TYPES,
  new MemoryDisabledError('off').errorType,
  new KernelSqlRefused('x', 'x').errorType,
  ...Object.keys(KERNEL_REFUSALS),
  // AppSync's own: a field the caller's mode may not use, a request refused before GraphQL (401),
  // a body over 1 MiB.
  'Unauthorized',
  'UnauthorizedException',
  'PayloadTooLargeException',
]);
// What a refusal may still write: the authorizer's rate-limited decision records, and a kernel
// refusal's own record (SPEC §4: a refused boot_event or a policy_violation, then the error).
const REFUSAL_RECORDS = new Set(['auth.decision']);
const KERNEL_REFUSAL_RECORDS = new Set(['boot_event', 'policy_violation']);

const schema = loadSchema();
type Operation = { kind: 'query' | 'mutation' | 'subscription'; field: GraphQLField<unknown, unknown> };
const operations: Operation[] = [
  ...Object.values(schema.getQueryType()?.getFields() ?? {}).map((field) => ({ kind: 'query' as const, field })),
  ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((field) => ({ kind: 'mutation' as const, field })),
  ...Object.values(schema.getSubscriptionType()?.getFields() ?? {}).map((field) => ({ kind: 'subscription' as const, field })),
];

interface Violation {
  readonly case: number;
  readonly operation: string;
  readonly caller: string;
  readonly problem: string;
  readonly variables: string;
}

let t: TestServer;
let callers: FuzzCaller[];
const pools: ValuePools = { ids: ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000003'], cursors: [], tenants: [], users: [], sessions: [], families: [] };
const suffix = randomBytes(3).toString('hex');
const CONSENT = { 'x-logline-memory': 'on', 'x-logline-session': `sess-${suffix}` };

beforeAll(async () => {
  const principal = iamPrincipal();
  t = await startTestServer({ iam: [principal], fanoutWorkers: 0, keepAliveMs: 1000 });
  const alice = await userCaller(t, 'alice', `alice-${suffix}`, `acme-${suffix}`);
  const amy = await userCaller(t, 'amy (reviewer)', `amy-${suffix}`, `acme-${suffix}`, ['reviewer']);
  const gary = await userCaller(t, 'gary', `gary-${suffix}`, `globex-${suffix}`);
  const admin = await userCaller(t, 'admin', `root-${suffix}`, `ops-${suffix}`, ['admin']);
  const app = await appTokenCaller(t.url, alice, 'alice-token');
  callers = [alice, amy, gary, admin, iamCaller(t.url, principal), apiKeyCaller('da2-test'), app];
  pools.tenants.push(`acme-${suffix}`, `globex-${suffix}`, `ops-${suffix}`, 'nobody');
  pools.users.push(`alice-${suffix}`, `gary-${suffix}`, `root-${suffix}`);
  pools.sessions.push(`sess-${suffix}`, 'other-session');
  pools.families.push(`fam-${suffix}`, 'missing-family');
  // Objects of each owner for the fuzzed ids to hit: spans, memories, prompts, a kernel, an app.
  for (const owner of [alice, gary]) {
    const id = (answer: GraphqlAnswer, field: string, key = 'id') => {
      const value = (answer.body.data?.[field] as Record<string, unknown> | undefined)?.[key];
      if (typeof value !== 'string') throw new Error(`seeding ${field} as ${owner.name} failed: ${JSON.stringify(answer.body.errors)}`);
      pools.ids.push(value);
      return value;
    };
    for (const visibility of ['private', 'tenant', 'public']) {
      id(await post(t.url, owner, 'mutation($i: SpanInput!) { appendSpan(input: $i) { id } }', { i: { entityType: 'note', who: 'user', did: 'wrote', this: `fuzz ${visibility}`, visibility } }), 'appendSpan');
    }
    for (const sensitivity of ['internal', 'secret']) {
      id(await post(t.url, owner, 'mutation($i: MemoryInput!) { upsertMemory(input: $i) { id } }', { i: { content: JSON.stringify({ text: `remember ${sensitivity}` }), sensitivity, layer: 'session' } }, CONSENT), 'upsertMemory');
    }
    const block = id(await post(t.url, owner, 'mutation($i: PromptBlockInput!) { createPromptBlock(input: $i) { id } }', { i: { name: 'greeting', text: 'Hello {{name}}', priority: 100 } }), 'createPromptBlock');
    id(await post(t.url, owner, 'mutation($i: PromptVariantInput!) { createPromptVariant(input: $i) { id } }', { i: { family: `fam-${suffix}`, version: owner.name, blockIds: [block] } }), 'createPromptVariant');
    id(await post(t.url, owner, 'mutation($i: KernelInput!) { defineKernel(input: $i) { id } }', { i: { name: `fuzz_${owner.name}`, code: 'globalThis.default = async function main(ctx) { return { input: ctx.input }; }' } }), 'defineKernel');
  }
  const registered = await post(t.url, gary, 'mutation { registerApp(input: { name: "gary-app", scopes: ["span.read"] }) { app { id } token { record { id } } } }', {});
  const registration = registered.body.data?.registerApp as { app: { id: string }; token: { record: { id: string } } };
  pools.ids.push(registration.app.id, registration.token.record.id);
  const timeline = await post(t.url, alice, '{ timeline(first: 20) { edges { cursor } } }', {});
  pools.cursors.push(...(timeline.body.data?.timeline as { edges: { cursor: string }[] }).edges.map((edge) => edge.cursor));
});
afterAll(() => t?.close());

/** Problems with one answer, whatever the case: 5xx, unknown or missing errorTypes. */
function answerProblems(answer: GraphqlAnswer): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`HTTP ${answer.status}`);
  for (const error of answer.body.errors ?? []) {
    if (!error.errorType) problems.push(`an error without errorType: ${error.message}`);
    else if (!ALLOWED_ERROR_TYPES.has(error.errorType)) problems.push(`errorType ${error.errorType}: ${String(error.message).slice(0, 300)}`);
    if (!error.message) problems.push(`${error.errorType} without a message`);
  }
  return problems;
}

/** Work a mutation starts and answers before it ends: wait for its last write so the next case's diff is its own. */
async function settleBackground(field: string, data: Record<string, unknown> | undefined): Promise<void> {
  const result = data?.[field] as { id?: string; runId?: string } | null | undefined;
  const wait = async (sql: string, id: string, limitMs: number) => {
    for (const started = Date.now(); Date.now() - started < limitMs; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const rows = await t.ledger.db.withOwner((tx) => tx.query(sql, [id]));
      if (rows.length > 0) return;
    }
  };
  if (field === 'runPrompt' && result?.runId) await wait("select 1 from ledger.universal_registry where id = $1 and entity_type = 'prompt_run'", result.runId, 20_000);
  if (field === 'scheduleKernel' && result?.id) await wait("select 1 from ledger.universal_registry where id = $1 and status <> 'scheduled'", result.id, 15_000);
}

/** What a refused request wrote beyond what a refusal may write. */
async function partialWrites(before: LedgerState, errorTypes: readonly string[]): Promise<string[]> {
  const kernelRefusal = errorTypes.some((type) => type in KERNEL_REFUSALS);
  const written = (await rowsSince(t.ledger.db, before)).filter((row) => !REFUSAL_RECORDS.has(row.entityType) && !(kernelRefusal && KERNEL_REFUSAL_RECORDS.has(row.entityType)));
  const after = await ledgerState(t.ledger.db);
  const problems = written.map((row) => `wrote a ${row.entityType} span (status ${row.status}) in chain '${row.chainKey}'`);
  if (written.length === 0 && !kernelRefusal) {
    for (const table of ['memory_index']) {
      if (after.counts[table] !== before.counts[table]) problems.push(`${table}: ${before.counts[table]} rows before, ${after.counts[table]} after`);
    }
  }
  return problems;
}

const shown = (variables: unknown) => {
  const text = JSON.stringify(variables);
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} chars)` : text;
};

describe('schema-aware GraphQL fuzzing', () => {
  test('the schema has operations of every kind to fuzz, and the allowed errorTypes come from the code', () => {
    expect(operations.filter((op) => op.kind === 'query').length).toBeGreaterThan(10);
    expect(operations.filter((op) => op.kind === 'mutation').length).toBeGreaterThan(10);
    expect(operations.filter((op) => op.kind === 'subscription').length).toBeGreaterThan(0);
    expect(COMMON_ERROR_TYPES).toEqual(expect.arrayContaining(['ValidationError', 'Forbidden', 'NotFound', 'Conflict', 'SignatureInvalid']));
    expect(ALLOWED_ERROR_TYPES.has('InternalError')).toBe(false);
  });

  test(`every query and mutation, as every auth mode: no 5xx, stable errorTypes, nothing written by a refusal (seed ${SEED})`, async () => {
    const violations: Violation[] = [];
    const refused = refusedCallers();
    let caseNumber = 0;
    const outcomes = new Map<string, number>();
    const httpOperations = operations.filter((op) => op.kind !== 'subscription');
    for (const [opIndex, { kind, field }] of httpOperations.entries()) {
      const query = documentFor(kind, field);
      const samples = fc.sample(fc.tuple(argumentsFor(schema, field.args, pools), fc.constantFrom<Record<string, string>>({}, CONSENT, { 'x-logline-memory': 'session-only' }, { 'x-logline-memory': 'bogus', 'x-logline-session': '\u00e9'.repeat(300) })), {
        seed: SEED + opIndex,
        numRuns: CASES_PER_OPERATION_AND_CALLER * (callers.length + 1),
      });
      for (const [sampleIndex, [variables, extra]] of samples.entries()) {
        caseNumber += 1;
        // every caller in turn, and one caller no mode accepts per round
        const round = sampleIndex % (callers.length + 1);
        const caller = round < callers.length ? (callers[round] as FuzzCaller) : (refused[(opIndex + sampleIndex) % refused.length] as FuzzCaller);
        // Queries are checked for writes in the full run only: two more reads per case in npm test.
        const checkWrites = kind === 'mutation' || FULL_RUN;
        const before = checkWrites ? await ledgerState(t.ledger.db) : null;
        const answer = await post(t.url, caller, query, variables, extra);
        const problems = answerProblems(answer);
        if (caller.mode === 'NONE' && answer.status !== 401) problems.push(`a caller without valid credentials got HTTP ${answer.status}, not 401`);
        const result = answer.body.data?.[field.name];
        const outcome = result === null || result === undefined ? (answer.body.errors?.[0]?.errorType ?? `HTTP ${answer.status}`) : 'answered';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        const errorTypes = (answer.body.errors ?? []).map((error) => error.errorType ?? '');
        if (result === null || result === undefined) {
          if (errorTypes.length === 0 && kind === 'mutation') problems.push('a mutation answered null without an error');
          if (before) problems.push(...(await partialWrites(before, errorTypes)));
        } else if (kind === 'mutation') {
          await settleBackground(field.name, answer.body.data ?? undefined);
        } else if (before) {
          problems.push(...(await partialWrites(before, errorTypes)).map((problem) => `a query ${problem}`));
        }
        for (const problem of problems) violations.push({ case: caseNumber, operation: `${kind === 'query' ? 'Query' : 'Mutation'}.${field.name}`, caller: caller.name, problem, variables: shown(variables) });
      }
    }
    console.log(`fuzz: ${caseNumber} cases over ${httpOperations.length} queries and mutations, ${callers.length} callers + refused credentials, seed ${SEED}; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    const report = violations.slice(0, 30).map((v) => `#${v.case} ${v.operation} as ${v.caller}: ${v.problem}\n    variables ${v.variables}`).join('\n');
    expect(violations, `FUZZ_SEED=${SEED}, ${caseNumber} cases, ${violations.length} violations:\n${report}`).toEqual([]);
  }, scale(120_000, 3_600_000));

  test('every subscription: a fuzzed start is acknowledged or refused with a stable errorType, never an internal error', async () => {
    const subscriptions = operations.filter((op) => op.kind === 'subscription');
    const realtimeCallers = callers.filter((caller) => caller.mode !== 'AWS_IAM');
    const host = new URL(t.url).host;
    const client = await RealtimeTestClient.open(t.url, { 'x-api-key': 'da2-test' });
    await client.init();
    const violations: string[] = [];
    let started = 0;
    for (const [opIndex, { field }] of subscriptions.entries()) {
      const query = documentFor('subscription', field);
      const samples = fc.sample(argumentsFor(schema, field.args, pools), { seed: SEED + 1000 + opIndex, numRuns: CASES_PER_OPERATION_AND_CALLER * realtimeCallers.length * 2 });
      for (const [index, variables] of samples.entries()) {
        const caller = realtimeCallers[index % realtimeCallers.length] as FuzzCaller;
        const id = `s${opIndex}-${index}`;
        started += 1;
        client.start(id, query, variables, await caller.headers(''), host);
        const frame = await client.next((f) => f.id === id && (f.type === 'start_ack' || f.type === 'error'));
        if (frame.type === 'error') {
          for (const error of frame.payload?.errors ?? []) {
            if (!ALLOWED_ERROR_TYPES.has(error.errorType)) violations.push(`Subscription.${field.name} as ${caller.name}: errorType ${error.errorType}: ${error.message} (variables ${shown(variables)})`);
          }
        } else {
          client.send({ id, type: 'stop' });
        }
      }
    }
    client.close();
    expect(violations, `FUZZ_SEED=${SEED}`).toEqual([]);
    expect(started).toBeGreaterThan(0);
  }, scale(60_000, 600_000));

  test('after the fuzz every chain still verifies: no gap, fork or bad link from anything it tried', async () => {
    const chains = await listChains(t.ledger);
    const reports = await Promise.all(chains.map((chain) => verifyChain(t.ledger, chain)));
    expect(reports.filter((report) => !report.ok)).toEqual([]);
    expect(chains.length).toBeGreaterThan(2);
  });
});
