import { readFileSync } from 'node:fs';
import * as ed from '@noble/ed25519';
import { blake3 } from '@noble/hashes/blake3.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, blake3Hex, canonicalString, signerFromSeed, verifyDigestSignature } from '../../functions/ledger/index.ts';
import { verifySpanLocally } from '../../client/index.ts';
import { openTestLedger, type TestLedger } from '../support/ledger.ts';

ed.hashes.sha512 = sha512;

interface Vector {
  name: string;
  input: Record<string, unknown>;
  canonical: string;
  hash: string;
  signature: string;
}
const file = JSON.parse(readFileSync(new URL('../vectors/spans.json', import.meta.url), 'utf8')) as { seed: string; publicKey: string; vectors: Vector[] };

describe('canonical-form test vectors (test/vectors/spans.json)', () => {
  test.each(file.vectors.map((v) => [v.name, v] as const))('%s: canonical string, hash and both Ed25519 implementations', async (_name, vector) => {
    // canonical form and BLAKE3, computed by the server's code and by an independent implementation
    expect(canonicalString(vector.input)).toBe(vector.canonical);
    expect(blake3Hex(utf8ToBytes(vector.canonical))).toBe(vector.hash);
    expect(bytesToHex(blake3(utf8ToBytes(vector.canonical)))).toBe(vector.hash);
    // node:crypto (server hot path) and @noble/ed25519 (portable) sign and verify alike
    expect(signerFromSeed(file.seed).sign(vector.hash)).toBe(vector.signature);
    expect(bytesToHex(await ed.signAsync(hexToBytes(vector.hash), hexToBytes(file.seed)))).toBe(vector.signature);
    expect(await ed.verifyAsync(hexToBytes(vector.signature), hexToBytes(vector.hash), hexToBytes(file.publicKey))).toBe(true);
    expect(verifyDigestSignature(file.publicKey, vector.hash, vector.signature)).toBe(true);
    // the portable client verifier (pure JS, for browsers) agrees, and notices a changed field
    const signed = { ...vector.input, currHash: vector.hash, signature: vector.signature };
    expect(verifySpanLocally(signed)).toEqual({ hashOk: true, signatureOk: true, computedHash: vector.hash });
    expect(verifySpanLocally({ ...signed, did: 'forged' }).hashOk).toBe(false);
  });
});

describe('the building blocks agree with their published test vectors', () => {
  test('Ed25519: RFC 8032 §7.1 test 1, on both implementations', async () => {
    const signer = signerFromSeed(file.seed);
    const rfcSignature = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    expect(signer.publicKeyHex).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(bytesToHex(await ed.getPublicKeyAsync(hexToBytes(file.seed)))).toBe(signer.publicKeyHex);
    expect(signer.sign('')).toBe(rfcSignature);
    expect(bytesToHex(await ed.signAsync(new Uint8Array(), hexToBytes(file.seed)))).toBe(rfcSignature);
  });

  test('BLAKE3: the reference vectors for "" and "abc"', () => {
    expect(blake3Hex(new Uint8Array())).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect(blake3Hex(utf8ToBytes('abc'))).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  });

  test('JCS (RFC 8785): numbers in ECMAScript form, keys in UTF-16 order', () => {
    expect(canonicalize({ a: 1e21, b: 1e-7, c: 0.000001, d: -0, e: 333333333.3333333, f: 4.5 })).toBe('{"a":1e+21,"b":1e-7,"c":0.000001,"d":0,"e":333333333.3333333,"f":4.5}');
    // U+1F600 is a surrogate pair (D83D DE00): it sorts before U+FB33 in UTF-16, after it in code points.
    expect(canonicalize({ '\ufb33': 1, '\ud83d\ude00': 2, '\u20ac': 3, '1': 4, '\r': 5 })).toBe('{"\\r":5,"1":4,"\u20ac":3,"\ud83d\ude00":2,"\ufb33":1}');
  });
});

describe('stored spans keep the vectors’ hashes', () => {
  let ledger: TestLedger;
  beforeAll(async () => {
    ledger = await openTestLedger();
  });
  afterAll(() => ledger.close());

  test('each vector, appended with its signature, is stored with the same hash', async () => {
    for (const vector of file.vectors) {
      const identity = { userId: String(vector.input.ownerId), tenantId: 'acme' };
      const stored = await appendSpan(ledger, identity, { ...vector.input, currHash: vector.hash, signature: vector.signature });
      expect(stored.currHash).toBe(vector.hash);
      expect(canonicalString(stored as unknown as Record<string, unknown>)).toBe(vector.canonical);
    }
  });
});
