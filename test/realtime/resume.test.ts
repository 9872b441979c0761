import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type WebSocketConstructor } from '../../client/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

// Generous: on a 2-core CI machine running two test files side by side, the reconnect, the backfill
// of 500 spans and the fan-out process can take a while; a lost event still fails the order check.
async function until(check: () => boolean, what: string | (() => string)): Promise<void> {
  for (let i = 0; i < 1800; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
}

describe('the client never loses an event', () => {
  test('disconnected while 500 spans are appended, it has all of them after reconnecting, in order, once each', async () => {
    // given a subscriber of one tenant's spans
    const suffix = randomBytes(3).toString('hex');
    const writer = { userId: `writer-${suffix}`, tenantId: `acme-${suffix}` };
    const type = `resume_${suffix}`;
    const received: TimelineEvent[] = [];
    const subscription = subscribeTimeline({
      url: api.url,
      auth: { token: await api.token(`reader-${suffix}`, writer.tenantId) },
      filter: { entityTypes: [type] },
      onEvent: (event) => received.push(event),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      reconnect: { initialDelayMs: 300, maxDelayMs: 1000 },
    });
    await subscription.ready;
    const writerAuth = { authorization: await api.token(writer.userId, writer.tenantId) };
    const append = async (i: number) => {
      const { body } = await api.request(writerAuth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
        input: { entityType: type, who: 'writer', did: 'wrote', this: `note ${i}`, visibility: 'tenant' },
      });
      return (body.data?.appendSpan as { id: string }).id;
    };
    const written: string[] = [];
    for (let i = 0; i < 10; i += 1) written.push(await append(i));
    await until(() => received.length === 10, 'the first 10 live events');

    // when the connection drops and 500 spans are appended meanwhile (published live, to nobody)
    api.server.realtime.disconnectAll();
    for (let i = 10; i < 510; i += 1) written.push(await append(i));
    // and some after it is back
    await until(() => api.server.realtime.subscriptionCount === 1, 'the reconnect');
    for (let i = 510; i < 520; i += 1) written.push(await append(i));

    // then it has every span, in order, exactly once
    await until(() => received.length >= written.length, () => `${written.length} events (got ${received.length})`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // a late duplicate would show here
    expect(received.map((event) => event.span?.id)).toEqual(written);
    expect(received.slice(10, 510).some((event) => event.source === 'backfill')).toBe(true);
    subscription.close();
  }, 180_000);
});
