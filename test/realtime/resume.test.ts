import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type WebSocketConstructor } from '../../client/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { backend } from '../support/ledger.ts';
import { decodeCursor } from '../../functions/ledger/cursor.ts';

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
    // On a mismatch, say where each out-of-place event came from (backfill page or live), for the diagnosis.
    const misplaced = received.flatMap((event, at) => (event.span?.id === written[at] ? [] : [`#${at} written #${written.indexOf(event.span?.id ?? '')} via ${event.source}`]));
    expect(received.map((event) => event.span?.id), `out of place: ${misplaced.slice(0, 20).join(', ')}`).toEqual(written);
    expect(received.slice(10, 510).some((event) => event.source === 'backfill')).toBe(true);
    subscription.close();
  }, 180_000);

  test('a span too large for a live event, read back by the client, keeps its place before the spans written after it', async () => {
    // given a subscriber whose read-back of a large span is slow
    const suffix = randomBytes(3).toString('hex');
    const writer = { userId: `writer-${suffix}`, tenantId: `acme-${suffix}` };
    const type = `big_${suffix}`;
    const received: TimelineEvent[] = [];
    const subscription = subscribeTimeline({
      url: api.url,
      auth: { token: await api.token(`reader-${suffix}`, writer.tenantId) },
      filter: { entityTypes: [type] },
      onEvent: (event) => received.push(event),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      fetch: async (input, init) => {
        if (String(init?.body ?? '').includes('FullSpanById')) await new Promise((resolve) => setTimeout(resolve, 500));
        return fetch(input, init);
      },
    });
    await subscription.ready;
    // when a span too large for a live event is written, then 3 small ones
    const writerAuth = { authorization: await api.token(writer.userId, writer.tenantId) };
    const written: string[] = [];
    for (const content of [JSON.stringify({ text: 'x'.repeat(220 * 1024) }), null, null, null]) {
      const { body } = await api.request(writerAuth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
        input: { entityType: type, who: 'writer', did: 'wrote', this: `note ${written.length}`, visibility: 'tenant', ...(content ? { content } : {}) },
      });
      written.push((body.data?.appendSpan as { id: string }).id);
    }
    // then they arrive in the order written, the large one whole
    await until(() => received.length >= written.length, () => `${written.length} events (got ${received.length})`);
    expect(received.map((event) => event.span?.id)).toEqual(written);
    expect(received[0]?.span?.content).toContain('x'.repeat(1000));
    subscription.close();
  }, 60_000);

  // PGlite is a single session: no transaction can stay open while others commit.
  if (backend === 'postgres') {
    test('spans held back by a long transaction while it was away arrive on reconnect, before the live events written after them (found by a CI run under load)', async () => {
      // given a subscriber whose reconnects can be held off
      const suffix = randomBytes(3).toString('hex');
      const writer = { userId: `writer-${suffix}`, tenantId: `acme-${suffix}` };
      const type = `held_${suffix}`;
      let offline = false;
      const Switchable = class extends WebSocket {
        constructor(url: string, protocols: string[]) {
          super(offline ? 'ws://127.0.0.1:1/' : url, protocols);
        }
      };
      const received: TimelineEvent[] = [];
      const subscription = subscribeTimeline({
        url: api.url,
        auth: { token: await api.token(`reader-${suffix}`, writer.tenantId) },
        filter: { entityTypes: [type] },
        onEvent: (event) => received.push(event),
        WebSocket: Switchable as unknown as WebSocketConstructor,
        reconnect: { initialDelayMs: 100, maxDelayMs: 300 },
      });
      await subscription.ready;
      // and an unrelated transaction (another server's, say) that has taken its id and stays open
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let opened: () => void = () => undefined;
      const openedYet = new Promise<void>((resolve) => (opened = resolve));
      let blockerXid = '0';
      const blocker = api.ledger.db.withSession(null, async (tx) => {
        const [row] = await tx.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
        blockerXid = row?.xid ?? '0';
        opened();
        await gate;
      });
      await openedYet;
      try {
        // when the subscriber is cut off while 5 spans commit (their live events go to nobody)
        offline = true;
        api.server.realtime.disconnectAll();
        await until(() => api.server.realtime.subscriptionCount === 0, 'the disconnect');
        const writerAuth = { authorization: await api.token(writer.userId, writer.tenantId) };
        const written: string[] = [];
        const append = async (i: number) => {
          const { body } = await api.request(writerAuth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
            input: { entityType: type, who: 'writer', did: 'wrote', this: `held ${i}`, visibility: 'tenant' },
          });
          written.push((body.data?.appendSpan as { id: string }).id);
        };
        for (let i = 0; i < 5; i += 1) await append(i);
        // and it reconnects (the timeline holds those 5 back) and 5 more are written, delivered live
        offline = false;
        await until(() => api.server.realtime.subscriptionCount === 1, 'the reconnect');
        for (let i = 5; i < 10; i += 1) await append(i);

        // then, with the long transaction still open, it has all 10 in the order they were written
        await until(() => received.length >= written.length, () => `${written.length} spans (got ${received.length}: ${received.map((event) => `#${written.indexOf(event.span?.id ?? '')} via ${event.source}`).join(', ')})`);
        expect(received.map((event) => event.span?.id)).toEqual(written);
        expect(received.slice(0, 5).every((event) => event.source === 'backfill')).toBe(true);
        // and the cursor it confirms stays behind the open transaction, so nothing that may still commit there is skipped
        expect(BigInt(decodeCursor(subscription.confirmedCursor ?? '').txId)).toBeLessThanOrEqual(BigInt(blockerXid));
        // and once it ends, the catch-up reads move the confirmed cursor past all 10 (and deliver nothing twice)
        release();
        await blocker;
        const lastTx = BigInt(received.at(-1)?.span?.txId ?? '0');
        await until(() => BigInt(decodeCursor(subscription.confirmedCursor ?? '').txId) > lastTx, () => `the confirmed cursor past tx ${lastTx} (at ${subscription.confirmedCursor})`);
        expect(received).toHaveLength(written.length);
      } finally {
        release();
        await blocker;
        subscription.close();
      }
    }, 180_000);
  }
});
