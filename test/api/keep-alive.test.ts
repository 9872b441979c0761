import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';

/*
 * The local server keeps an idle connection as AppSync's front end does (tens of seconds), longer than
 * clients keep theirs (fetch: 4 s), so a client never sends a request on a socket the server is closing.
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

function health(agent: Agent): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(`${new URL(api.url).origin}/health`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('idle keep-alive connections', () => {
  test('a connection idle for 6 s (past Node\'s 5 s default) is still open for the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 60_000 });
    expect(await health(agent)).toEqual({ status: 200, reused: false });
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect(await health(agent)).toEqual({ status: 200, reused: true });
    agent.destroy();
  });
});
