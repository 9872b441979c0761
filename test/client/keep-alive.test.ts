import { randomBytes } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type WebSocketConstructor } from '../../client/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

/*
 * A real-time connection that stops talking (a NAT or proxy dropped it, the server died without a
 * FIN) can look open for many minutes. subscribeTimeline holds the endpoint to the connectionTimeoutMs
 * its connection_ack announced: silent for longer, the connection is given up and made again.
 */

let api: TestApi;
let silent: WebSocketServer;
beforeAll(async () => {
  api = await startTestApi();
  // A test double of a real-time endpoint that acknowledges, announces a 300 ms limit, and goes quiet.
  silent = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'graphql-ws' });
  silent.on('connection', (ws) =>
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string };
      if (frame.type === 'connection_init') ws.send(JSON.stringify({ type: 'connection_ack', payload: { connectionTimeoutMs: 300 } }));
      if (frame.type === 'start') ws.send(JSON.stringify({ type: 'start_ack', id: frame.id }));
    }),
  );
  await new Promise((resolve) => silent.once('listening', resolve));
});
afterAll(async () => {
  silent.close();
  await api.close();
});

async function until(check: () => boolean, what: () => string): Promise<void> {
  for (let i = 0; i < 1200; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

describe('a silent real-time connection', () => {
  test('is given up after its connectionTimeoutMs and made again; events then arrive', async () => {
    // given a subscriber whose first connection reaches the silent endpoint, and later ones the API
    const suffix = randomBytes(3).toString('hex');
    const type = `ka_${suffix}`;
    const tenant = `acme-${suffix}`;
    const port = (silent.address() as { port: number }).port;
    const urls: string[] = [];
    const Redirected = class extends WebSocket {
      constructor(url: string, protocols: string[]) {
        const target = urls.length === 0 ? url.replace(/\/\/[^/]+/, `//127.0.0.1:${port}`) : url;
        super(target, protocols);
        urls.push(target);
      }
    };
    const received: TimelineEvent[] = [];
    const errors: Error[] = [];
    const subscription = subscribeTimeline({
      url: api.url,
      auth: { token: await api.token(`reader-${suffix}`, tenant) },
      filter: { entityTypes: [type] },
      onEvent: (event) => received.push(event),
      onError: (error) => errors.push(error),
      WebSocket: Redirected as unknown as WebSocketConstructor,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    await subscription.ready;

    // when the silent connection has outlived its limit and a span is appended
    await until(() => api.server.realtime.subscriptionCount === 1, () => `a second connection (sockets opened: ${urls.length})`);
    const { body } = await api.request({ authorization: await api.token(`writer-${suffix}`, tenant) }, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
      input: { entityType: type, who: 'writer', did: 'wrote', this: 'after the silence', visibility: 'tenant' },
    });

    // then the client reconnected to the API on its own, said why, and the span arrives
    await until(() => received.length >= 1, () => `the span (got ${received.length})`);
    subscription.close();
    expect(received.map((event) => event.span?.id)).toEqual([(body.data?.appendSpan as { id: string }).id]);
    expect(urls).toHaveLength(2);
    expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/silent for 300 ms/)]);
  });
});
