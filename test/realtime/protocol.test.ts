import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

let api: TestApi;
let host: string;
let user: Record<string, string>;
beforeAll(async () => {
  api = await startTestApi();
  host = new URL(api.url).host;
  user = { Authorization: await api.token('proto-user', 'proto-tenant') };
});
afterAll(() => api.close());

const SUBSCRIBE = 'subscription Live($types: [String!]) { onTimeline(entityTypes: $types) { cursor id entityType visibility span } }';
const APPEND = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id cursor } }';

async function connected(how: 'query' | 'subprotocol' | 'headers' = 'query', header: Record<string, string> = { 'x-api-key': api.apiKey }) {
  const client = await RealtimeTestClient.open(api.url, header, how);
  await client.init();
  return client;
}

describe('the AppSync real-time protocol', () => {
  test.each(['query', 'subprotocol', 'headers'] as const)('connects with the auth header as %s and acknowledges with connectionTimeoutMs and ka', async (how) => {
    const client = await connected(how);
    const ack = await client.next((f) => f.type === 'connection_ack');
    expect(ack.payload).toEqual({ connectionTimeoutMs: 300000 });
    await client.next((f) => f.type === 'ka');
    client.close();
  });

  test('a connection with a bad key gets connection_error with errorCode 401 and is closed', async () => {
    const client = await RealtimeTestClient.open(api.url, { 'x-api-key': 'da2-wrong' });
    const frame = await client.next((f) => f.type === 'connection_error');
    expect(frame.payload?.errors?.[0]).toMatchObject({ errorType: 'UnauthorizedException', errorCode: 401 });
    await client.closed;
  });

  test('an auth header made for another host is refused', async () => {
    const client = await RealtimeTestClient.open(api.url.replace('127.0.0.1', 'localhost'), { host: 'elsewhere.example:443', 'x-api-key': api.apiKey } as Record<string, string>, 'query');
    const frame = await client.next((f) => f.type === 'connection_error');
    expect(frame.payload?.errors?.[0]?.message).toMatch(/host/);
  });

  test('start → start_ack, data for a matching span, stop → complete', async () => {
    const client = await connected();
    client.start('s1', SUBSCRIBE, { types: ['proto_note'] }, { 'x-api-key': api.apiKey }, host);
    await client.next((f) => f.type === 'start_ack' && f.id === 's1');
    const { body } = await api.request(user, APPEND, { input: { entityType: 'proto_note', who: 'u', did: 'wrote', this: 'hello', visibility: 'public' } });
    const appended = body.data?.appendSpan as { id: string; cursor: string };
    const data = await client.next((f) => f.type === 'data' && f.id === 's1');
    const event = (data.payload?.data as { onTimeline: { cursor: string; id: string; span: string } }).onTimeline;
    expect(event).toMatchObject({ id: appended.id, cursor: appended.cursor, entityType: 'proto_note', visibility: 'public' });
    expect(JSON.parse(event.span)).toMatchObject({ id: appended.id, this: 'hello' });
    client.send({ type: 'stop', id: 's1' });
    await client.next((f) => f.type === 'complete' && f.id === 's1');
    client.close();
  });

  test.each([
    ['a duplicate subscription id', 'DuplicatedOperationError'],
    ['a query on the real-time channel', 'UnsupportedOperation'],
    ['a mutation on the real-time channel', 'UnsupportedOperation'],
    ['a subscription that does not fit the schema', 'ValidationError'],
    ['a start without authorization', 'UnauthorizedException'],
    ['a start with a forged token', 'UnauthorizedException'],
    ['more than 5 entity types (AppSync filter limit)', 'ValidationError'],
  ])('%s is an error frame with errorType %s', async (name, errorType) => {
    const client = await connected();
    const key = { 'x-api-key': api.apiKey };
    switch (name) {
      case 'a duplicate subscription id':
        client.start('dup', SUBSCRIBE, {}, key, host);
        await client.next((f) => f.type === 'start_ack');
        client.start('dup', SUBSCRIBE, {}, key, host);
        break;
      case 'a query on the real-time channel':
        client.start('dup', '{ timeline { pageInfo { hasNextPage } } }', {}, key, host);
        break;
      case 'a mutation on the real-time channel':
        client.start('dup', APPEND, { input: { entityType: 'x', who: 'x', did: 'x', this: 'x' } }, key, host);
        break;
      case 'a subscription that does not fit the schema':
        client.start('dup', 'subscription { onTimeline { nosuchfield } }', {}, key, host);
        break;
      case 'a start without authorization':
        client.send({ id: 'dup', type: 'start', payload: { data: JSON.stringify({ query: SUBSCRIBE, variables: {} }) } });
        break;
      case 'a start with a forged token':
        client.start('dup', SUBSCRIBE, {}, { Authorization: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }, host);
        break;
      default:
        client.start('dup', SUBSCRIBE, { types: ['a', 'b', 'c', 'd', 'e', 'f'] }, key, host);
    }
    const frame = await client.next((f) => f.type === 'error' && f.id === 'dup');
    expect(frame.payload?.errors?.[0]?.errorType).toBe(errorType);
    client.close();
  });

  test('more than 100 subscriptions on one connection is refused', async () => {
    const client = await connected();
    for (let i = 0; i < 100; i += 1) client.start(`s${i}`, SUBSCRIBE, {}, { 'x-api-key': api.apiKey }, host);
    await client.next((f) => f.type === 'start_ack' && f.id === 's99');
    client.start('s100', SUBSCRIBE, {}, { 'x-api-key': api.apiKey }, host);
    const frame = await client.next((f) => f.type === 'error' && f.id === 's100');
    expect(frame.payload?.errors?.[0]?.errorType).toBe('MaxSubscriptionsReachedError');
    client.close();
  });

  test('a message over 240 KB is refused', async () => {
    const client = await connected();
    client.send({ id: 'big', type: 'start', payload: { data: JSON.stringify({ query: SUBSCRIBE, variables: { pad: 'x'.repeat(250 * 1024) } }) } });
    const frame = await client.next((f) => f.type === 'error' && f.id === 'big');
    expect(frame.payload?.errors?.[0]?.errorType).toBe('MaxPayloadSizeExceededError');
    client.close();
  });

  test('subscribers receive only the fields the publishing mutation selected', async () => {
    // given an IAM writer publishing with a narrow selection, straight through publishSpan
    const client = await connected();
    client.start('narrow', 'subscription { onTimeline(entityTypes: ["narrow"]) { id entityType span } }', {}, { 'x-api-key': api.apiKey }, host);
    await client.next((f) => f.type === 'start_ack');
    const event = { cursor: 'c1.x', id: '00000000-0000-4000-8000-000000000abc', seq: 0, entityType: 'narrow', ownerId: 'w', visibility: 'public', truncated: false, span: '{"x":1}' };
    const { publish } = await import('../support/publish.ts');
    await publish(api, event, 'publishSpan(event: $event) { id entityType visibility }');
    const data = await client.next((f) => f.type === 'data' && f.id === 'narrow');
    expect(data.payload?.data).toEqual({ onTimeline: { id: event.id, entityType: 'narrow', span: null } });
    client.close();
  });
});

describe('large spans on the live timeline', () => {
  test('a span too large for a subscription message is published without its body and marked truncated', async () => {
    const client = await RealtimeTestClient.open(api.url, { 'x-api-key': api.apiKey });
    await client.init();
    client.start('big', 'subscription { onTimeline(entityTypes: ["big_note"]) { id truncated span } }', {}, { 'x-api-key': api.apiKey }, host);
    await client.next((f) => f.type === 'start_ack');
    const content = JSON.stringify({ text: 'x'.repeat(220 * 1024) });
    const { body } = await api.request(user, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
      input: { entityType: 'big_note', who: 'u', did: 'wrote', this: 'big', visibility: 'public', content },
    });
    const id = (body.data?.appendSpan as { id: string }).id;
    const frame = await client.next((f) => f.type === 'data' && f.id === 'big');
    expect((frame.payload?.data as { onTimeline: unknown }).onTimeline).toEqual({ id, truncated: true, span: null });
    client.close();
  });
});
