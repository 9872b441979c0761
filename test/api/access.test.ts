import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rowCount, settled } from '../support/ledger.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

/*
 * Two tenants and the API key, black-box over HTTP: each caller sees exactly what SPEC §3.3 allows
 * through span, spans and timeline, and nobody can append as someone else.
 */

let api: TestApi;
const suffix = randomBytes(3).toString('hex');
const headers: Record<string, Record<string, string>> = {};
const written: Record<string, { id: string; visibility: string }> = {};

const APPEND = `mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq ownerId tenantId visibility txId } }`;
const SPANS = `query List($filter: SpanFilter) { spans(filter: $filter, first: 100) { edges { node { id visibility } } } }`;
const TIMELINE = `query Timeline($filter: SpanFilter) { timeline(filter: $filter, first: 100) { edges { cursor node { id visibility } } } }`;
const SPAN = `query One($id: ID!) { span(id: $id) { id visibility } }`;

beforeAll(async () => {
  api = await startTestApi();
  headers.alice = { authorization: await api.token(`alice-${suffix}`, `acme-${suffix}`) };
  headers.amy = { authorization: await api.token(`amy-${suffix}`, `acme-${suffix}`) };
  headers.gary = { authorization: await api.token(`gary-${suffix}`, `globex-${suffix}`) };
  headers.anonymous = { 'x-api-key': api.apiKey };
  let last = '0';
  for (const visibility of ['private', 'tenant', 'public']) {
    const { body } = await api.request(headers.alice ?? {}, APPEND, { input: { entityType: `api_${suffix}`, who: 'user:alice', did: 'wrote', this: visibility, visibility } });
    const span = body.data?.appendSpan as { id: string; visibility: string; txId: string };
    written[visibility] = span;
    last = span.txId;
  }
  await settled(api.ledger.db, last);
});
afterAll(() => api.close());

const visibilities = (body: { data?: Record<string, unknown> | null }, field: string) =>
  ((body.data?.[field] as { edges: { node: { visibility: string } }[] }).edges.map((edge) => edge.node.visibility)).sort();

describe.each([
  ['alice (owner)', 'alice', ['private', 'public', 'tenant']],
  ['amy (same tenant)', 'amy', ['public', 'tenant']],
  ['gary (other tenant)', 'gary', ['public']],
  ['the API key (no identity)', 'anonymous', ['public']],
])('%s', (_label, who, expected) => {
  test('spans and timeline return exactly the spans the rules allow', async () => {
    const filter = { entityTypes: [`api_${suffix}`] };
    const list = await api.request(headers[who] ?? {}, SPANS, { filter });
    const feed = await api.request(headers[who] ?? {}, TIMELINE, { filter });
    expect(list.status).toBe(200);
    expect(visibilities(list.body, 'spans')).toEqual(expected);
    expect(visibilities(feed.body, 'timeline')).toEqual(expected);
  });

  test('span(id) finds each span exactly when the rules allow it', async () => {
    for (const visibility of ['private', 'tenant', 'public']) {
      const { body } = await api.request(headers[who] ?? {}, SPAN, { id: written[visibility]?.id });
      expect(body.errors).toBeUndefined();
      expect((body.data?.span as { visibility: string } | null)?.visibility ?? null).toBe(expected.includes(visibility) ? visibility : null);
    }
  });
});

describe('nobody can append as someone else', () => {
  test.each([
    ['ownerId of another user', { ownerId: `alice-${suffix}` }, 'Forbidden'],
    ['tenantId of another tenant', { tenantId: `acme-${suffix}` }, 'Forbidden'],
  ])('%s is refused and nothing is written', async (_name, extra, errorType) => {
    const before = await rowCount(api.ledger.db);
    const { body } = await api.request(headers.gary ?? {}, APPEND, { input: { entityType: 'note', who: 'user:gary', did: 'wrote', this: 'x', ...extra } });
    expect(body.data).toBeNull();
    expect(body.errors?.[0]).toMatchObject({ errorType, path: ['appendSpan'] });
    expect(await rowCount(api.ledger.db)).toBe(before);
  });

  test('the API key cannot append at all', async () => {
    const before = await rowCount(api.ledger.db);
    const { status, body } = await api.request(headers.anonymous ?? {}, APPEND, { input: { entityType: 'note', who: 'anon', did: 'wrote', this: 'x' } });
    expect(status).toBe(200);
    expect(body.errors?.[0]).toMatchObject({ errorType: 'Unauthorized', message: 'Not Authorized to access appendSpan on type Mutation', path: ['appendSpan'] });
    expect(await rowCount(api.ledger.db)).toBe(before);
  });

  test('identity comes from the token, not the request', async () => {
    const { body } = await api.request(headers.amy ?? {}, APPEND, { input: { entityType: 'note', who: 'user:amy', did: 'wrote', this: 'mine' } });
    expect(body.data?.appendSpan).toMatchObject({ ownerId: `amy-${suffix}`, tenantId: `acme-${suffix}` });
  });
});
