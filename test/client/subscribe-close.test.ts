import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type WebSocketConstructor } from '../../client/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

describe('closing a timeline subscription', () => {
  test('closed while it is still connecting, it opens no socket afterwards (found by the console under React)', async () => {
    // given a WebSocket implementation that counts the sockets the client opens
    let opened = 0;
    class CountingWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        opened += 1;
      }
    }
    const suffix = randomBytes(3).toString('hex');
    const token = await api.token(`reader-${suffix}`, `acme-${suffix}`);

    // when the subscription is closed in the same turn it was made (its head query still in flight)
    const subscription = subscribeTimeline({ url: api.url, auth: { token }, onEvent: () => undefined, WebSocket: CountingWebSocket as unknown as WebSocketConstructor });
    subscription.close();
    // and the head query and signature have had time to finish (a control subscription proves it)
    const control = subscribeTimeline({ url: api.url, auth: { token }, onEvent: () => undefined, WebSocket: CountingWebSocket as unknown as WebSocketConstructor });
    await control.ready;
    control.close();

    // then only the control subscription ever opened a socket
    expect(opened).toBe(1);
  });
});
