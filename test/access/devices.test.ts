import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { keyFingerprint } from '../../functions/access/devices.ts';
import { hashSpan, signerFromSeed, type Signer } from '../../functions/ledger/index.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { rowCount } from '../support/ledger.ts';

let t: TestServer;
let owner: Record<string, string>;
const suffix = randomBytes(3).toString('hex');
const user = `dev-owner-${suffix}`;
const tenant = `acme-${suffix}`;
beforeAll(async () => {
  t = await startTestServer();
  owner = { authorization: await t.issuer.issue({ user, tenant }) };
});
afterAll(() => t.close());

async function gql(query: string, variables?: Record<string, unknown>) {
  const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...owner }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { errorType: string; message: string }[] };
}

/** A span from a device, signed by `key`. */
function deviceSpan(deviceId: string, key: Signer) {
  const span = {
    id: randomUUID(), seq: 0, entityType: 'reading', who: `device:${deviceId}`, did: 'measured', this: 'temperature',
    at: '2026-11-26T22:00:00.000Z', ownerId: user, tenantId: tenant, visibility: 'tenant', isDeleted: false,
    deviceId, publicKey: key.publicKeyHex, sigKeyId: `device:${deviceId}`,
  };
  const currHash = hashSpan(span);
  return { ...span, currHash, signature: key.sign(currHash) };
}

const APPEND = 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id deviceId publicKey } }';

describe('devices', () => {
  let appId: string;
  let deviceId: string;
  const key = signerFromSeed(randomBytes(32).toString('hex'));

  beforeAll(async () => {
    const registered = await gql('mutation { registerApp(input: { name: "sensor-fleet", scopes: ["span.write"] }) { app { id } } }');
    appId = (registered.data?.registerApp as { app: { id: string } }).app.id;
    const device = await gql('mutation D($a: ID!, $k: String!, $f: String!) { registerDevice(appId: $a, publicKey: $k, fingerprint: $f) { id status fingerprint } }', {
      a: appId, k: key.publicKeyHex, f: keyFingerprint(key.publicKeyHex),
    });
    deviceId = (device.data?.registerDevice as { id: string }).id;
  });

  test('a span signed by a registered device is accepted and marked with the device', async () => {
    const result = await gql(APPEND, { input: deviceSpan(deviceId, key) });
    expect(result.errors).toBeUndefined();
    expect(result.data?.appendSpan).toMatchObject({ deviceId, publicKey: key.publicKeyHex });
  });

  test('a span naming the device but signed by an unregistered key is refused, and nothing is written', async () => {
    const before = await rowCount(t.ledger.db);
    const stranger = signerFromSeed(randomBytes(32).toString('hex'));
    const result = await gql(APPEND, { input: deviceSpan(deviceId, stranger) });
    expect(result.errors?.[0]).toMatchObject({ errorType: 'SignatureInvalid' });
    expect(result.errors?.[0]?.message).toMatch(/not registered/);
    expect(await rowCount(t.ledger.db)).toBe(before);
  });

  test('a wrong fingerprint is refused', async () => {
    const other = signerFromSeed(randomBytes(32).toString('hex'));
    const result = await gql('mutation D($a: ID!, $k: String!) { registerDevice(appId: $a, publicKey: $k, fingerprint: "00") { id } }', { a: appId, k: other.publicKeyHex });
    expect(result.errors?.[0]).toMatchObject({ errorType: 'ValidationError' });
  });

  test('after revokeDevice its signatures are refused', async () => {
    const second = signerFromSeed(randomBytes(32).toString('hex'));
    const device = await gql('mutation D($a: ID!, $k: String!, $f: String!) { registerDevice(appId: $a, publicKey: $k, fingerprint: $f) { id } }', {
      a: appId, k: second.publicKeyHex, f: keyFingerprint(second.publicKeyHex),
    });
    const id = (device.data?.registerDevice as { id: string }).id;
    expect((await gql(APPEND, { input: deviceSpan(id, second) })).errors).toBeUndefined();
    await gql('mutation R($id: ID!) { revokeDevice(id: $id) { status } }', { id });
    const refused = await gql(APPEND, { input: deviceSpan(id, second) });
    expect(refused.errors?.[0]).toMatchObject({ errorType: 'SignatureInvalid' });
    expect(refused.errors?.[0]?.message).toMatch(/revoked/);
  });
});
