import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * API tokens through the local AppSync (AWS_LAMBDA mode, the same authorizer code as the Lambda):
 * each scope allows exactly its operations, over HTTP and real-time.
 */

let t: TestServer;
let owner: Record<string, string>;
const suffix = randomBytes(3).toString('hex');
beforeAll(async () => {
  t = await startTestServer({ authorizerCacheSeconds: 3 });
  owner = { authorization: await t.issuer.issue({ user: `owner-${suffix}`, tenant: `acme-${suffix}` }) };
});
afterAll(() => t.close());

async function gql(headers: Record<string, string>, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown> | null; errors?: { errorType: string; message: string; path?: unknown }[] } };
}

const REGISTER = 'mutation R($input: AppInput!) { registerApp(input: $input) { app { id scopes status } token { token record { id scopes status } } } }';
const APPEND = 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id ownerId tenantId appId } }';
const READ = '{ spans(first: 5) { edges { node { id } } } }';

/** Rows other than the authorizer's own decision spans, for "nothing was written" checks. */
async function spansBesidesDecisions(): Promise<number> {
  const [row] = await t.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type <> 'auth.decision'"));
  return Number(row?.n);
}

async function appToken(scopes: string[]): Promise<{ appId: string; token: string; tokenId: string }> {
  const { body } = await gql(owner, REGISTER, { input: { name: `app-${scopes.join('-')}`, scopes, slo: '{"latencyMs": 500}' } });
  const registration = body.data?.registerApp as { app: { id: string }; token: { token: string; record: { id: string } } };
  return { appId: registration.app.id, token: registration.token.token, tokenId: registration.token.record.id };
}

describe('API tokens over the API', () => {
  test('span.read reads but cannot append; span.write appends as the app owner, in the app owner tenant', async () => {
    const reader = await appToken(['span.read']);
    const writer = await appToken(['span.read', 'span.write']);
    const read = await gql({ authorization: reader.token }, READ);
    expect(read.body.errors).toBeUndefined();
    const before = await spansBesidesDecisions();
    const refused = await gql({ authorization: reader.token }, APPEND, { input: { entityType: 'note', who: 'app', did: 'wrote', this: 'x' } });
    expect(refused.body.errors?.[0]).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access appendSpan on type Mutation' });
    expect(await spansBesidesDecisions()).toBe(before);
    const written = await gql({ authorization: writer.token }, APPEND, { input: { entityType: 'note', who: 'app', did: 'wrote', this: 'x' } });
    expect(written.body.data?.appendSpan).toMatchObject({ ownerId: `owner-${suffix}`, tenantId: `acme-${suffix}` });
  });

  test('tokens cannot manage apps or tokens', async () => {
    const admin = await appToken(['span.read', 'span.write']);
    const { body } = await gql({ authorization: admin.token }, REGISTER, { input: { name: 'x', scopes: ['span.read'] } });
    expect(body.errors?.[0]?.errorType).toBe('Unauthorized');
  });

  test('a malformed or unknown token is a 401', async () => {
    expect((await gql({ authorization: 'llos_short' }, READ)).status).toBe(401);
    expect((await gql({ authorization: `llos_${'x'.repeat(32)}` }, READ)).status).toBe(401);
  });

  test('after revokeToken the token is refused once its cached answer expires (3 s here; 60 s on AppSync)', async () => {
    const app = await appToken(['span.read']);
    expect((await gql({ authorization: app.token }, READ)).status).toBe(200);
    const revoked = await gql(owner, 'mutation V($id: ID!) { revokeToken(id: $id) { status } }', { id: app.tokenId });
    expect(revoked.body.data?.revokeToken).toEqual({ status: 'revoked' });
    const stillCached = await gql({ authorization: app.token }, READ);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const afterTtl = await gql({ authorization: app.token }, READ);
    expect([stillCached.status, afterTtl.status]).toEqual([200, 401]);
  });

  test('rotateToken gives a new token with the same scopes and retires the old one', async () => {
    const app = await appToken(['span.read']);
    const { body } = await gql(owner, 'mutation R($id: ID!) { rotateToken(id: $id) { token record { scopes status } } }', { id: app.tokenId });
    const rotated = body.data?.rotateToken as { token: string; record: { scopes: string[]; status: string } };
    expect(rotated.record).toEqual({ scopes: ['span.read'], status: 'active' });
    expect((await gql({ authorization: rotated.token }, READ)).status).toBe(200);
    const list = await gql(owner, 'query T($a: ID!) { tokens(appId: $a) { status } }', { a: app.appId });
    expect((list.body.data?.tokens as { status: string }[]).map((x) => x.status).sort()).toEqual(['active', 'revoked']);
  });

  test('on the real-time channel a span.read token subscribes and a token without it cannot', async () => {
    const reader = await appToken(['span.read']);
    const writerOnly = await appToken(['span.write']);
    const host = new URL(t.url).host;
    const client = await RealtimeTestClient.open(t.url, { 'x-api-key': 'da2-test' });
    await client.init();
    client.start('ok', 'subscription { onTimeline { id } }', {}, { Authorization: reader.token }, host);
    await client.next((f) => f.type === 'start_ack' && f.id === 'ok');
    client.start('no', 'subscription { onTimeline { id } }', {}, { Authorization: writerOnly.token }, host);
    const refused = await client.next((f) => f.type === 'error' && f.id === 'no');
    expect(refused.payload?.errors?.[0]?.errorType).toBe('Unauthorized');
    client.close();
  });
});

describe('a token reads only what its app owner may read', () => {
  test('a token of one tenant never reads another tenant’s spans', async () => {
    const reader = await appToken(['span.read']);
    const outsider = { authorization: await t.issuer.issue({ user: `outsider-${suffix}`, tenant: `globex-${suffix}` }) };
    const written = await gql(outsider, APPEND, { input: { entityType: 'note', who: 'x', did: 'wrote', this: 'globex only', visibility: 'tenant' } });
    const id = (written.body.data?.appendSpan as { id: string }).id;
    const seen = await gql({ authorization: reader.token }, 'query S($id: ID!) { span(id: $id) { id } }', { id });
    expect(seen.body.errors).toBeUndefined();
    expect(seen.body.data?.span).toBeNull();
    const own = await gql(owner, 'query S($id: ID!) { span(id: $id) { id } }', { id });
    expect(own.body.data?.span).toBeNull();
  });
});
