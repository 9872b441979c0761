import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * onTimeline's arguments become AppSync filter strings, which AppSync limits to 256 characters. A
 * longer argument is the caller's mistake: a ValidationError naming the argument, not the filter
 * layer's own error (found by the schema fuzz, test/reliability/fuzz.test.ts).
 */

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer({ fanoutWorkers: 0, keepAliveMs: 1000 });
  token = await t.issuer.issue({ user: `ann-${randomBytes(3).toString('hex')}`, tenant: 'acme' });
});
afterAll(() => t.close());

describe('onTimeline arguments longer than a filter string may be', () => {
  test.each([
    ['traceId', { traceId: 't'.repeat(257) }],
    ['parentId', { parentId: 'p'.repeat(300) }],
    ['entityTypes', { entityTypes: ['note', 'e'.repeat(257)] }],
  ])('%s: refused as a ValidationError that names it; 256 characters are accepted', async (field, variables) => {
    const client = await RealtimeTestClient.open(t.url, { 'x-api-key': 'da2-test' });
    await client.init();
    const host = new URL(t.url).host;
    const query = 'subscription S($entityTypes: [String!], $traceId: String, $parentId: ID) { onTimeline(entityTypes: $entityTypes, traceId: $traceId, parentId: $parentId) { id } }';
    client.start('long', query, variables, { Authorization: token }, host);
    client.start('fits', query, { [field]: field === 'entityTypes' ? ['e'.repeat(256)] : 'x'.repeat(256) }, { Authorization: token }, host);
    const refused = await client.next((f) => f.id === 'long' && (f.type === 'error' || f.type === 'start_ack'));
    const accepted = await client.next((f) => f.id === 'fits' && (f.type === 'error' || f.type === 'start_ack'));
    client.close();
    expect(refused.payload?.errors?.[0]).toMatchObject({ errorType: 'ValidationError', message: expect.stringContaining(`${field}: at most 256 characters`) as unknown });
    expect(accepted.type).toBe('start_ack');
  });
});
