import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type WebSocketConstructor } from '../../client/index.ts';
import { signedRealtimeHeader, type IamAuth } from '../../client/iam.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient, type Frame } from '../support/realtime.ts';

/*
 * AWS_IAM on the real-time endpoint, as AppSync checks it: the connection's header is a SigV4
 * signature of POST <endpoint>/connect with body {}, and each start's authorization one of POST
 * <endpoint> with the start's data as body. Signed by the typed client (client/iam.ts), verified by
 * the local server with its IAM principals, over real sockets (through the fan-out children).
 */

const principal = { accessKeyId: 'AKIALOCALREADER00001', secretAccessKey: randomBytes(20).toString('base64'), userArn: 'arn:aws:iam::000000000000:role/loglineos-indexer' };
const iam: IamAuth = { iam: { region: 'us-east-1', credentials: principal } };
const suffix = randomBytes(3).toString('hex');
const type = `iam_${suffix}`;
const SUBSCRIBE = 'subscription S($types: [String!]) { onTimeline(entityTypes: $types) { id visibility ownerId } }';
const APPEND = 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ iam: [principal], keepAliveMs: 1000 });
});
afterAll(() => t.close());

async function append(user: string, tenant: string, visibility: string, text: string): Promise<string> {
  const token = await t.issuer.issue({ user, tenant });
  const response = await fetch(t.url, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify({ query: APPEND, variables: { input: { entityType: type, who: user, did: 'wrote', this: text, visibility } } }) });
  const body = (await response.json()) as { data?: { appendSpan: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data.appendSpan.id;
}

async function until(check: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 1200; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

/** A connection whose header is `header`, opened the way AppSync documents (`?header=<base64>`). */
async function connectWith(header: Record<string, string>): Promise<RealtimeTestClient> {
  return RealtimeTestClient.open(t.url, header, 'query');
}

const startData = (types: string[]) => JSON.stringify({ query: SUBSCRIBE, variables: { types } });
const errorOf = (frame: Frame) => frame.payload?.errors?.[0];

describe('IAM (SigV4) on the real-time channel', () => {
  test('a signed connection and start succeed, and the subscriber gets the spans an IAM caller may read', async () => {
    // given an IAM subscriber through the typed client (signed connect, signed start)
    const received: TimelineEvent[] = [];
    const errors: Error[] = [];
    const live = subscribeTimeline({ url: t.url, auth: iam, filter: { entityTypes: [type] }, onEvent: (e) => received.push(e), onError: (e) => errors.push(e), WebSocket: WebSocket as unknown as WebSocketConstructor, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
    await live.ready;
    // when users of two tenants write spans of every visibility
    const written: { id: string; visibility: string }[] = [];
    for (const [user, tenant] of [[`alice-${suffix}`, `acme-${suffix}`], [`gary-${suffix}`, `globex-${suffix}`]] as const) {
      for (const visibility of ['private', 'tenant', 'public']) written.push({ id: await append(user, tenant, visibility, visibility), visibility });
    }
    // and, after the connection drops, more are written while it is away (read back by a signed timeline query)
    t.server.realtime.disconnectAll();
    for (const visibility of ['private', 'public']) written.push({ id: await append(`alice-${suffix}`, `acme-${suffix}`, visibility, `away ${visibility}`), visibility });
    await until(() => t.server.realtime.subscriptionCount === 1, () => 'the reconnect');
    // (the away spans first: one held back by another test file's transaction would come by a later
    // read, after a newer live event)
    const away = written.filter((w) => w.visibility === 'public').length;
    await until(() => received.length >= away, () => `${away} events before the last, got ${received.length}`);
    written.push({ id: await append(`gary-${suffix}`, `globex-${suffix}`, 'public', 'last'), visibility: 'public' });

    // then it has exactly what an IAM caller may read (the database's rule: public spans, and its
    // own), live and across the reconnect alike, in order, once each
    const expected = written.filter((w) => w.visibility === 'public').map((w) => w.id);
    await until(() => received.length >= expected.length, () => `${expected.length} events, got ${received.length}`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a late private or duplicate event would show here
    expect(received.map((e) => e.span?.id)).toEqual(expected);
    expect(received.some((e) => e.source === 'backfill')).toBe(true);
    expect(errors).toEqual([]);
    live.close();
  }, 120_000);

  test('a raw client signed the documented way (?header=, then a signed start) is acknowledged', async () => {
    const client = await connectWith(await signedRealtimeHeader(t.url, '/connect', '{}', iam));
    await client.init();
    const data = startData([type]);
    client.send({ id: 'ok', type: 'start', payload: { data, extensions: { authorization: await signedRealtimeHeader(t.url, '', data, iam) } } });
    expect((await client.next((f) => f.id === 'ok')).type).toBe('start_ack');
    client.close();
  });

  test('a connection with a bad signature, an unknown key, a wrong secret or an expired date is refused with 401', async () => {
    const good = await signedRealtimeHeader(t.url, '/connect', '{}', iam);
    const tampered = { ...good, Authorization: String(good.Authorization).replace(/.$/, (c) => (c === '0' ? '1' : '0')) };
    const unknownKey = await signedRealtimeHeader(t.url, '/connect', '{}', { iam: { region: 'us-east-1', credentials: { ...principal, accessKeyId: 'AKIAUNKNOWNKEY000000' } } });
    const wrongSecret = await signedRealtimeHeader(t.url, '/connect', '{}', { iam: { region: 'us-east-1', credentials: { ...principal, secretAccessKey: 'not-the-secret' } } });
    const expired = await signedRealtimeHeader(t.url, '/connect', '{}', iam, new Date(Date.now() - 6 * 60 * 1000));
    const forOtherBody = await signedRealtimeHeader(t.url, '/connect', '{"x":1}', iam);
    const cases = { tampered, unknownKey, wrongSecret, expired, forOtherBody };
    const answers: Record<string, unknown> = {};
    for (const [name, header] of Object.entries(cases)) {
      const client = await connectWith(header);
      const frame = await client.next((f) => f.type === 'connection_error');
      answers[name] = { errorType: errorOf(frame)?.errorType, errorCode: errorOf(frame)?.errorCode };
      await client.closed;
    }
    const refused = { errorType: 'UnauthorizedException', errorCode: 401 };
    expect(answers).toEqual({ tampered: refused, unknownKey: refused, wrongSecret: refused, expired: refused, forOtherBody: refused });
  });

  test('a start signed for another body, by another key, or too long ago is refused; the connection stays usable', async () => {
    // given a signed connection
    const client = await connectWith(await signedRealtimeHeader(t.url, '/connect', '{}', iam));
    await client.init();
    const data = startData([type]);
    // when starts come with authorizations that do not hold for them
    const other = await signedRealtimeHeader(t.url, '', startData(['someone_else']), iam);
    const connectSignature = await signedRealtimeHeader(t.url, '/connect', '{}', iam);
    const wrongSecret = await signedRealtimeHeader(t.url, '', data, { iam: { region: 'us-east-1', credentials: { ...principal, secretAccessKey: 'not-the-secret' } } });
    const expired = await signedRealtimeHeader(t.url, '', data, iam, new Date(Date.now() - 6 * 60 * 1000));
    const refusals: Record<string, string | undefined> = {};
    for (const [id, authorization] of Object.entries({ otherBody: other, connectSignature, wrongSecret, expired })) {
      client.send({ id, type: 'start', payload: { data, extensions: { authorization } } });
      const frame = await client.next((f) => f.id === id);
      refusals[id] = frame.type === 'error' ? errorOf(frame)?.errorType : frame.type;
    }
    // then each is refused as AppSync does, and a correctly signed start still works
    expect(refusals).toEqual({ otherBody: 'UnauthorizedException', connectSignature: 'UnauthorizedException', wrongSecret: 'UnauthorizedException', expired: 'UnauthorizedException' });
    client.send({ id: 'good', type: 'start', payload: { data, extensions: { authorization: await signedRealtimeHeader(t.url, '', data, iam) } } });
    expect((await client.next((f) => f.id === 'good')).type).toBe('start_ack');
    client.close();
  });
});
