import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type WebSocketConstructor } from '../../client/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { settled, testSigner } from '../support/ledger.ts';
import { decodeCursor } from '../../functions/ledger/cursor.ts';

/*
 * subscribeTimeline({ verify }) recomputes each event's canonical hash and checks its signature in the
 * client, for live events (the span's own JSON) and backfilled ones (GraphQL, AWSJSON as text) alike.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('verifying events as they arrive', () => {
  test('live and backfilled spans verify; a span changed in the database after it was written does not', async () => {
    // given a writer and spans with JSON fields (an object, and a string that looks like a number)
    const suffix = randomBytes(3).toString('hex');
    const writer = { userId: `writer-${suffix}`, tenantId: `acme-${suffix}` };
    const type = `verified_${suffix}`;
    const auth = { authorization: await api.token(writer.userId, writer.tenantId) };
    const append = async (i: number) => {
      const { body } = await api.request(auth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id cursor } }', {
        input: { entityType: type, who: 'writer', did: 'wrote', this: `note ${i}`, visibility: 'tenant', metadata: JSON.stringify({ n: i, nested: { b: 1, a: [true, null] } }), output: JSON.stringify('123') },
      });
      return body.data?.appendSpan as { id: string; cursor: string };
    };
    const first = await append(0);
    const tampered = await append(1);
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('set local session_replication_role = replica');
      await tx.query(`update ledger.universal_registry set "this" = 'rewritten' where id = $1`, [tampered.id]);
    });
    // (past the timeline's watermark, so the subscription's first read has it: another test file's
    // transaction may still be running)
    await settled(api.ledger.db, decodeCursor(tampered.cursor).txId);
    // when a client subscribes after the first span (so the second is backfilled) and a third arrives live
    const received: TimelineEvent[] = [];
    const subscription = subscribeTimeline({
      url: api.url,
      auth: { token: await api.token(`reader-${suffix}`, writer.tenantId) },
      filter: { entityTypes: [type] },
      after: first.cursor,
      verify: { trustedKeys: [testSigner.publicKeyHex] },
      onEvent: (event) => received.push(event),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    await subscription.ready;
    const live = await append(2);
    await until(() => received.length === 2, 'two events');
    subscription.close();
    // then the tampered backfilled span fails its hash check and the live one passes every check
    expect(received.map((event) => [event.span?.id, event.source])).toEqual([[tampered.id, 'backfill'], [live.id, 'live']]);
    expect(received[0]!.verification).toMatchObject({ hashOk: false, signatureOk: true });
    expect(received[1]!.verification).toMatchObject({ hashOk: true, signatureOk: true, trusted: true });
  });

  test('a backfilled span that was not changed verifies too', async () => {
    const suffix = randomBytes(3).toString('hex');
    const writer = { userId: `writer-${suffix}`, tenantId: `acme-${suffix}` };
    const type = `backfilled_${suffix}`;
    const auth = { authorization: await api.token(writer.userId, writer.tenantId) };
    const { body: head } = await api.request(auth, '{ timelineHead }');
    const { body: kept } = await api.request(auth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { cursor } }', {
      input: { entityType: type, who: 'writer', did: 'wrote', this: 'kept', visibility: 'tenant', content: JSON.stringify({ text: 'é 😀', list: [1, 2.5] }) },
    });
    await settled(api.ledger.db, decodeCursor((kept.data?.appendSpan as { cursor: string }).cursor).txId);
    const received: TimelineEvent[] = [];
    const subscription = subscribeTimeline({
      url: api.url,
      auth: { token: await api.token(`reader-${suffix}`, writer.tenantId) },
      filter: { entityTypes: [type] },
      after: head.data?.timelineHead as string,
      verify: { trustedKeys: ['00'.repeat(32)] },
      onEvent: (event) => received.push(event),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    await subscription.ready;
    subscription.close();
    expect(received).toHaveLength(1);
    // signed by the deployment key, which this client does not trust
    expect(received[0]!.verification).toMatchObject({ hashOk: true, signatureOk: true, trusted: false });
  });
});
