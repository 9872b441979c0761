import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';
import { TEST_REDIS_TIMEOUTS, captureConsole, everythingStored, startTestRedis, type TestRedis } from './support.ts';

/*
 * Memory through the local AppSync as a client calls it: consent and session headers, the
 * two-tenant, two-user, four-sensitivity matrix for reads and search, and no plaintext secret in the
 * database, the cache (Redis when REDIS_URL is set) or the logs.
 */

let t: TestServer;
// The shared Redis when REDIS_URL is set, else one of this file's own, so the cache checks below
// always look at a real cache.
let ownRedis: TestRedis | undefined;
let redisUrl = '';
const suffix = randomBytes(3).toString('hex');
beforeAll(async () => {
  if (!process.env.REDIS_URL) ownRedis = await startTestRedis();
  redisUrl = process.env.REDIS_URL ?? ownRedis!.socket;
  t = await startTestServer({}, (dir) => ({ env: { ...process.env, ...TEST_REDIS_TIMEOUTS, REDIS_URL: redisUrl, LOGLINEOS_DATA_DIR: dir, MEMORY_EMBEDDINGS: 'local' } }));
});
afterAll(async () => {
  await t?.close();
  await ownRedis?.close();
});

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { errorType: string; message: string }[];
}
async function gql(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<Body> {
  const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as Body;
}

const FIELDS = 'id seq ownerId visibility layer type sensitivity sessionId ttlSeconds status encrypted preview content';
const UPSERT = `mutation U($input: MemoryInput!) { upsertMemory(input: $input) { ${FIELDS} } }`;
const READ = `query R($id: ID!) { memory(id: $id) { ${FIELDS} } }`;
const SEARCH = 'query S($q: String!, $k: Int, $s: String) { searchMemories(query: $q, topK: $k, sessionId: $s) { spanId scope score sensitivity preview content } }';

describe('headers', () => {
  test('given no X-LogLine-Memory header, when upserting, then the error is MemoryDisabled', async () => {
    const auth = { authorization: await t.issuer.issue({ user: `h-${suffix}`, tenant: `acme-${suffix}` }) };
    const body = await gql(auth, UPSERT, { input: { content: JSON.stringify('likes tea') } });
    expect(body.errors?.[0]).toMatchObject({ errorType: 'MemoryDisabled' });
  });

  test('given session-only and X-LogLine-Session, then the memory is in that session, and search finds it there first', async () => {
    const auth = { authorization: await t.issuer.issue({ user: `s-${suffix}`, tenant: `acme-${suffix}` }) };
    const headers = { ...auth, 'x-logline-memory': 'session-only', 'x-logline-session': 'chat-77' };
    const body = await gql(headers, UPSERT, { input: { content: JSON.stringify({ text: 'we are planning a picnic' }) } });
    expect(body.errors).toBeUndefined();
    const memory = body.data?.upsertMemory as { id: string; layer: string; sessionId: string; ttlSeconds: number; content: string };
    expect(memory).toMatchObject({ layer: 'session', sessionId: 'chat-77', ttlSeconds: 86_400 });
    expect(JSON.parse(memory.content)).toEqual({ text: 'we are planning a picnic' });
    const found = await gql(headers, SEARCH, { q: 'picnic plans' });
    expect(found.data?.searchMemories).toEqual([expect.objectContaining({ spanId: memory.id, scope: 'session', score: 1 })]);
  });
});

test('the owner receives their memory spans on the timeline subscription', async () => {
  const auth = { Authorization: await t.issuer.issue({ user: `live-${suffix}`, tenant: `acme-${suffix}` }) };
  const host = new URL(t.url).host;
  const client = await RealtimeTestClient.open(t.url, auth);
  try {
    await client.init();
    client.start('mem', 'subscription L($types: [String!]) { onTimeline(entityTypes: $types) { id entityType ownerId } }', { types: ['memory', 'memory_audit'] }, auth, host);
    await client.next((f) => f.type === 'start_ack');
    const body = await gql({ authorization: auth.Authorization, 'x-logline-memory': 'on' }, UPSERT, { input: { content: JSON.stringify('live memory') } });
    const id = (body.data?.upsertMemory as { id: string }).id;
    const event = await client.next((f) => f.type === 'data' && (f.payload?.data as { onTimeline: { id: string } }).onTimeline.id === id);
    expect((event.payload?.data as { onTimeline: unknown }).onTimeline).toEqual({ id, entityType: 'memory', ownerId: `live-${suffix}` });
  } finally {
    client.close();
  }
});

test('API tokens: memory.read may search and read but not write; memory.write may write', async () => {
  const owner = { authorization: await t.issuer.issue({ user: `app-owner-${suffix}`, tenant: `acme-${suffix}` }) };
  const register = 'mutation R($input: AppInput!) { registerApp(input: $input) { token { token } } }';
  const tokenFor = async (scopes: string[]) => {
    const body = await gql(owner, register, { input: { name: `mem-${scopes.join('-')}`, scopes } });
    return (body.data?.registerApp as { token: { token: string } }).token.token;
  };
  const reader = await tokenFor(['memory.read']);
  const writer = await tokenFor(['memory.read', 'memory.write']);
  const refused = await gql({ authorization: reader, 'x-logline-memory': 'on' }, UPSERT, { input: { content: JSON.stringify('from an app') } });
  expect(refused.errors?.[0]).toMatchObject({ errorType: 'Unauthorized' });
  const written = await gql({ authorization: writer, 'x-logline-memory': 'on' }, UPSERT, { input: { content: JSON.stringify('saved by the app: pelican sighting') } });
  expect(written.data?.upsertMemory).toMatchObject({ ownerId: `app-owner-${suffix}` });
  const found = await gql({ authorization: reader }, SEARCH, { q: 'pelican' });
  expect((found.data?.searchMemories as { spanId: string }[]).map((h) => h.spanId)).toEqual([(written.data?.upsertMemory as { id: string }).id]);
});

describe('two tenants, two users, four sensitivities', () => {
  const users = [
    { user: `a1-${suffix}`, tenant: `acme-${suffix}` },
    { user: `a2-${suffix}`, tenant: `acme-${suffix}` },
    { user: `g1-${suffix}`, tenant: `globex-${suffix}` },
    { user: `g2-${suffix}`, tenant: `globex-${suffix}` },
  ];
  const plans: { sensitivity: string; visibility: string }[] = [];
  for (const sensitivity of ['public', 'internal', 'secret', 'pii']) {
    for (const visibility of sensitivity === 'secret' || sensitivity === 'pii' ? ['private', 'tenant'] : ['private', 'tenant', 'public']) plans.push({ sensitivity, visibility });
  }
  interface Written {
    id: string;
    owner: (typeof users)[number];
    sensitivity: string;
    visibility: string;
    text: string;
  }
  const written: Written[] = [];
  const auth: Record<string, string> = {};
  let logs = '';

  beforeAll(async () => {
    for (const u of users) auth[u.user] = await t.issuer.issue({ user: u.user, tenant: u.tenant });
    const { output } = await captureConsole(async () => {
      for (const owner of users) {
        for (const plan of plans) {
          const text = `zebra ${plan.sensitivity} ${plan.visibility} marker${randomBytes(5).toString('hex')}`;
          const body = await gql({ authorization: auth[owner.user]!, 'x-logline-memory': 'on' }, UPSERT, {
            input: { content: JSON.stringify(text), sensitivity: plan.sensitivity, visibility: plan.visibility, embedSensitive: true },
          });
          if (body.errors) throw new Error(JSON.stringify(body.errors));
          written.push({ id: (body.data?.upsertMemory as { id: string }).id, owner, ...plan, text });
        }
      }
    });
    logs += output;
  });

  const mayRead = (reader: (typeof users)[number], memory: Written) =>
    memory.owner.user === reader.user || memory.visibility === 'public' || (memory.visibility === 'tenant' && memory.owner.tenant === reader.tenant);
  const encrypted = (memory: Written) => memory.sensitivity === 'secret' || memory.sensitivity === 'pii';

  test('memory(id) returns exactly what each reader may read, decrypted for them, [encrypted] previews for non-owners', async () => {
    const { output } = await captureConsole(async () => {
      for (const reader of users) {
        for (const memory of written) {
          // Twice: the second read may come from the cache and must say the same.
          for (let round = 0; round < 2; round += 1) {
            const body = await gql({ authorization: auth[reader.user]! }, READ, { id: memory.id });
            const got = body.data?.memory as { content: string; preview: string; encrypted: boolean } | null;
            if (!mayRead(reader, memory)) {
              expect(got, `${reader.user} must not read ${memory.owner.user}'s ${memory.sensitivity}/${memory.visibility}`).toBeNull();
              continue;
            }
            expect(JSON.parse(got!.content)).toBe(memory.text);
            expect(got!.encrypted).toBe(encrypted(memory));
            expect(got!.preview).toBe(encrypted(memory) && memory.owner.user !== reader.user ? '[encrypted]' : memory.text);
          }
        }
      }
    });
    logs += output;
  });

  test('searchMemories returns exactly the readable memories, with their scope', async () => {
    const { output } = await captureConsole(async () => {
      for (const reader of users) {
        const body = await gql({ authorization: auth[reader.user]! }, SEARCH, { q: 'zebra', k: 100 });
        expect(body.errors).toBeUndefined();
        const hits = body.data?.searchMemories as { spanId: string; scope: string; preview: string }[];
        const ours = hits.filter((hit) => written.some((w) => w.id === hit.spanId));
        const expected = written.filter((w) => mayRead(reader, w));
        expect(ours.map((h) => h.spanId).sort()).toEqual(expected.map((w) => w.id).sort());
        for (const hit of ours) {
          const memory = written.find((w) => w.id === hit.spanId)!;
          const scope = memory.owner.user === reader.user ? 'private' : memory.owner.tenant === reader.tenant ? 'tenant' : 'public';
          expect(hit.scope).toBe(scope);
          if (encrypted(memory) && memory.owner.user !== reader.user) expect(hit.preview).toBe('[encrypted]');
        }
      }
    });
    logs += output;
  });

  test('no secret or pii text in any row, in the cache, or in the logs', async () => {
    const secrets = written.filter(encrypted).map((w) => w.text.split(' ').pop()!);
    expect(secrets).toHaveLength(16);
    const stored = await everythingStored(t.ledger.db);
    const cached = await redisDump();
    // the cache holds this file's secret/pii memories (as ciphertext), so the check below looks at them
    expect(written.filter(encrypted).some((w) => cached.includes(`:m:${w.id}`))).toBe(true);
    for (const secret of secrets) {
      expect(stored).not.toContain(secret);
      expect(cached).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
    // The plain ones are stored in clear, so the check above could find them.
    expect(stored).toContain(written.find((w) => w.sensitivity === 'internal')!.text);
  });
});

/** Every memory cache key and value in Redis of this file's tenants (keys name the tenant). */
async function redisDump(): Promise<string> {
  const redis = new Redis(redisUrl);
  try {
    const parts: string[] = [];
    for (const key of await redis.keys('llos:mem:*')) {
      if (!key.includes(`-${suffix}:`)) continue;
      parts.push(key, (await redis.get(key)) ?? '');
    }
    expect(parts.length).toBeGreaterThan(0);
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}
