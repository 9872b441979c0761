import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { blake3Hex, canonicalBytes, signerFromSeed, verifyDigestSignature } from '../functions/ledger/index.ts';
import { line, rate, ratio, timedSync } from './report.ts';
import { sampleSpan } from './spans.ts';

ed.hashes.sha512 = sha512;

/** BLAKE3 and Ed25519 implementations, on canonical spans of realistic size. */
export async function hashingBench(): Promise<void> {
  const inputs = Array.from({ length: 20_000 }, (_, i) => canonicalBytes(sampleSpan(i, 'bench')));
  const bytes = inputs.reduce((sum, input) => sum + input.length, 0);
  console.log(`\n# hashing: ${inputs.length} canonical spans, ${Math.round(bytes / inputs.length)} bytes on average`);

  for (let i = 0; i < 2_000; i += 1) blake3Hex(inputs[i % inputs.length] ?? new Uint8Array());
  const wasm = timedSync(() => inputs.forEach((input) => blake3Hex(input)));
  const noble = timedSync(() => inputs.forEach((input) => bytesToHex(nobleBlake3(input))));
  const sha = timedSync(() => inputs.forEach((input) => createHash('sha256').update(input).digest('hex')));
  line('BLAKE3 hash-wasm (used)', rate(inputs.length, wasm));
  line('BLAKE3 @noble/hashes', rate(inputs.length, noble));
  line('SHA-256 node:crypto (reference)', rate(inputs.length, sha));
  ratio('hash-wasm ÷ @noble/hashes', noble / wasm, '> 1 (choose the faster)');

  const signer = signerFromSeed('42'.repeat(32));
  const digests = inputs.slice(0, 2_000).map((input) => blake3Hex(input));
  const signatures = digests.map((digest) => signer.sign(digest));
  const nodeSign = timedSync(() => digests.forEach((digest) => signer.sign(digest)));
  const nodeVerify = timedSync(() => digests.forEach((digest, i) => verifyDigestSignature(signer.publicKeyHex, digest, signatures[i] ?? '')));
  const seed = Buffer.from('42'.repeat(32), 'hex');
  const some = digests.slice(0, 300).map((digest) => Buffer.from(digest, 'hex'));
  const nobleSign = timedSync(() => some.forEach((digest) => ed.sign(digest, seed)));
  const pub = Buffer.from(signer.publicKeyHex, 'hex');
  const nobleVerify = timedSync(() => some.forEach((digest, i) => ed.verify(Buffer.from(signatures[i] ?? '', 'hex'), digest, pub)));
  line('Ed25519 sign, node:crypto (server)', rate(digests.length, nodeSign));
  line('Ed25519 verify, node:crypto (server)', rate(digests.length, nodeVerify));
  line('Ed25519 sign, @noble/ed25519 (portable)', rate(some.length, nobleSign));
  line('Ed25519 verify, @noble/ed25519 (portable)', rate(some.length, nobleVerify));
}
