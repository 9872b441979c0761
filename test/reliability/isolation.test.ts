import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { settled } from '../support/ledger.ts';
import { seededRandom } from '../support/random.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';
import { apiKeyCaller, appTokenCaller, post, userCaller, type FuzzCaller, type GraphqlAnswer } from './support/fuzz-callers.ts';
import { IsolationOracle, canRead, type Viewer, type Visibility } from './support/isolation-oracle.ts';
import { scale } from './scale.ts';

/*
 * Tenant isolation under a random workload: 3 tenants × 3 users, an app token per tenant and the
 * API key append and read spans (span, spans, timeline), watch the live timeline, remember, read,
 * search and forget memories (through the memory cache), define and build prompts, and run kernels
 * whose ctx.sql reads the ledger as their caller. An oracle (support/isolation-oracle.ts) knows who
 * wrote what; every answer is checked against what its caller may see: nothing more (no leak, also
 * scanned for any other caller's marker word in any field) and, where the API promises it, nothing
 * less. Reproduce with ISOLATION_SEED=<seed>.
 */

const SEED = Number(process.env.ISOLATION_SEED ?? 0x150);
const OPERATIONS = scale(800, 10_000);
const suffix = randomBytes(3).toString('hex');
const TYPES = [0, 1, 2, 3, 4].map((i) => `iso${i}_${suffix}`);
const SESSIONS = ['sess-a', 'sess-b'];
const FAMILIES = [0, 1].map((i) => `isofam${i}-${suffix}`);
const CONSENT = { 'x-logline-memory': 'on' };
const KERNEL_CODE = `globalThis.default = async function main(ctx) {
  const spans = await ctx.sql('select id::text as id, seq from ledger.universal_registry where entity_type = $1 and owner_id = $2', [ctx.input.type, ctx.input.owner]);
  const memories = await ctx.sql('select id::text as id, tsv::text as words from ledger.memory_index where owner_id = $1', [ctx.input.owner]);
  return { spans: spans.map((r) => r.id + ':' + r.seq), memories };
};`;

interface Actor extends FuzzCaller, Viewer {}

const random = seededRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const oracle = new IsolationOracle(suffix);
let t: TestServer;
const users: Actor[] = [];
let tokens: Actor[] = [];
let anonymous: Actor;
const kernels: { id: string; owner: Actor; visibility: Visibility }[] = [];
let lastTxId = '0';

const violations: string[] = [];
const counts = new Map<string, number>();
const violation = (op: string, actor: Actor, problem: string): void => void violations.push(`${op} as ${actor.name}: ${problem}`);

beforeAll(async () => {
  t = await startTestServer({ keepAliveMs: 1000, authorizerCacheSeconds: 600 });
  const admin = await userCaller(t, 'admin', `admin-${suffix}`, `ops-${suffix}`, ['admin']);
  // The default daily quota (100 runs a tenant) would refuse the kernel runs of a full run.
  const quota = await post(t.url, admin, 'mutation { publishManifest(input: { perTenantDailyExecLimit: 1000000 }) { perTenantDailyExecLimit } }', {});
  if (quota.body.errors) throw new Error(`publishManifest: ${JSON.stringify(quota.body.errors)}`);
  for (let tenant = 0; tenant < 3; tenant += 1) {
    for (let user = 0; user < 3; user += 1) {
      const caller = await userCaller(t, `u${tenant}${user}`, `u${tenant}${user}-${suffix}`, `t${tenant}-${suffix}`);
      users.push({ ...caller, userId: caller.userId, tenantId: caller.tenantId });
    }
  }
  // One kernel per tenant: public, tenant and private, each run by anyone to read the ledger as them.
  const visibilities: Visibility[] = ['public', 'tenant', 'private'];
  for (let tenant = 0; tenant < 3; tenant += 1) {
    const owner = users[tenant * 3] as Actor;
    const visibility = visibilities[tenant] as Visibility;
    const defined = await post(t.url, owner, 'mutation($i: KernelInput!) { defineKernel(input: $i) { id } }', { i: { name: `iso_k${tenant}_${suffix}`, code: KERNEL_CODE, visibility } });
    const id = (defined.body.data?.defineKernel as { id: string } | undefined)?.id;
    if (!id) throw new Error(`defineKernel: ${JSON.stringify(defined.body.errors)}`);
    kernels.push({ id, owner, visibility });
  }
  const scopes = ['span.read', 'span.write', 'memory.read', 'memory.write', 'prompt.run', ...[0, 1, 2].map((k) => `kernel:iso_k${k}_${suffix}:invoke`)];
  tokens = await Promise.all(
    [0, 1, 2].map(async (tenant) => {
      const owner = users[tenant * 3 + 1] as Actor;
      const token = await appTokenCaller(t.url, owner, `app-t${tenant}`, scopes);
      return { ...token, userId: owner.userId, tenantId: owner.tenantId };
    }),
  );
  anonymous = { ...apiKeyCaller('da2-test'), userId: null, tenantId: null };
});
afterAll(() => t?.close());

const everyone = () => [...users, ...tokens, anonymous];
const writers = () => [...users, ...tokens];

/** The data of a field, or the errors: a refusal must name an errorType. */
function dataOf<T>(answer: GraphqlAnswer, field: string): T | null {
  return (answer.body.data?.[field] as T | null | undefined) ?? null;
}

function checkAnswer(op: string, actor: Actor, answer: GraphqlAnswer): void {
  counts.set(op, (counts.get(op) ?? 0) + 1);
  if (answer.status >= 500) violation(op, actor, `HTTP ${answer.status}`);
  for (const error of answer.body.errors ?? []) {
    if (!error.errorType || error.errorType === 'InternalError') violation(op, actor, `error ${error.errorType}: ${error.message}`);
  }
  for (const marker of oracle.leakedMarkers(actor, answer.body)) violation(op, actor, `LEAK: the answer carries the marker of ${oracle.carrierOf(marker)}: ${JSON.stringify(answer.body).slice(0, 600)}`);
}

const sameSet = (op: string, actor: Actor, what: string, got: readonly string[], expected: readonly string[]) => {
  const gotSet = new Set(got);
  const expectedSet = new Set(expected);
  const extra = [...gotSet].filter((x) => !expectedSet.has(x));
  const missing = [...expectedSet].filter((x) => !gotSet.has(x));
  if (extra.length > 0) violation(op, actor, `LEAK: ${what} has ${extra.length} it may not see: ${extra.slice(0, 3).join(', ')}`);
  if (missing.length > 0) violation(op, actor, `MISSING: ${what} lacks ${missing.length} it may see: ${missing.slice(0, 3).join(', ')}`);
};

const SPAN_FIELDS = 'id seq ownerId tenantId visibility this txId';

const operations: { name: string; weight: number; run(actor: Actor): Promise<void> }[] = [
  {
    name: 'appendSpan',
    weight: 20,
    async run(actor) {
      const marker = oracle.marker();
      const visibility = pick<Visibility>(['private', 'tenant', 'public']);
      const entityType = pick(TYPES);
      // Now and then a new version of an existing span: its own (a visibility change) or someone else's (refused).
      const previous = oracle.spans.length > 0 && random() < 0.2 ? pick(oracle.spans) : undefined;
      const latest = previous ? Math.max(...oracle.spans.filter((s) => s.id === previous.id).map((s) => s.seq)) : -1;
      const input = { entityType: previous?.entityType ?? entityType, who: 'user', did: 'wrote', this: marker, visibility, ...(previous ? { id: previous.id, seq: latest + 1 } : {}) };
      const answer = await post(t.url, actor, `mutation($i: SpanInput!) { appendSpan(input: $i) { ${SPAN_FIELDS} } }`, { i: input });
      checkAnswer('appendSpan', actor, answer);
      const span = dataOf<{ id: string; seq: number; ownerId: string; tenantId: string | null; visibility: Visibility; txId: string }>(answer, 'appendSpan');
      const mayWrite = actor.userId !== null && (!previous || previous.ownerId === actor.userId);
      if (span && !mayWrite) violation('appendSpan', actor, `wrote version ${span.seq} of ${previous?.id}, owned by ${previous?.ownerId}`);
      if (!span && mayWrite) violation('appendSpan', actor, `refused: ${JSON.stringify(answer.body.errors)}`);
      if (!span) return;
      if (span.ownerId !== actor.userId || span.tenantId !== actor.tenantId) violation('appendSpan', actor, `stored as owner ${span.ownerId} tenant ${span.tenantId}`);
      oracle.addSpan({ id: span.id, seq: span.seq, entityType: input.entityType, ownerId: span.ownerId, tenantId: span.tenantId, visibility: span.visibility, marker });
      lastTxId = span.txId;
    },
  },
  {
    name: 'span',
    weight: 10,
    async run(actor) {
      if (oracle.spans.length === 0) return;
      const { id } = pick(oracle.spans);
      const answer = await post(t.url, actor, `query($id: ID!) { span(id: $id) { ${SPAN_FIELDS} } }`, { id });
      checkAnswer('span', actor, answer);
      const span = dataOf<{ seq: number }>(answer, 'span');
      const expected = oracle.latestReadable(actor, id);
      if ((span?.seq ?? null) !== (expected?.seq ?? null)) violation('span', actor, `span(${id}) gave seq ${span?.seq ?? 'null'}, expected ${expected?.seq ?? 'null'}`);
    },
  },
  ...(['spans', 'timeline'] as const).map((field) => ({
    name: field,
    weight: field === 'spans' ? 8 : 5,
    async run(actor: Actor) {
      const entityType = pick(TYPES);
      const owner = pick(users);
      await settled(t.ledger.db, lastTxId);
      const answer = await post(t.url, actor, `query($f: SpanFilter) { ${field}(filter: $f, first: 500) { edges { node { id seq this } } pageInfo { hasNextPage } } }`, { f: { entityTypes: [entityType], ownerId: owner.userId } });
      checkAnswer(field, actor, answer);
      const page = dataOf<{ edges: { node: { id: string; seq: number } }[]; pageInfo: { hasNextPage: boolean } }>(answer, field);
      if (!page) return violation(field, actor, `no page: ${JSON.stringify(answer.body.errors)}`);
      const got = page.edges.map((edge) => `${edge.node.id}:${edge.node.seq}`);
      sameSet(field, actor, `${field}(${entityType}, ${owner.name})`, got, oracle.readableVersions(actor, entityType, owner.userId as string));
    },
  })),
  {
    name: 'upsertMemory',
    weight: 10,
    async run(actor) {
      const marker = oracle.marker();
      const sensitivity = pick(['internal', 'internal', 'secret'] as const);
      const visibility = pick<Visibility>(['private', 'tenant', 'public']);
      const layer = pick(['session', 'temporary', 'permanent', 'shared']);
      const sessionId = pick(SESSIONS);
      const input = { content: JSON.stringify({ text: `remember ${marker}` }), sensitivity, visibility, layer, sessionId, tags: [suffix] };
      const answer = await post(t.url, actor, 'mutation($i: MemoryInput!) { upsertMemory(input: $i) { id ownerId tenantId visibility sessionId sensitivity } }', { i: input }, CONSENT);
      checkAnswer('upsertMemory', actor, answer);
      const memory = dataOf<{ id: string; ownerId: string; tenantId: string | null; visibility: Visibility; sessionId: string }>(answer, 'upsertMemory');
      if (!memory) {
        // SPEC §5 and docs/memory.md: session memories are private, secret ones never public
        const refusedRightly = actor.userId === null || (sensitivity === 'secret' && visibility === 'public') || (layer === 'session' && visibility !== 'private');
        if (!refusedRightly) violation('upsertMemory', actor, `refused: ${JSON.stringify(answer.body.errors)}`);
        return;
      }
      if (memory.ownerId !== actor.userId) violation('upsertMemory', actor, `stored as owner ${memory.ownerId}`);
      oracle.addMemory({ id: memory.id, ownerId: memory.ownerId, tenantId: memory.tenantId, visibility: memory.visibility, marker, sensitivity, layer, sessionId: memory.sessionId, forgotten: false });
    },
  },
  {
    name: 'memory',
    weight: 8,
    async run(actor) {
      const memory = pickMemory();
      if (!memory) return;
      const answer = await post(t.url, actor, 'query($id: ID!) { memory(id: $id) { id status preview content } }', { id: memory.id });
      checkAnswer('memory', actor, answer);
      const found = dataOf<{ id: string }>(answer, 'memory');
      const readable = actor.userId !== null && canRead(actor, memory) && !memory.forgotten;
      if (found && !readable) violation('memory', actor, `LEAK: memory(${memory.id}) answered (owner ${memory.ownerId}, ${memory.visibility}, forgotten ${memory.forgotten})`);
      if (!found && readable) violation('memory', actor, `MISSING: memory(${memory.id}) is null (owner ${memory.ownerId}, ${memory.visibility})`);
    },
  },
  {
    name: 'searchMemories',
    weight: 6,
    async run(actor) {
      const target = pickMemory();
      if (!target) return;
      // The marker alone: every memory says "remember", and the scope weights may rank a public match of
      // both words under 50 own ones of one word.
      const answer = await post(t.url, actor, 'query($q: String!) { searchMemories(query: $q, topK: 50) { spanId ownerId preview content } }', { q: target.marker });
      checkAnswer('searchMemories', actor, answer);
      const hits = dataOf<{ spanId: string }[]>(answer, 'searchMemories') ?? [];
      for (const hit of hits) {
        const memory = oracle.memories.get(hit.spanId);
        if (memory && (!canRead(actor, memory) || memory.forgotten)) violation('searchMemories', actor, `LEAK: hit ${hit.spanId} (owner ${memory.ownerId}, ${memory.visibility}, forgotten ${memory.forgotten})`);
      }
      // Search finds secret memories by no text, and session memories only in their session (docs/memory.md).
      const findable = actor.userId !== null && canRead(actor, target) && !target.forgotten && target.sensitivity === 'internal' && target.layer !== 'session';
      if (findable && !hits.some((hit) => hit.spanId === target.id)) violation('searchMemories', actor, `MISSING: a search for ${target.marker} did not find ${target.id}`);
    },
  },
  {
    name: 'sessionMemories',
    weight: 5,
    async run(actor) {
      const sessionId = pick(SESSIONS);
      const answer = await post(t.url, actor, 'query($s: String!) { sessionMemories(sessionId: $s) { id ownerId preview content } }', { s: sessionId });
      checkAnswer('sessionMemories', actor, answer);
      if (actor.userId === null) return;
      const got = (dataOf<{ id: string }[]>(answer, 'sessionMemories') ?? []).map((memory) => memory.id);
      const expected = [...oracle.memories.values()].filter((m) => m.ownerId === actor.userId && m.sessionId === sessionId && !m.forgotten).map((m) => m.id);
      sameSet('sessionMemories', actor, `session ${sessionId}`, got, expected);
    },
  },
  {
    name: 'forgetMemory',
    weight: 2,
    async run(actor) {
      const own = [...oracle.memories.values()].filter((m) => m.ownerId === actor.userId && !m.forgotten);
      const memory = own.length > 0 && random() < 0.8 ? pick(own) : pickMemory();
      if (!memory) return;
      const answer = await post(t.url, actor, 'mutation($id: ID!) { forgetMemory(id: $id) { id status } }', { id: memory.id });
      checkAnswer('forgetMemory', actor, answer);
      const forgotten = dataOf<{ status: string }>(answer, 'forgetMemory');
      if (forgotten && memory.ownerId !== actor.userId) violation('forgetMemory', actor, `forgot ${memory.id}, owned by ${memory.ownerId}`);
      if (!forgotten && memory.ownerId === actor.userId) violation('forgetMemory', actor, `refused to forget its own memory: ${JSON.stringify(answer.body.errors)}`);
      if (forgotten && memory.ownerId === actor.userId) memory.forgotten = true;
    },
  },
  {
    name: 'createPromptBlock',
    weight: 5,
    async run(actor) {
      const marker = oracle.marker();
      const visibility = pick<Visibility>(['private', 'tenant', 'public']);
      const tag = `${suffix}-${actor.userId ?? 'nobody'}`;
      const answer = await post(t.url, actor, 'mutation($i: PromptBlockInput!) { createPromptBlock(input: $i) { id ownerId visibility } }', { i: { name: 'iso', text: `Block ${marker} for {{name}}`, priority: 100, tags: [tag], visibility } });
      checkAnswer('createPromptBlock', actor, answer);
      const block = dataOf<{ id: string; ownerId: string; visibility: Visibility }>(answer, 'createPromptBlock');
      if (!block && actor.userId !== null) violation('createPromptBlock', actor, `refused: ${JSON.stringify(answer.body.errors)}`);
      if (block) oracle.addBlock({ id: block.id, ownerId: block.ownerId, tenantId: actor.tenantId, visibility: block.visibility, marker, tag });
    },
  },
  {
    name: 'promptBlocks',
    weight: 4,
    async run(actor) {
      const owner = pick(users);
      const tag = `${suffix}-${owner.userId}`;
      const answer = await post(t.url, actor, 'query($tags: [String!]) { promptBlocks(tags: $tags) { id text } }', { tags: [tag] });
      checkAnswer('promptBlocks', actor, answer);
      if (actor.userId === null) return;
      const got = (dataOf<{ id: string }[]>(answer, 'promptBlocks') ?? []).map((block) => block.id);
      sameSet('promptBlocks', actor, `blocks tagged ${owner.name}`, got, [...oracle.blocks.values()].filter((b) => b.tag === tag && canRead(actor, b)).map((b) => b.id));
    },
  },
  {
    name: 'createPromptVariant',
    weight: 3,
    async run(actor) {
      const blocks = [...oracle.blocks.values()];
      if (blocks.length === 0) return;
      // Any blocks, the caller's or not: a variant may name blocks its builders cannot read.
      const blockIds = [...new Set([pick(blocks).id, pick(blocks).id, pick(blocks).id])];
      const visibility = pick<Visibility>(['private', 'tenant', 'public']);
      const family = pick(FAMILIES);
      const answer = await post(t.url, actor, 'mutation($i: PromptVariantInput!) { createPromptVariant(input: $i) { id ownerId visibility blockIds } }', { i: { family, version: oracle.marker(), blockIds, visibility } });
      checkAnswer('createPromptVariant', actor, answer);
      const variant = dataOf<{ id: string; ownerId: string; visibility: Visibility; blockIds: string[] }>(answer, 'createPromptVariant');
      if (variant) oracle.addVariant({ id: variant.id, ownerId: variant.ownerId, tenantId: actor.tenantId, visibility: variant.visibility, family, blockIds: variant.blockIds });
    },
  },
  {
    name: 'buildPrompt',
    weight: 3,
    async run(actor) {
      const variants = [...oracle.variants.values()];
      if (variants.length === 0) return;
      const variant = pick(variants);
      const answer = await post(t.url, actor, 'mutation($v: ID!) { buildPrompt(variantId: $v, variables: "{\\"name\\":\\"x\\"}") { system blockIds skipped } }', { v: variant.id });
      checkAnswer('buildPrompt', actor, answer);
      const built = dataOf<{ blockIds: string[] }>(answer, 'buildPrompt');
      if (built && !canRead(actor, variant)) violation('buildPrompt', actor, `LEAK: built variant ${variant.id} it may not read`);
      if (!built) {
        if (actor.userId !== null && canRead(actor, variant) && variant.blockIds.some((id) => { const b = oracle.blocks.get(id); return b && canRead(actor, b); })) {
          violation('buildPrompt', actor, `refused a readable variant: ${JSON.stringify(answer.body.errors)}`);
        }
        return;
      }
      const readable = variant.blockIds.filter((id) => { const b = oracle.blocks.get(id); return b !== undefined && canRead(actor, b); });
      sameSet('buildPrompt', actor, `blocks of ${variant.id}`, built.blockIds, readable);
    },
  },
  {
    name: 'promptVariants',
    weight: 2,
    async run(actor) {
      const family = pick(FAMILIES);
      const answer = await post(t.url, actor, 'query($f: String!) { promptVariants(family: $f) { id blockIds } }', { f: family });
      checkAnswer('promptVariants', actor, answer);
      if (actor.userId === null) return;
      const got = (dataOf<{ id: string }[]>(answer, 'promptVariants') ?? []).map((variant) => variant.id);
      sameSet('promptVariants', actor, `variants of ${family}`, got, [...oracle.variants.values()].filter((v) => v.family === family && canRead(actor, v)).map((v) => v.id));
    },
  },
  {
    name: 'runKernel',
    weight: 3,
    async run(actor) {
      const kernel = pick(kernels);
      const owner = pick(users);
      const entityType = pick(TYPES);
      const answer = await post(t.url, actor, 'mutation($id: ID!, $input: AWSJSON) { runKernel(id: $id, input: $input) { status output error } }', { id: kernel.id, input: JSON.stringify({ type: entityType, owner: owner.userId }) });
      checkAnswer('runKernel', actor, answer);
      const run = dataOf<{ status: string; output: string | null; error: string | null }>(answer, 'runKernel');
      const mayRun = actor.userId !== null && canRead(actor, { ownerId: kernel.owner.userId as string, tenantId: kernel.owner.tenantId, visibility: kernel.visibility });
      if (run && !mayRun) violation('runKernel', actor, `ran kernel ${kernel.id} (${kernel.visibility} of ${kernel.owner.name})`);
      if (!run) {
        if (mayRun) violation('runKernel', actor, `refused: ${JSON.stringify(answer.body.errors)}`);
        return;
      }
      if (run.status !== 'complete') return violation('runKernel', actor, `status ${run.status}: ${run.error}`);
      const output = JSON.parse(run.output ?? '{}') as { spans: string[]; memories: { id: string }[] };
      sameSet('runKernel', actor, `ctx.sql spans (${entityType}, ${owner.name})`, output.spans, oracle.readableVersions(actor, entityType, owner.userId as string));
      const memories = [...oracle.memories.values()].filter((m) => m.ownerId === owner.userId && canRead(actor, m) && !m.forgotten).map((m) => m.id);
      sameSet('runKernel', actor, `ctx.sql memory index rows of ${owner.name}`, output.memories.map((m) => m.id), memories);
    },
  },
];

function pickMemory() {
  const memories = [...oracle.memories.values()];
  return memories.length > 0 ? pick(memories) : undefined;
}

function pickOperation() {
  const total = operations.reduce((sum, op) => sum + op.weight, 0);
  let roll = random() * total;
  for (const op of operations) {
    roll -= op.weight;
    if (roll < 0) return op;
  }
  return operations[0] as (typeof operations)[number];
}

describe('tenant isolation under a random workload', () => {
  test(`${OPERATIONS} random operations by 9 users, 3 app tokens and the API key: no caller sees another's data, none misses its own (seed ${SEED})`, async () => {
    // Every caller watches the live timeline of the suite's entity types for the whole run.
    const client = await RealtimeTestClient.open(t.url, { 'x-api-key': 'da2-test' });
    await client.init();
    const host = new URL(t.url).host;
    const subscribers = everyone();
    for (const [index, actor] of subscribers.entries()) {
      client.start(`sub${index}`, 'subscription($types: [String!]) { onTimeline(entityTypes: $types) { id seq span } }', { types: TYPES }, await actor.headers(''), host);
      await client.next((frame) => frame.id === `sub${index}` && frame.type === 'start_ack');
    }

    const started = Date.now();
    const timeByOp = new Map<string, number>();
    for (let i = 0; i < OPERATIONS; i += 1) {
      const op = pickOperation();
      const actor = op.name === 'appendSpan' || op.name.startsWith('create') || op.name === 'upsertMemory' ? (random() < 0.05 ? anonymous : pick(writers())) : pick(everyone());
      const opStarted = Date.now();
      await op.run(actor);
      timeByOp.set(op.name, (timeByOp.get(op.name) ?? 0) + Date.now() - opStarted);
    }
    console.log(`isolation: operations took ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(timeByOp))}`);

    // Live deliveries: each subscriber gets exactly the versions it may read, once each.
    const written = oracle.spans.length;
    const expectedCount = subscribers.map((actor) => oracle.spans.filter((span) => canRead(actor, span)).length);
    // Deliveries follow the commits by a little: wait (bounded) for the counts, then compare contents.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && subscribers.some((_, index) => client.dataFor(`sub${index}`).length < (expectedCount[index] ?? 0)); ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const [index, actor] of subscribers.entries()) {
      const expected = oracle.spans.filter((span) => canRead(actor, span)).map((span) => `${span.id}:${span.seq}`);
      const events = client.dataFor(`sub${index}`).map((frame) => (frame.payload?.data as { onTimeline: { id: string; seq: number; span: string | null } }).onTimeline);
      for (const marker of oracle.leakedMarkers(actor, events)) violation('onTimeline', actor, `LEAK: an event carries the marker of ${oracle.carrierOf(marker)}`);
      const got = events.map((event) => `${event.id}:${event.seq}`);
      if (new Set(got).size !== got.length) violation('onTimeline', actor, `${got.length - new Set(got).size} duplicate deliveries`);
      sameSet('onTimeline', actor, 'live events', got, expected);
      counts.set('onTimeline deliveries', (counts.get('onTimeline deliveries') ?? 0) + got.length);
    }
    client.close();

    console.log(`isolation: ${OPERATIONS} operations, ${written} span versions, ${oracle.memories.size} memories, ${oracle.blocks.size} blocks, ${oracle.variants.size} variants; ${JSON.stringify(Object.fromEntries(counts))}; seed ${SEED}`);
    expect(violations, `ISOLATION_SEED=${SEED}: ${violations.length} violations:\n${violations.slice(0, 60).join('\n')}`).toEqual([]);
    expect(written).toBeGreaterThan(OPERATIONS / 10);
  }, scale(120_000, 3_600_000));
});
