/**
 * Writes test/vectors/spans.json: span → canonical string → BLAKE3 → Ed25519 signature, with the
 * RFC 8032 test key. Run `npm run vectors` only when the canonical form is deliberately changed:
 * the vectors are a contract with every client that verifies spans.
 */
import { writeFileSync } from 'node:fs';
import { blake3Hex, canonicalString } from '../../functions/ledger/canonical.ts';
import { signerFromSeed } from '../../functions/ledger/signing.ts';
import { VECTOR_INPUTS, VECTOR_SEED } from './inputs.ts';

const signer = signerFromSeed(VECTOR_SEED, 'test-vector-key');
const vectors = VECTOR_INPUTS.map(({ name, span }) => {
  const input = { ...span, publicKey: signer.publicKeyHex, sigKeyId: signer.keyId };
  const canonical = canonicalString(input);
  const hash = blake3Hex(new TextEncoder().encode(canonical));
  return { name, input, canonical, hash, signature: signer.sign(hash) };
});
writeFileSync(
  new URL('./spans.json', import.meta.url),
  `${JSON.stringify({ seed: VECTOR_SEED, publicKey: signer.publicKeyHex, vectors }, null, 2)}\n`,
);
console.log(`wrote ${vectors.length} vectors`);
