import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * The visibility matrix over real sockets: every span reaches exactly the subscribers the database
 * would let read it (SPEC §3.3).
 */

let api: TestApi;
const suffix = randomBytes(3).toString('hex');
const type = `vis_${suffix}`;
const SUBSCRIBE = `subscription Live($types: [String!]) { onTimeline(entityTypes: $types) { id visibility ownerId tenantId } }`;
const APPEND = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id } }';

interface Persona {
  readonly name: string;
  readonly auth: Record<string, string>;
  readonly user: string | null;
  readonly tenant: string | null;
  client?: RealtimeTestClient;
}
const personas: Persona[] = [];

beforeAll(async () => {
  api = await startTestApi();
  const host = new URL(api.url).host;
  for (const [name, tenant] of [['alice', 'acme'], ['amy', 'acme'], ['gary', 'globex']] as const) {
    const user = `${name}-${suffix}`;
    personas.push({ name, user, tenant: `${tenant}-${suffix}`, auth: { Authorization: await api.token(user, `${tenant}-${suffix}`) } });
  }
  personas.push({ name: 'api-key', user: null, tenant: null, auth: { 'x-api-key': api.apiKey } });
  for (const persona of personas) {
    persona.client = await RealtimeTestClient.open(api.url, persona.auth);
    await persona.client.init();
    persona.client.start('live', SUBSCRIBE, { types: [type] }, persona.auth, host);
    await persona.client.next((f) => f.type === 'start_ack');
  }
});
afterAll(async () => {
  for (const persona of personas) persona.client?.close();
  await api.close();
});

/** Who may read a span, by the database's rules. */
const mayRead = (reader: Persona, span: { owner: Persona; visibility: string }) =>
  span.visibility === 'public' ||
  (reader.user !== null && reader.user === span.owner.user) ||
  (span.visibility === 'tenant' && reader.tenant !== null && reader.tenant === span.owner.tenant);

describe('live timeline visibility', () => {
  test('each span reaches exactly the subscribers allowed to read it', async () => {
    // when every user writes one span of each visibility
    const written: { id: string; owner: Persona; visibility: string }[] = [];
    for (const owner of personas.filter((p) => p.user !== null)) {
      for (const visibility of ['private', 'tenant', 'public']) {
        const { body } = await api.request(owner.auth, APPEND, { input: { entityType: type, who: owner.name, did: 'wrote', this: visibility, visibility } });
        written.push({ id: (body.data?.appendSpan as { id: string }).id, owner, visibility });
      }
    }
    // then, once the last public span (which everyone gets) has arrived everywhere
    const lastPublic = written.filter((w) => w.visibility === 'public').at(-1)?.id;
    for (const persona of personas) {
      await persona.client?.next((f) => f.type === 'data' && (f.payload?.data as { onTimeline: { id: string } }).onTimeline.id === lastPublic);
    }
    for (const persona of personas) {
      const received = (persona.client?.dataFor('live') ?? []).map((f) => (f.payload?.data as { onTimeline: { id: string } }).onTimeline.id);
      const expected = written.filter((span) => mayRead(persona, span)).map((span) => span.id);
      expect({ persona: persona.name, received }).toEqual({ persona: persona.name, received: expected });
    }
    // and the matrix is not trivial: someone got a private span and someone was denied one
    expect(personas.map((p) => p.client?.dataFor('live').length)).toEqual([6, 6, 5, 3]);
  });
});
