import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * An app token acts as its app's owner, in the owner's tenant (the Lambda authorizer's resolver
 * context): live, it gets what timeline(after:) gives it, the owner's private spans and the tenant's
 * tenant spans too, not only public ones (found by the isolation suite, test/reliability/isolation.test.ts).
 */

const suffix = randomBytes(3).toString('hex');
const type = `tok_${suffix}`;
let t: TestServer;
const auth: Record<string, string> = {};

async function gql(authorization: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: unknown[] };
}

beforeAll(async () => {
  t = await startTestServer({ keepAliveMs: 1000 });
  auth.owner = await t.issuer.issue({ user: `owner-${suffix}`, tenant: `acme-${suffix}` });
  auth.mate = await t.issuer.issue({ user: `mate-${suffix}`, tenant: `acme-${suffix}` });
  auth.outsider = await t.issuer.issue({ user: `outsider-${suffix}`, tenant: `globex-${suffix}` });
  const registered = await gql(auth.owner, 'mutation { registerApp(input: { name: "watcher", scopes: ["span.read"] }) { token { token } } }');
  auth.token = (registered.data?.registerApp as { token: { token: string } }).token.token;
});
afterAll(() => t.close());

describe('onTimeline for an app token', () => {
  test('delivers what its owner may read (own private, tenant, public) and nothing of another tenant', async () => {
    // given a token subscribed to the live timeline
    const client = await RealtimeTestClient.open(t.url, { 'x-api-key': 'da2-test' });
    await client.init();
    client.start('live', 'subscription($types: [String!]) { onTimeline(entityTypes: $types) { span } }', { types: [type] }, { Authorization: auth.token ?? '' }, new URL(t.url).host);
    await client.next((frame) => frame.id === 'live' && frame.type === 'start_ack');
    // when spans of every visibility are appended by the owner, a tenant member and an outsider
    const writes: [string, string, string][] = [
      ['owner', 'private', 'owner private'],
      ['owner', 'tenant', 'owner tenant'],
      ['mate', 'tenant', 'mate tenant'],
      ['mate', 'private', 'mate private'],
      ['outsider', 'tenant', 'outsider tenant'],
      ['outsider', 'public', 'outsider public'],
    ];
    for (const [who, visibility, text] of writes) {
      const answer = await gql(auth[who] ?? '', 'mutation($i: SpanInput!) { appendSpan(input: $i) { id } }', { i: { entityType: type, who: 'user', did: 'wrote', this: text, visibility } });
      expect(answer.errors).toBeUndefined();
    }
    const expected = ['owner private', 'owner tenant', 'mate tenant', 'outsider public'];
    // a bounded wait: a missing event shows in the comparison below, with what did arrive
    await client.next(() => client.dataFor('live').length >= expected.length).catch(() => undefined);
    // read back as a caller would: again while the server says committed spans wait behind a
    // transaction still running elsewhere (other test files share the database)
    type Page = { edges: { node: { this: string } }[]; pageInfo: { heldBack: boolean } };
    let timeline: Page = { edges: [], pageInfo: { heldBack: true } };
    for (let tries = 0; timeline.pageInfo.heldBack && tries < 300; tries += 1) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      const answer = await gql(auth.token ?? '', 'query($f: SpanFilter) { timeline(filter: $f) { edges { node { this } } pageInfo { heldBack } } }', { f: { entityTypes: [type] } });
      timeline = answer.data?.timeline as Page;
    }
    client.close();
    // then the live events are exactly what the token reads back from the timeline
    const live = client.dataFor('live').map((frame) => (JSON.parse((frame.payload?.data as { onTimeline: { span: string } }).onTimeline.span) as { this: string }).this);
    const readBack = timeline.edges.map((edge) => edge.node.this);
    expect(live.sort()).toEqual([...expected].sort());
    expect(readBack.sort()).toEqual([...expected].sort());
  });
});
