import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { entryKey } from '../../functions/memory/cache.ts';
import { openIssuer } from '../../local/issuer.ts';
import { createLocalServer, type LocalServer } from '../../local/server.ts';
import { backend, openTestLedger, type TestLedger } from '../support/ledger.ts';
import { scale } from './scale.ts';

/** Start-ups of real processes on a loaded 2-core CI machine can take tens of seconds each; the size stays bounded. */
const LOADED_MACHINE_TIMEOUT_MS = scale(300_000, 1_200_000);
import { graphql, type GraphqlAnswer } from './support/processes.ts';
import { startRedisProcess, type RedisProcess } from './support/processes-redis.ts';

/*
 * Redis (memory's cache and session index) killed and started again while the API serves memory.
 * The server under test is the local AppSync on this file's database, with REDIS_URL pointing at a
 * redis-server of this test's own (support/processes-redis.ts); the clients only use the API.
 * - While Redis is down, every memory read, search, write and forget answers from the database:
 *   no error reaches a caller and nothing waits on Redis.
 * - After it returns, nothing forgotten or outdated during the outage is served, and the cache is
 *   used again.
 * - When Redis returns with OLDER data (restarted from a snapshot, or a replica promoted that missed
 *   the last writes), entries stamped before a forget are back in Redis, yet never served.
 */

/** Memories per round, and rounds of kill and restart. */
const MEMORIES = scale(6, 60);
const ROUNDS = scale(1, 4);
/** Generous: an answer while Redis is down must come in this time, where a hang would wait out retries. */
const FAST_MS = 10_000;

const suffix = randomBytes(3).toString('hex');
const tenant = `acme-${suffix}`;
const alice = { userId: `alice-${suffix}`, tenantId: tenant };
const bob = { userId: `bob-${suffix}`, tenantId: tenant };

const MEMORY_FIELDS = 'id seq status content';
const REMEMBER = `mutation R($input: MemoryInput!) { upsertMemory(input: $input) { ${MEMORY_FIELDS} } }`;
const FORGET = `mutation F($id: ID!) { forgetMemory(id: $id) { ${MEMORY_FIELDS} } }`;
const READ = `query M($id: ID!) { memory(id: $id) { ${MEMORY_FIELDS} } }`;
const SESSION = `query S($s: String!) { sessionMemories(sessionId: $s) { ${MEMORY_FIELDS} } }`;
const SEARCH = 'query Q($q: String!) { searchMemories(query: $q, topK: 50) { spanId } }';

interface MemoryAnswer {
  readonly id: string;
  readonly seq: number;
  readonly status: string;
  readonly content: string | null;
}

let redis: RedisProcess | undefined;
let ledger: TestLedger | undefined;
let server: LocalServer | undefined;
let url = '';
let dir = '';
const tokens: Record<string, string> = {};
/** Answers timed while Redis was down. */
const duringOutage: { ms: number; errors: number }[] = [];
let timing = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loglineos-redis-outage-'));
  redis = await startRedisProcess();
  ledger = await openTestLedger();
  const issuer = await openIssuer(join(dir, 'issuer.json'));
  // Generous command timeout: on a loaded CI machine (PGlite holds the event loop while it queries)
  // the 300 ms default turns slow commands into cache misses, and the cache checks below need hits.
  const env: NodeJS.ProcessEnv = { LOGLINEOS_DATA_DIR: dir, MEMORY_EMBEDDINGS: 'local', REDIS_URL: redis.url, MEMORY_REDIS_COMMAND_TIMEOUT_MS: '5000', MEMORY_REDIS_READY_TIMEOUT_MS: '10000' };
  server = await createLocalServer({ ledger, apiKey: 'da2-reliability', issuer, env, fanoutWorkers: 0 });
  url = await server.listen(0);
  tokens.alice = await issuer.issue({ user: alice.userId, tenant });
  tokens.bob = await issuer.issue({ user: bob.userId, tenant });
});

afterAll(async () => {
  await server?.close();
  await ledger?.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request as `who`; fails the test on any error (while Redis is down, callers must see none). */
async function call(who: 'alice' | 'bob', query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const started = performance.now();
  const answer: GraphqlAnswer = await graphql(url, tokens[who]!, query, variables, 60_000, { 'x-logline-memory': 'on' });
  if (timing) duringOutage.push({ ms: performance.now() - started, errors: answer.errors?.length ?? 0 });
  expect(answer.errors, `${query} ${JSON.stringify(variables)}`).toBeUndefined();
  return answer.data!;
}

const remember = async (text: string, extra: Record<string, unknown> = {}) =>
  (await call('alice', REMEMBER, { input: { content: JSON.stringify(`${text} ${suffix}`), visibility: 'tenant', ...extra } })).upsertMemory as MemoryAnswer;
const read = async (who: 'alice' | 'bob', id: string) => (await call(who, READ, { id })).memory as MemoryAnswer | null;
const textOf = (memory: MemoryAnswer | null) => (memory?.content ? (JSON.parse(memory.content) as string) : null);
const cachedFor = async (who: typeof alice, id: string) => (await redis!.client.exists(entryKey(who, `m:${id}`))) === 1;

/** Waits until the server uses Redis again (its reads are cached), reading a memory kept for that. */
async function untilCacheUsedAgain(probe: string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    await read('bob', probe);
    if (await cachedFor(bob, probe).catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server did not use Redis again within 30 s of its return');
}

describe(`Redis outage and return (${backend})`, () => {
  test(`${ROUNDS} round(s) of kill -9 and an empty restart with ${MEMORIES} cached memories: answers from the database meanwhile, nothing stale after`, async () => {
    const probe = await remember('probe memory');
    const figures = { rounds: ROUNDS, memories: 0, requestsWhileDown: 0, errorsWhileDown: 0, slowestWhileDownMs: 0, staleServed: 0 };
    for (let round = 0; round < ROUNDS; round += 1) {
      // Prepare: memories bob has read (so cached under his key) and a session index alice has read.
      const session = `outage-${round}-${suffix}`;
      const memories = [];
      for (let i = 0; i < MEMORIES; i += 1) memories.push(await remember(`round ${round} fact ${i} v1`));
      const before = await remember(`round ${round} session note one`, { layer: 'session', sessionId: session, visibility: 'private' });
      for (const memory of memories) expect(textOf(await read('bob', memory.id))).toBe(`round ${round} fact ${memories.indexOf(memory)} v1 ${suffix}`);
      expect(((await call('alice', SESSION, { s: session })).sessionMemories as MemoryAnswer[]).map((m) => m.id)).toEqual([before.id]);
      expect(await cachedFor(bob, memories[0]!.id)).toBe(true);

      // Act: Redis dies; alice forgets half of the memories, rewrites the others, adds to her session.
      await redis!.kill9();
      timing = true;
      const forgotten = memories.filter((_, i) => i % 2 === 0);
      const rewritten = memories.filter((_, i) => i % 2 === 1);
      for (const memory of forgotten) expect(((await call('alice', FORGET, { id: memory.id })).forgetMemory as MemoryAnswer).status).toBe('forgotten');
      for (const memory of rewritten) await remember(`round ${round} fact ${memories.indexOf(memory)} v2`, { id: memory.id });
      const after = await remember(`round ${round} session note two`, { layer: 'session', sessionId: session, visibility: 'private' });
      // and every read meanwhile answers, from the database
      for (const memory of forgotten) expect(await read('bob', memory.id)).toBeNull();
      for (const memory of rewritten) expect(textOf(await read('bob', memory.id))).toBe(`round ${round} fact ${memories.indexOf(memory)} v2 ${suffix}`);
      expect(((await call('alice', SESSION, { s: session })).sessionMemories as MemoryAnswer[]).map((m) => m.id).sort()).toEqual([before.id, after.id].sort());
      const hits = ((await call('bob', SEARCH, { q: `round ${round} fact` })).searchMemories as { spanId: string }[]).map((hit) => hit.spanId);
      expect(hits.filter((id) => forgotten.some((m) => m.id === id))).toEqual([]);
      timing = false;

      // Assess: Redis is back (empty); nothing stale is served, and the cache is used again.
      await redis!.start();
      await untilCacheUsedAgain(probe.id);
      for (const memory of forgotten) {
        const seen = await read('bob', memory.id);
        if (seen !== null) figures.staleServed += 1;
        expect(seen).toBeNull();
      }
      for (const memory of rewritten) {
        const text = textOf(await read('bob', memory.id));
        if (!text?.includes(' v2 ')) figures.staleServed += 1;
        expect(text).toBe(`round ${round} fact ${memories.indexOf(memory)} v2 ${suffix}`);
        expect(await cachedFor(bob, memory.id)).toBe(true);
      }
      expect(((await call('alice', SESSION, { s: session })).sessionMemories as MemoryAnswer[]).map((m) => m.id).sort()).toEqual([before.id, after.id].sort());
      figures.memories += memories.length;
    }
    figures.requestsWhileDown = duringOutage.length;
    figures.errorsWhileDown = duringOutage.reduce((sum, answer) => sum + answer.errors, 0);
    figures.slowestWhileDownMs = Math.round(Math.max(...duringOutage.map((answer) => answer.ms)));
    expect(figures.errorsWhileDown).toBe(0);
    expect(figures.slowestWhileDownMs).toBeLessThan(FAST_MS);
    console.log(JSON.stringify({ test: 'redis-outage', backend, ...figures }));
  }, LOADED_MACHINE_TIMEOUT_MS);

  test('Redis back with older data (a snapshot from before a forget and an update): the stale entries are in Redis, and never served', async () => {
    // Prepare: bob has read two of alice's memories (cached); Redis is snapshotted with those entries.
    const forgotten = await remember('the door code is 1234');
    const updated = await remember('the wifi password is v1');
    const probe = await remember('snapshot probe');
    expect(textOf(await read('bob', forgotten.id))).toBe(`the door code is 1234 ${suffix}`);
    expect(textOf(await read('bob', updated.id))).toBe(`the wifi password is v1 ${suffix}`);
    expect(await cachedFor(bob, forgotten.id)).toBe(true);
    await redis!.snapshot();
    // and after the snapshot, alice forgets one and rewrites the other (Redis is up: epochs bumped)
    await call('alice', FORGET, { id: forgotten.id });
    await remember('the wifi password is v2', { id: updated.id });
    expect(await read('bob', forgotten.id)).toBeNull();

    // Act: Redis dies and comes back from the snapshot (what a failover to a lagging replica also does).
    await redis!.kill9();
    await redis!.start();
    expect(await cachedFor(bob, forgotten.id)).toBe(true); // the entry from before the forget is back
    await untilCacheUsedAgain(probe.id);

    // Assess: neither the forgotten memory nor the old version is served.
    expect(await read('bob', forgotten.id)).toBeNull();
    expect(textOf(await read('bob', updated.id))).toBe(`the wifi password is v2 ${suffix}`);
  }, LOADED_MACHINE_TIMEOUT_MS);
});
