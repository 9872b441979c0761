import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, getSpan } from '../../functions/ledger/index.ts';
import {
  forgetMemory,
  forgetSession,
  getMemory,
  hashEmbedding,
  promoteMemory,
  reapExpiredMemories,
  searchMemories,
  sessionMemories,
  upsertMemory,
} from '../../functions/memory/index.ts';
import { openContent } from '../../functions/memory/content.ts';
import { startReaper } from '../../functions/memory/reaper.ts';
import { backend, openTestLedger, persona, type TestLedger } from '../support/ledger.ts';
import { ON, everythingStored, openTestMemory, type TestMemory } from './support.ts';

/*
 * Finding and forgetting (SPEC §5) on both vector paths: pgvector with HNSW where the server has
 * the extension (embedded PGlite), and the exact fallback (PostgreSQL without pgvector, or forced).
 */

let ledger: TestLedger;
const paths: { name: string; memory: TestMemory }[] = [];
beforeAll(async () => {
  ledger = await openTestLedger();
  paths.push({ name: 'auto', memory: await openTestMemory({}, {}, ledger) });
  paths.push({ name: 'forced exact', memory: await openTestMemory({ MEMORY_VECTOR_SEARCH: 'exact' }, {}, ledger) });
});
afterAll(async () => {
  for (const path of paths) await path.memory.close();
  await ledger.close();
});

test('the vector path follows the server: HNSW on PGlite (pgvector), the exact fallback on PostgreSQL without it', () => {
  expect(paths[0]?.memory.memory.vectorSearch).toBe(backend === 'pglite' ? 'hnsw' : 'exact');
  expect(paths[0]?.memory.memory.embeddingColumn).toBe(backend === 'pglite' ? 'vector' : 'real[]');
  expect(paths[1]?.memory.memory.vectorSearch).toBe('exact');
});

describe.each([0, 1])('search, vector path %i', (index) => {
  const m = () => paths[index]!.memory;

  test('given a memory, when searching words of its text, then it is the first hit (full text)', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m(), alice, { content: 'Alice prefers oolong tea over coffee', tags: ['drinks'] }, ON);
    await upsertMemory(m(), alice, { content: 'The quarterly report is due in March' }, ON);
    const hits = await searchMemories(m(), alice, { query: 'which tea does she prefer' });
    expect(hits[0]).toMatchObject({ spanId: memory.id, scope: 'private', layer: 'temporary', type: 'note', sensitivity: 'internal', preview: 'Alice prefers oolong tea over coffee', content: 'Alice prefers oolong tea over coffee' });
    expect(hits[0]?.score).toBeGreaterThan(0);
    expect(hits[0]?.score).toBeLessThanOrEqual(0.8);
  });

  test('given memories with caller embeddings, when searching by a vector with no shared word, then the nearest is found (vector)', async () => {
    const alice = persona('alice', 'acme');
    const near = hashEmbedding('aurora borealis over tromso', 1536);
    const far = hashEmbedding('tax forms and receipts', 1536);
    const target = await upsertMemory(m(), alice, { content: 'trip idea: the north of Norway', embedding: near }, ON);
    await upsertMemory(m(), alice, { content: 'paperwork for April', embedding: far }, ON);
    const hits = await searchMemories(m(), alice, { query: 'zzzz', embedding: near });
    expect(hits.map((hit) => hit.spanId)).toEqual([target.id]);
  });

  test('filters: layers, types and tags narrow; topK cuts', async () => {
    const alice = persona('alice', 'acme');
    const fact = await upsertMemory(m(), alice, { content: 'kiwi birds cannot fly', type: 'fact', tags: ['birds'] }, ON);
    const plan = await upsertMemory(m(), alice, { content: 'kiwi farm visit next week', type: 'plan', layer: 'permanent' }, ON);
    expect((await searchMemories(m(), alice, { query: 'kiwi', types: ['fact'] })).map((h) => h.spanId)).toEqual([fact.id]);
    expect((await searchMemories(m(), alice, { query: 'kiwi', layers: ['permanent'] })).map((h) => h.spanId)).toEqual([plan.id]);
    expect((await searchMemories(m(), alice, { query: 'kiwi', tags: ['birds'] })).map((h) => h.spanId)).toEqual([fact.id]);
    expect(await searchMemories(m(), alice, { query: 'kiwi', topK: 1 })).toHaveLength(1);
  });

  test('scope cascade: this session first, then own, then the tenant; the same text is returned once', async () => {
    const alice = persona('alice', 'acme');
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    const inSession = await upsertMemory(m(), alice, { content: 'standup moved to 9:30', layer: 'session', sessionId: 'chat-9' }, ON);
    await upsertMemory(m(), alice, { content: 'standup moved to 9:30' }, ON);
    const shared = await upsertMemory(m(), bob, { content: 'standup room is Orion', layer: 'shared' }, ON);
    const hits = await searchMemories(m(), alice, { query: 'standup', sessionId: 'chat-9' });
    expect(hits.map((h) => [h.spanId, h.scope])).toEqual([
      [inSession.id, 'session'],
      [shared.id, 'tenant'],
    ]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    // Another session does not see this session's memories.
    expect((await searchMemories(m(), alice, { query: 'standup', sessionId: 'chat-10' })).map((h) => h.spanId)).not.toContain(inSession.id);
  });

  test('given a forgotten memory, then no search, read or session list returns it, and its old ciphertext cannot be opened', async () => {
    const alice = persona('alice', 'acme');
    const plain = await upsertMemory(m(), alice, { content: 'locker code reminder: blue door', layer: 'session', sessionId: 's-forget' }, ON);
    const secret = await upsertMemory(m(), alice, { content: 'locker code 9911', sensitivity: 'secret', embedSensitive: true, layer: 'session', sessionId: 's-forget' }, ON);
    expect((await sessionMemories(m(), alice, 's-forget')).map((x) => x.id).sort()).toEqual([plain.id, secret.id].sort());
    const forgotten = await forgetMemory(m(), alice, plain.id);
    expect(forgotten).toMatchObject({ status: 'forgotten', content: null });
    expect(await getMemory(m(), alice, plain.id)).toBeNull();
    expect((await sessionMemories(m(), alice, 's-forget')).map((x) => x.id)).toEqual([secret.id]);
    expect(await forgetSession(m(), alice, 's-forget')).toEqual([secret.id]);
    expect(await getMemory(m(), alice, secret.id)).toBeNull();
    expect(await sessionMemories(m(), alice, 's-forget')).toEqual([]);
    const found = await searchMemories(m(), alice, { query: 'locker code blue door', sessionId: 's-forget' });
    expect(found.map((h) => h.spanId)).not.toContain(plain.id);
    expect(found.map((h) => h.spanId)).not.toContain(secret.id);
    // The first version still holds ciphertext (the ledger is append-only), but its key salt is gone.
    const original = await getSpan(m().ledger, alice, secret.id, 0);
    expect(original?.content).toHaveProperty('encrypted');
    expect(await openContent(m().memory.keys, original!, null)).toBeNull();
    const [index] = await m().ledger.db.withOwner((tx) => tx.query<{ n: number }>('select count(*)::int as n from ledger.memory_index where id = any($1::uuid[])', [[plain.id, secret.id]]));
    expect(index?.n).toBe(0);
    const latest = await getSpan(m().ledger, alice, secret.id);
    expect(latest).toMatchObject({ seq: 1, isDeleted: true, content: null, did: 'forgot' });
  });

  test('given an expired memory, then reads and searches skip it, and the reaper redacts it', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m(), alice, { content: 'parking spot 42 until noon', ttlSeconds: 3600 }, ON);
    // A version whose time has passed (the owner may append it directly, as the ledger allows).
    const stored = await getSpan(m().ledger, alice, memory.id);
    const { prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt, ...rest } = stored!;
    void [prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt];
    await appendSpan(m().ledger, alice, { ...rest, seq: 1, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(await getMemory(m(), alice, memory.id)).toBeNull();
    expect((await searchMemories(m(), alice, { query: 'parking spot' })).map((h) => h.spanId)).not.toContain(memory.id);
    expect(await reapExpiredMemories(m())).toBeGreaterThanOrEqual(1);
    expect(await getSpan(m().ledger, alice, memory.id)).toMatchObject({ seq: 2, isDeleted: true, did: 'expired', content: null });
  });
});

test('the in-process reaper forgets expired memories on its interval', async () => {
  const m = paths[0]!.memory;
  const alice = persona('alice', 'acme');
  const memory = await upsertMemory(m, alice, { content: 'temporary door code', ttlSeconds: 60 }, ON);
  const stored = await getSpan(m.ledger, alice, memory.id);
  const { prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt, ...rest } = stored!;
  void [prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt];
  await appendSpan(m.ledger, alice, { ...rest, seq: 1, expiresAt: new Date(Date.now() - 1000).toISOString() });
  const reaper = startReaper(m, 0.05);
  try {
    for (let attempt = 0; attempt < 200 && !(await getSpan(m.ledger, alice, memory.id))?.isDeleted; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  } finally {
    await reaper.stop();
  }
  expect(await getSpan(m.ledger, alice, memory.id)).toMatchObject({ seq: 2, isDeleted: true, did: 'expired' });
});

test('given a reaper pass in progress, stop() resolves only once the pass has finished (so the database can then be closed)', async () => {
  const m = paths[0]!.memory;
  let enter!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // the reaper's first query waits on the gate
  const db = new Proxy(m.ledger.db, {
    get(target, property) {
      if (property === 'withLedger') {
        return async (fn: Parameters<typeof target.withLedger>[0]) => {
          enter();
          await gate;
          return target.withLedger(fn);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const ledger = new Proxy(m.ledger, { get: (target, property) => (property === 'db' ? db : Reflect.get(target, property)) });
  const reaper = startReaper({ ...m, ledger }, 0.01);
  await entered;
  let stopped = false;
  const stopping = reaper.stop().then(() => (stopped = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(stopped).toBe(false);
  release();
  await stopping;
  expect(stopped).toBe(true);
});

describe('promotion', () => {
  const m = () => paths[0]!.memory;
  test('a reviewer makes a tenant memory permanent; the owner group-less cannot; a permanent one is refused', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m(), alice, { content: 'office closes at 6', visibility: 'tenant', ttlSeconds: 3600 }, ON);
    await expect(promoteMemory(m(), alice, memory.id)).rejects.toMatchObject({ errorType: 'Forbidden' });
    const reviewer = { userId: `rev-${alice.userId}`, tenantId: alice.tenantId, groups: ['reviewer'] };
    const promoted = await promoteMemory(m(), reviewer, memory.id);
    expect(promoted).toMatchObject({ layer: 'permanent', ttlSeconds: null, expiresAt: null, ownerId: alice.userId, seq: 1, content: 'office closes at 6' });
    const span = await getSpan(m().ledger, alice, memory.id);
    expect(span).toMatchObject({ who: `user:${reviewer.userId}`, did: 'promoted' });
    await expect(promoteMemory(m(), reviewer, memory.id)).rejects.toMatchObject({ errorType: 'ValidationError' });
  });

  test("a reviewer of another tenant, or of none, cannot promote a memory they can read (another tenant's public one)", async () => {
    // given alice's public temporary memory in acme, readable by everyone
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m(), alice, { content: 'the public roadmap is online', visibility: 'public', ttlSeconds: 3600 }, ON);
    const outsider = { ...persona('gary', 'globex'), groups: ['reviewer'] };
    const tenantless = { userId: `rev-none-${alice.userId}`, tenantId: null, groups: ['admin'] };
    expect((await getMemory(m(), outsider, memory.id))?.content).toBe('the public roadmap is online');
    // when a globex reviewer or a tenant-less admin promotes it, then it is refused and nothing is written
    await expect(promoteMemory(m(), outsider, memory.id)).rejects.toMatchObject({ errorType: 'Forbidden' });
    await expect(promoteMemory(m(), tenantless, memory.id)).rejects.toMatchObject({ errorType: 'Forbidden' });
    expect(await getSpan(m().ledger, alice, memory.id)).toMatchObject({ seq: 0, layer: 'temporary' });
  });
});

test('secret and pii text is never in the full-text index, and never embedded without the opt-in', async () => {
  const m = paths[0]!.memory;
  const alice = persona('alice', 'acme');
  const marker = `dob-${alice.userId}`;
  const memory = await upsertMemory(m, alice, { content: `born 1990-01-01 ${marker}`, sensitivity: 'pii' }, ON);
  const [row] = await m.ledger.db.withOwner((tx) => tx.query<{ tsv: string | null; embedding: unknown }>('select tsv::text as tsv, embedding from ledger.memory_index where id = $1', [memory.id]));
  expect(row).toEqual({ tsv: null, embedding: null });
  expect(await everythingStored(m.ledger.db)).not.toContain(marker);
  expect((await searchMemories(m, alice, { query: marker })).map((h) => h.spanId)).not.toContain(memory.id);
});
