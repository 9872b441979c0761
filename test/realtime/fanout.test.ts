import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../support/api.ts';
import { PUBLISHER } from '../../local/server.ts';
import { RealtimeTestClient, type Frame } from '../support/realtime.ts';

/*
 * The real-time fan-out in child processes, over real sockets: sockets handed to the children get
 * every event their filters allow, in order; stop ends a subscription there; a subscriber that
 * stops reading is disconnected with an error frame without holding the others back; and closing
 * the server ends the children.
 */

const SUBSCRIBE = 'subscription Live($types: [String!]) { onTimeline(entityTypes: $types) { id span } }';
const APPEND = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id } }';
const KEY = { 'x-api-key': 'da2-test' };

const idOf = (frame: Frame) => (frame.payload?.data as { onTimeline: { id: string } }).onTimeline.id;

async function subscriber(t: TestServer, auth: Record<string, string>, type: string, id = 'live'): Promise<RealtimeTestClient> {
  const client = await RealtimeTestClient.open(t.url, auth);
  await client.init();
  client.start(id, SUBSCRIBE, { types: [type] }, auth, new URL(t.url).host);
  await client.next((f) => (f.type === 'start_ack' || f.type === 'error') && f.id === id);
  return client;
}

/** Polls a condition the test cannot be told about (another process's state), failing after `limit` tries. */
async function until(check: () => boolean, what: string, limit = 600): Promise<void> {
  for (let i = 0; i < limit; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('fan-out through child processes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ fanoutWorkers: 2 });
  });
  afterAll(() => t.close());

  test('each tenant span reaches its tenant and nobody else, whichever child serves the socket', async () => {
    // given subscribers of two tenants and an API key, spread over both children
    const suffix = randomBytes(3).toString('hex');
    const type = `fan_${suffix}`;
    const acme = { Authorization: await t.issuer.issue({ user: `amy-${suffix}`, tenant: `acme-${suffix}` }) };
    const globex = { Authorization: await t.issuer.issue({ user: `gary-${suffix}`, tenant: `globex-${suffix}` }) };
    const readers = { acme: [await subscriber(t, acme, type), await subscriber(t, acme, type)], globex: [await subscriber(t, globex, type), await subscriber(t, globex, type)], key: [await subscriber(t, KEY, type)] };
    expect(t.server.realtime.fanoutPids).toHaveLength(2);

    // when a writer of each tenant appends private, tenant and public spans
    const written: { id: string; tenant: 'acme' | 'globex'; visibility: string }[] = [];
    for (const visibility of ['private', 'tenant', 'public', 'tenant']) {
      for (const [tenant, auth] of [['acme', { Authorization: await t.issuer.issue({ user: `aw-${suffix}`, tenant: `acme-${suffix}` }) }], ['globex', { Authorization: await t.issuer.issue({ user: `gw-${suffix}`, tenant: `globex-${suffix}` }) }]] as const) {
        const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query: APPEND, variables: { input: { entityType: type, who: 'w', did: 'wrote', this: visibility, visibility } } }) });
        const body = (await response.json()) as { data: { appendSpan: { id: string } } };
        written.push({ id: body.data.appendSpan.id, tenant, visibility });
      }
    }

    // and a public marker last: each connection gets its events in publish order, so once the
    // marker is there, a span that should not have come would have come
    const marker = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...acme }, body: JSON.stringify({ query: APPEND, variables: { input: { entityType: type, who: 'w', did: 'wrote', this: 'marker', visibility: 'public' } } }) });
    const markerId = ((await marker.json()) as { data: { appendSpan: { id: string } } }).data.appendSpan.id;
    written.push({ id: markerId, tenant: 'acme', visibility: 'public' });
    const all = [...readers.acme, ...readers.globex, ...readers.key];
    for (const client of all) await client.next((f) => f.type === 'data' && idOf(f) === markerId);

    // then each got exactly its share, in order
    const expected = (tenant: 'acme' | 'globex' | null) => written.filter((w) => w.visibility === 'public' || (w.visibility === 'tenant' && w.tenant === tenant)).map((w) => w.id);
    for (const client of readers.acme) expect(client.dataFor('live').map(idOf)).toEqual(expected('acme'));
    for (const client of readers.globex) expect(client.dataFor('live').map(idOf)).toEqual(expected('globex'));
    for (const client of readers.key) expect(client.dataFor('live').map(idOf)).toEqual(expected(null));
    // and the matrix is not trivial: a tenant span reached one tenant and not the other
    expect(expected('acme')).not.toEqual(expected('globex'));
    for (const client of all) client.close();
  });

  test('stop → complete, and no data for that subscription after it', async () => {
    const type = `stop_${randomBytes(3).toString('hex')}`;
    const client = await subscriber(t, KEY, type, 'a');
    client.start('b', SUBSCRIBE, { types: [type] }, KEY, new URL(t.url).host);
    await client.next((f) => f.type === 'start_ack' && f.id === 'b');
    const event = (i: number) => ({ cursor: `c1.${i}`, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, seq: 0, entityType: type, ownerId: 'w', visibility: 'public', truncated: false, span: null });
    await publish(t, event(1));
    await client.next((f) => f.type === 'data' && f.id === 'a');
    client.send({ type: 'stop', id: 'a' });
    await client.next((f) => f.type === 'complete' && f.id === 'a');
    await publish(t, event(2));
    await client.next((f) => f.type === 'data' && f.id === 'b' && idOf(f) === event(2).id);
    expect(client.dataFor('a').map(idOf)).toEqual([event(1).id]);
    expect(client.dataFor('b').map(idOf)).toEqual([event(1).id, event(2).id]);
    client.close();
  });
});

describe.each([
  ['in fan-out children', 2],
  ['in process', 0],
])('a subscriber that stops reading (%s)', (_, workers) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ fanoutWorkers: workers, realtimeMaxBufferedBytes: 128 * 1024 });
  });
  afterAll(() => t.close());

  test('is disconnected with a LimitExceededError frame, while the others receive every event in order', async () => {
    // given two subscribers that read and one that has stopped reading
    const type = `slow_${randomBytes(3).toString('hex')}`;
    const readers = [await subscriber(t, KEY, type), await subscriber(t, KEY, type)];
    const stalled = await subscriber(t, KEY, type);
    stalled.socket.pause();
    // when events of 16 KB each are published until the server gives up on the stalled one
    const content = JSON.stringify({ text: 'x'.repeat(16 * 1024) });
    const ids: string[] = [];
    for (let i = 0; t.server.realtime.subscriptionCount > readers.length; i += 1) {
      if (i >= 5000) throw new Error('the stalled subscriber was never disconnected');
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      await publish(t, { cursor: `c1.${i}`, id, seq: 0, entityType: type, ownerId: 'w', visibility: 'public', truncated: false, span: content });
      ids.push(id);
      // as a writer's I/O would: the readers in this process, and the children's messages, get their turn
      await new Promise((resolve) => setImmediate(resolve));
    }
    const last = ids.at(-1);
    await publish(t, { cursor: 'c1.end', id: '00000000-0000-4000-8000-ffffffffffff', seq: 0, entityType: type, ownerId: 'w', visibility: 'public', truncated: false, span: null });
    ids.push('00000000-0000-4000-8000-ffffffffffff');

    // then the readers got every event, in order
    for (const reader of readers) {
      await reader.next((f) => f.type === 'data' && idOf(f) === ids.at(-1));
      expect(reader.dataFor('live').map(idOf)).toEqual(ids);
    }
    expect(last).toBeDefined();
    // and the stalled one, once it reads again, finds a prefix of them, the error, and the close
    stalled.socket.resume();
    const error = await stalled.next((f) => f.type === 'error');
    expect(error.payload?.errors?.[0]?.errorType).toBe('LimitExceededError');
    await stalled.closed;
    const got = stalled.dataFor('live').map(idOf);
    expect(got.length).toBeLessThan(ids.length);
    expect(got).toEqual(ids.slice(0, got.length));
    expect(stalled.frames.indexOf(error)).toBe(stalled.frames.length - 1);
    for (const reader of readers) reader.close();
  });
});

describe('closing the server', () => {
  test('ends the fan-out children', async () => {
    const t = await startTestServer({ fanoutWorkers: 2 });
    const clients = [await subscriber(t, KEY, 'close_test'), await subscriber(t, KEY, 'close_test')];
    const pids = [...t.server.realtime.fanoutPids];
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    await t.close();
    await until(() => !pids.some(alive), 'the children to exit');
    for (const client of clients) await client.closed;
  });
});

/** Publishes a span event as the internal IAM writer does after a commit. */
async function publish(t: TestServer, event: Record<string, unknown>): Promise<void> {
  const body = await t.server.execute(PUBLISHER, { query: 'mutation P($event: SpanEventInput!) { publishSpan(event: $event) { id entityType visibility span } }', variables: { event } });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
}
