import { randomBytes } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/issuer.ts';
import { rowCount } from '../support/ledger.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let api: TestApi;
let alice: Record<string, string>;
beforeAll(async () => {
  api = await startTestApi();
  alice = { authorization: await api.token(`alice-${randomBytes(3).toString('hex')}`, 'acme') };
});
afterAll(() => api.close());

const APPEND = `mutation Append($input: SpanInput!) { appendSpan(input: $input) { id } }`;
const note = { entityType: 'note', who: 'user:alice', did: 'wrote', this: 'x' };

describe('errors in AppSync’s shape', () => {
  test('a domain error carries errorType, message, path and locations at the root of the error', async () => {
    const before = await rowCount(api.ledger.db);
    const { status, body } = await api.request(alice, APPEND, { input: { ...note, visibility: 'everyone' } });
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors).toEqual([
      {
        path: ['appendSpan'],
        data: null,
        errorType: 'ValidationError',
        errorInfo: null,
        locations: [{ line: 1, column: 39, sourceName: null }],
        message: 'visibility: must be one of private, tenant, public (got "everyone"). Send one of: private, tenant, public.',
      },
    ]);
    expect(await rowCount(api.ledger.db)).toBe(before);
  });

  test('invalid AWSJSON is refused as a validation error before any resolver runs', async () => {
    const before = await rowCount(api.ledger.db);
    const { body } = await api.request(alice, APPEND, { input: { ...note, metadata: '{not json' } });
    expect(body.errors?.[0]?.errorType).toBe('ValidationError');
    expect(body.errors?.[0]?.message).toMatch(/AWSJSON/);
    expect(await rowCount(api.ledger.db)).toBe(before);
  });

  test('invalid AWSDateTime is refused as a validation error', async () => {
    const { body } = await api.request(alice, APPEND, { input: { ...note, at: 'next tuesday' } });
    expect(body.errors?.[0]).toMatchObject({ errorType: 'ValidationError' });
    expect(body.errors?.[0]?.message).toMatch(/AWSDateTime/);
  });

  test('a query that does not fit the schema is a validation error', async () => {
    const { body } = await api.request(alice, '{ span(id: "x") { nosuchfield } }');
    expect(body.errors?.[0]).toMatchObject({ errorType: 'ValidationError', message: expect.stringContaining('nosuchfield') });
  });

  test('a malformed body is a 400', async () => {
    const response = await fetch(api.url, { method: 'POST', headers: { ...alice, 'content-type': 'application/json' }, body: '{"query": ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ errorType: 'MalformedHttpRequestException' }] });
  });

  test('a field its auth mode does not allow is null with an Unauthorized error, the rest still answers', async () => {
    const { body } = await api.request({ 'x-api-key': api.apiKey }, '{ spans(first: 1) { pageInfo { hasNextPage } } verifyLedger { ok } }');
    expect(body.errors).toEqual([expect.objectContaining({ errorType: 'Unauthorized', path: ['verifyLedger'], message: 'Not Authorized to access verifyLedger on type Query' })]);
  });

  test('verifying another tenant’s chain needs the admin group', async () => {
    const { body } = await api.request(alice, '{ verifyLedger(tenantId: "globex") { ok } }');
    expect(body.errors?.[0]).toMatchObject({ errorType: 'Forbidden', path: ['verifyLedger'] });
    const admin = { authorization: await api.token('root', 'ops', ['admin']) };
    const allowed = await api.request(admin, '{ verifyLedger(tenantId: "globex") { ok checked } }');
    expect(allowed.body.data?.verifyLedger).toEqual({ ok: true, checked: 0 });
  });
});

describe('authentication', () => {
  const ping = '{ spans(first: 1) { pageInfo { hasNextPage } } }';
  test.each([
    ['no credentials', {}, 'You are not authorized to make this call.'],
    ['a wrong API key', { 'x-api-key': 'da2-wrong' }, 'You are not authorized to make this call.'],
    ['a token that is not a JWT', { authorization: 'hello' }, 'Valid authorization header not provided.'],
  ])('%s is a 401 UnauthorizedException', async (_name, headers, message) => {
    const { status, body } = await api.request(headers, ping);
    expect(status).toBe(401);
    expect(body).toEqual({ errors: [{ errorType: 'UnauthorizedException', message }] });
  });

  test('an expired token is refused', async () => {
    const expired = await api.issuer.issue({ user: 'alice', tenant: 'acme', ttlSeconds: -60 });
    const { status, body } = await api.request({ authorization: expired }, ping);
    expect(status).toBe(401);
    expect(body.errors?.[0]).toEqual({ errorType: 'UnauthorizedException', message: 'Token has expired.' });
  });

  test('a forged token (right claims, another key) is refused: signatures are verified, not decoded', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ 'custom:tenant_id': 'acme', token_use: 'id' })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('alice')
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const { status } = await api.request({ authorization: forged }, ping);
    expect(status).toBe(401);
  });

  test('a token with "alg: none" is refused', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    const { status } = await api.request({ authorization: `${header}.${payload}.` }, ping);
    expect(status).toBe(401);
  });
});
