import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, getSpan, hashSpan, signerFromSeed, verifyChain, verifyDigestSignature } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, rowCount, testSigner, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
let unsigned: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
  unsigned = { ...ledger, signer: undefined } as unknown as TestLedger;
});
afterAll(() => ledger.close());

const base = { entityType: 'note', who: 'user:test', did: 'wrote', this: 'a note' };

describe('appendSpan', () => {
  test('fills defaults, hashes, signs with the deployment key and links the first span of a chain', async () => {
    // given
    const alice = persona('alice', 'acme');
    // when
    const span = await appendSpan(ledger, alice, { ...base, metadata: { n: 1 } });
    // then
    expect(span.ownerId).toBe(alice.userId);
    expect(span.tenantId).toBe(alice.tenantId);
    expect(span.visibility).toBe('private');
    expect(span.isDeleted).toBe(false);
    expect(span.seq).toBe(0);
    expect(span.chainSeq).toBe(1);
    expect(span.prevHash).toBeNull();
    expect(span.currHash).toBe(hashSpan(span as unknown as Record<string, unknown>));
    expect(span.publicKey).toBe(testSigner.publicKeyHex);
    expect(span.sigKeyId).toBe('deployment');
    expect(verifyDigestSignature(testSigner.publicKeyHex, span.currHash, span.signature ?? '')).toBe(true);
    expect(Date.parse(span.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('links each span of a tenant to the one before it', async () => {
    const bob = persona('bob', 'acme');
    const first = await appendSpan(ledger, bob, base);
    const second = await appendSpan(ledger, bob, base);
    expect(second.chainSeq).toBe(first.chainSeq + 1);
    expect(second.prevHash).toBe(first.currHash);
    expect(second.position).toBeGreaterThan(first.position);
    const report = await verifyChain(ledger, bob.tenantId ?? '');
    expect(report).toMatchObject({ ok: true, checked: 2, head: { chainSeq: 2, currHash: second.currHash } });
  });

  test('a retry of the same (id, seq) returns the stored span and writes nothing', async () => {
    const carol = persona('carol', 'acme');
    const id = randomUUID();
    const first = await appendSpan(ledger, carol, { ...base, id, seq: 0 });
    const before = await rowCount(ledger.db);
    const again = await appendSpan(ledger, carol, { ...base, id, seq: 0 });
    expect(again).toEqual(first);
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('a different span under an existing (id, seq) is a conflict', async () => {
    const carol = persona('carol', 'acme');
    const id = randomUUID();
    await appendSpan(ledger, carol, { ...base, id, seq: 0 });
    const before = await rowCount(ledger.db);
    await expect(appendSpan(ledger, carol, { ...base, id, seq: 0, did: 'changed' })).rejects.toMatchObject({
      errorType: 'Conflict',
      message: expect.stringContaining('append seq 1'),
    });
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('new versions take the next seq; a skipped seq is refused', async () => {
    const dave = persona('dave', 'acme');
    const v0 = await appendSpan(ledger, dave, { ...base, status: 'draft' });
    const v1 = await appendSpan(ledger, dave, { ...base, id: v0.id, status: 'active' });
    expect(v1.seq).toBe(1);
    expect((await getSpan(ledger, dave, v0.id))?.status).toBe('active');
    expect((await getSpan(ledger, dave, v0.id, 0))?.status).toBe('draft');
    await expect(appendSpan(ledger, dave, { ...base, id: v0.id, seq: 5 })).rejects.toMatchObject({
      errorType: 'ValidationError',
      errorInfo: { field: 'seq' },
    });
  });

  test("a new version of another user's span is refused", async () => {
    const suffix = randomBytes(3).toString('hex');
    const erin = persona('erin', 'acme', suffix);
    const frank = persona('frank', 'acme', suffix);
    const shared = await appendSpan(ledger, erin, { ...base, visibility: 'tenant' });
    await expect(appendSpan(ledger, frank, { ...base, id: shared.id, seq: 1 })).rejects.toMatchObject({ errorType: 'Forbidden' });
    await expect(appendSpan(ledger, frank, { ...base, id: shared.id })).rejects.toMatchObject({ errorType: 'Forbidden' });
  });

  test('a client-signed span is kept with its signature, and the deployment does not re-sign it', async () => {
    const gina = persona('gina', 'acme');
    const device = signerFromSeed(randomBytes(32).toString('hex'), 'device-1');
    const draft = {
      ...base,
      id: randomUUID(),
      seq: 0,
      at: '2026-11-26T12:00:00.000Z',
      ownerId: gina.userId,
      tenantId: gina.tenantId,
      visibility: 'tenant',
      isDeleted: false,
      publicKey: device.publicKeyHex,
      sigKeyId: 'device-1',
    };
    const currHash = hashSpan(draft);
    const span = await appendSpan(ledger, gina, { ...draft, currHash, signature: device.sign(currHash) });
    expect(span.currHash).toBe(currHash);
    expect(span.publicKey).toBe(device.publicKeyHex);
    expect(verifyDigestSignature(device.publicKeyHex, currHash, span.signature ?? '')).toBe(true);
  });

  test('a wrongly signed span is refused with SignatureInvalid and nothing is written', async () => {
    const hana = persona('hana', 'acme');
    const device = signerFromSeed(randomBytes(32).toString('hex'));
    const other = signerFromSeed(randomBytes(32).toString('hex'));
    const draft = { ...base, id: randomUUID(), seq: 0, at: '2026-11-26T12:00:00.000Z', ownerId: hana.userId, tenantId: hana.tenantId, visibility: 'private', isDeleted: false, publicKey: device.publicKeyHex };
    const currHash = hashSpan(draft);
    const before = await rowCount(ledger.db);
    await expect(appendSpan(ledger, hana, { ...draft, signature: other.sign(currHash) })).rejects.toMatchObject({
      errorType: 'SignatureInvalid',
      errorInfo: { field: 'signature' },
    });
    // the signature is right but the content changed after signing
    await expect(appendSpan(ledger, hana, { ...draft, did: 'forged', signature: device.sign(currHash) })).rejects.toMatchObject({
      errorType: 'SignatureInvalid',
    });
    await expect(appendSpan(ledger, hana, { ...draft, currHash: 'ab'.repeat(32), signature: device.sign(currHash) })).rejects.toMatchObject({
      errorType: 'SignatureInvalid',
      errorInfo: { field: 'currHash', expected: currHash },
    });
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('without a deployment key, spans are hashed and left unsigned', async () => {
    const ivan = persona('ivan', 'acme');
    const span = await appendSpan(unsigned, ivan, base);
    expect(span.signature).toBeNull();
    expect(span.publicKey).toBeNull();
    expect(span.currHash).toBe(hashSpan(span as unknown as Record<string, unknown>));
  });

  test('tenantless spans form their own chain', async () => {
    const solo = persona('solo', null);
    const span = await appendSpan(ledger, solo, { ...base, visibility: 'public' });
    expect(span.tenantId).toBeNull();
    expect(span.chainKey).toBe('');
    expect((await verifyChain(ledger, '')).ok).toBe(true);
  });

  test('jsonb, arrays and unicode survive the round trip and keep their hash', async () => {
    const june = persona('june', 'acme');
    const content = { text: 'naïve 日本語 🚀', nested: { b: [1, 2.5, -0, 1e21, null, true], a: 'x' }, '': 'empty key' };
    const span = await appendSpan(ledger, june, { ...base, content, relatedTo: [randomUUID().toUpperCase()], tags: ['a', 'ü'] });
    const stored = await getSpan(ledger, june, span.id);
    expect(stored?.content).toEqual({ text: 'naïve 日本語 🚀', nested: { b: [1, 2.5, 0, 1e21, null, true], a: 'x' }, '': 'empty key' });
    expect(stored?.relatedTo?.[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(hashSpan(stored as unknown as Record<string, unknown>)).toBe(span.currHash);
  });
});
