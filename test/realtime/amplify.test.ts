import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadOrCreateTls } from '../../local/tls.ts';
import { startTestServer, type TestServer } from '../support/api.ts';

/*
 * AWS Amplify's own GraphQL client, unchanged, against the local server: Amplify always opens the
 * real-time channel with wss://, so the server listens with its local CA's certificate, which the
 * client process trusts through NODE_EXTRA_CA_CERTS.
 */

let t: TestServer;
let httpsUrl: string;
let caFile: string;
beforeAll(async () => {
  t = await startTestServer();
  const tls = await loadOrCreateTls(join(t.dir, 'keys'));
  caFile = tls.caFile;
  httpsUrl = await t.server.listenTls(0, tls);
});
afterAll(() => t.close());

describe('AWS Amplify JS v6 against the local server', () => {
  test('queries and subscribes with the API key, receiving a span appended meanwhile', async () => {
    const child = spawn(process.execPath, [new URL('./amplify-client.mjs', import.meta.url).pathname, httpsUrl, 'da2-test', 'amplify_note'], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const steps: { step: string; data?: Record<string, unknown>; state?: string }[] = [];
    const lines = createInterface({ input: child.stdout });
    const appendUntilEvent = (async () => {
      // Amplify reports the connection once it is up; then spans are appended (through the API's
      // own mutation path, in process, since this test process does not trust the local CA) until one arrives.
      while (!steps.some((s) => s.state === 'Connected')) await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < 40 && !steps.some((s) => s.step === 'event'); i += 1) {
        await t.server.execute({ mode: 'AMAZON_COGNITO_USER_POOLS', identity: { sub: 'amplify-writer', issuer: 'local', claims: { 'custom:tenant_id': 'acme' } } }, {
          query: 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }',
          variables: { input: { entityType: 'amplify_note', who: 'w', did: 'wrote', this: `note ${i}`, visibility: 'public' } },
        });
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    for await (const line of lines) {
      if (line.startsWith('{')) steps.push(JSON.parse(line) as (typeof steps)[number]);
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    await appendUntilEvent;
    expect(steps.find((s) => s.step === 'query')?.data?.timelineHead).toMatch(/^c1\./);
    const event = steps.find((s) => s.step === 'event')?.data?.onTimeline as { entityType: string; visibility: string; cursor: string } | undefined;
    expect(event).toMatchObject({ entityType: 'amplify_note', visibility: 'public' });
    expect(event?.cursor).toMatch(/^c1\./);
    expect(code).toBe(0);
  });
});
