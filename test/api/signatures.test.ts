import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashSpan, signerFromSeed } from '../../functions/ledger/index.ts';
import { rowCount } from '../support/ledger.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

let api: TestApi;
const suffix = randomBytes(3).toString('hex');
const user = `dev-${suffix}`;
const tenant = `acme-${suffix}`;
let auth: Record<string, string>;
beforeAll(async () => {
  api = await startTestApi();
  auth = { authorization: await api.token(user, tenant) };
});
afterAll(() => api.close());

const APPEND = `mutation Append($input: SpanInput!) { appendSpan(input: $input) { id currHash signature publicKey chainSeq } }`;
const device = signerFromSeed(randomBytes(32).toString('hex'), 'device-7');

function signedInput(overrides: Record<string, unknown> = {}) {
  const span = {
    id: randomUUID(), seq: 0, entityType: 'reading', who: 'device:7', did: 'measured', this: 'temperature',
    at: '2026-11-26T21:00:00.000Z', ownerId: user, tenantId: tenant, visibility: 'tenant', isDeleted: false,
    content: { celsius: 21.5 }, publicKey: device.publicKeyHex, sigKeyId: 'device-7', ...overrides,
  };
  const currHash = hashSpan(span);
  // AWSJSON travels as JSON text
  return { input: { ...span, content: JSON.stringify(span.content), currHash, signature: device.sign(currHash) }, currHash };
}

describe('client-signed spans over the API', () => {
  test('a span signed by its client is accepted and keeps its hash and signature', async () => {
    const { input, currHash } = signedInput();
    const { body } = await api.request(auth, APPEND, { input });
    expect(body.errors).toBeUndefined();
    expect(body.data?.appendSpan).toMatchObject({ currHash, signature: input.signature, publicKey: device.publicKeyHex });
  });

  test('a wrongly signed span is refused with SignatureInvalid and nothing is written', async () => {
    const { input } = signedInput();
    const before = await rowCount(api.ledger.db);
    const { body } = await api.request(auth, APPEND, { input: { ...input, this: 'humidity' } });
    expect(body.errors?.[0]).toMatchObject({ errorType: 'SignatureInvalid', path: ['appendSpan'] });
    expect(body.errors?.[0]?.message).toMatch(/does not match the canonical form/);
    expect(await rowCount(api.ledger.db)).toBe(before);
  });

  test('verifyLedger reports a row tampered with in the database, naming it', async () => {
    const first = (await api.request(auth, APPEND, { input: signedInput().input })).body.data?.appendSpan as { id: string; chainSeq: number };
    await api.request(auth, APPEND, { input: signedInput().input });
    const clean = await api.request(auth, '{ verifyLedger { ok checked } }');
    expect(clean.body.data?.verifyLedger).toMatchObject({ ok: true });
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('set local session_replication_role = replica');
      await tx.query(`update ledger.universal_registry set content = '{"celsius": 99}' where id = $1`, [first.id]);
    });
    const { body } = await api.request(auth, '{ verifyLedger { ok checked failure { id chainSeq code reason } } }');
    expect(body.data?.verifyLedger).toMatchObject({ ok: false, checked: first.chainSeq - 1, failure: { id: first.id, chainSeq: first.chainSeq, code: 'hash_mismatch' } });
    const one = await api.request(auth, `{ verifySpan(id: "${first.id}") { ok code computedHash currHash } }`);
    expect(one.body.data?.verifySpan).toMatchObject({ ok: false, code: 'hash_mismatch' });
  });
});
