import * as ed from '@noble/ed25519';
import { blake3 } from '@noble/hashes/blake3.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { CheckpointWitness, canonicalSpan, verifyConsistencyBetween, verifySpanInclusion, type InclusionProofAnswer, type ProofVerdict, type SpanProof, type TrustedLogKey } from '../../client/index.ts';
import { signCheckpoint } from '../../functions/ledger/checkpoint-note.ts';
import { appendToFrontier, consistencyProof, inclusionProof, nodeKey, rootHash } from '../../functions/ledger/merkle.ts';

/*
 * The client verifier against a forging server. The double is plain functions over the real Merkle
 * math and the real note signing; each forgery changes what it serves (a span, the tree behind the
 * checkpoint, the proof, the key) and must be caught every time, with a verdict that names it.
 */

ed.hashes.sha512 = sha512;

const LOG_SEED = new Uint8Array(32).fill(1);
const LOG_KEY: TrustedLogKey = { name: 'loglineos.local', publicKeyHex: bytesToHex(ed.getPublicKey(LOG_SEED)) };
const OTHER_SEED = new Uint8Array(32).fill(2);
const SPAN_SEED = hexToBytes('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const SPAN_PUBLIC = bytesToHex(ed.getPublicKey(SPAN_SEED));
const ORIGIN = 'loglineos.local/tenant/acme';
const TIME = '2026-01-31T12:00:00.000Z';

type Span = SpanProof & { id: string; chainSeq: number };

function hashOf(span: Record<string, unknown>): string {
  return bytesToHex(blake3(utf8ToBytes(canonicalSpan(span))));
}

/** A span as the API returns it; signed by the span key when asked. */
function makeSpan(i: number, signed = false, text = `note ${i}`): Span {
  const fields: Record<string, unknown> = {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    seq: 0,
    entityType: 'note',
    who: 'user:alice',
    did: 'wrote',
    this: text,
    at: '2026-01-31T11:00:00.000Z',
    ownerId: 'alice',
    tenantId: 'acme',
    visibility: 'tenant',
    isDeleted: false,
    ...(signed ? { publicKey: SPAN_PUBLIC, sigAlg: 'ed25519', sigKeyId: 'device-1' } : {}),
  };
  const currHash = hashOf(fields);
  const signature = signed ? bytesToHex(ed.sign(hexToBytes(currHash), SPAN_SEED)) : undefined;
  return { ...fields, currHash, ...(signature ? { signature } : {}), chainSeq: i + 1 } as Span;
}

/** The server double: a Merkle log over the leaves it chose, signing with the key it holds. */
function logServer(leaves: readonly string[], options: { origin?: string; seed?: Uint8Array } = {}) {
  const nodes = new Map<string, Uint8Array>();
  const frontier: { level: number; hash: Uint8Array }[] = [];
  leaves.forEach((leaf, i) => {
    for (const node of appendToFrontier(frontier, i, hexToBytes(leaf))) nodes.set(nodeKey(node.level, node.index), node.hash);
  });
  const seed = options.seed ?? LOG_SEED;
  const origin = options.origin ?? ORIGIN;
  const checkpoint = (size = leaves.length) =>
    signCheckpoint({ origin, size, rootHash: rootHash(size, nodes), time: TIME }, LOG_KEY.name, ed.getPublicKey(seed), (message) => ed.sign(message, seed));
  return {
    size: leaves.length,
    checkpoint,
    inclusion: (leafIndex: number, size = leaves.length): InclusionProofAnswer => ({
      leafIndex,
      treeSize: size,
      hashes: inclusionProof(leafIndex, size, nodes).map(bytesToHex),
      checkpoint: checkpoint(size),
    }),
    consistency: (from: number, to: number): string[] => consistencyProof(from, to, nodes).map(bytesToHex),
    /** The proof for where the server really keeps a leaf (undefined when it does not). */
    whereIs: (leaf: string) => leaves.indexOf(leaf),
  };
}

const N = 33; // not a power of two: right edges are hashed, not stored
const spans = Array.from({ length: N }, (_, i) => makeSpan(i, i % 3 === 0));
const honest = logServer(spans.map((s) => s.currHash));

function expectCaught(verdict: ProofVerdict, code: string, names: RegExp): void {
  expect(verdict.ok).toBe(false);
  if (!verdict.ok) {
    expect(verdict.code).toBe(code);
    expect(verdict.reason).toMatch(names);
  }
}
const nameOf = (span: Span) => new RegExp(`span ${span.id} seq 0 \\(chainSeq ${span.chainSeq}\\)`);

describe('an honest server', () => {
  test('every span is proven in every checkpoint that holds it', () => {
    for (const size of [1, 2, 16, 17, N]) {
      for (const span of spans.slice(0, size)) {
        const verdict = verifySpanInclusion(span, honest.inclusion(span.chainSeq - 1, size), LOG_KEY, { expectedOrigin: ORIGIN });
        expect(verdict).toMatchObject({ ok: true, checkpoint: { origin: ORIGIN, size } });
      }
    }
  });

  test('signed spans pass a trusted span key; unsigned or otherwise-signed ones do not', () => {
    const signed = spans[3] as Span;
    const unsigned = spans[4] as Span;
    expect(verifySpanInclusion(signed, honest.inclusion(3), LOG_KEY, { trustedSpanKeys: [SPAN_PUBLIC.toUpperCase()] }).ok).toBe(true);
    expectCaught(verifySpanInclusion(unsigned, honest.inclusion(4), LOG_KEY, { trustedSpanKeys: [SPAN_PUBLIC] }), 'bad_span', /not signed by a trusted span key \(signed by nobody\)/);
    expectCaught(verifySpanInclusion(signed, honest.inclusion(3), LOG_KEY, { trustedSpanKeys: [LOG_KEY.publicKeyHex] }), 'bad_span', new RegExp(`signed by ${SPAN_PUBLIC}`));
  });

  test('consistency between any two of its checkpoints holds, and a witness moves forward along them', async () => {
    for (const [from, to] of [[1, N], [16, 17], [17, N], [N, N], [5, 5]] as const) {
      expect(verifyConsistencyBetween(honest.checkpoint(from), honest.checkpoint(to), from === to ? [] : honest.consistency(from, to), LOG_KEY)).toMatchObject({ ok: true, checkpoint: { size: to } });
    }
    const witness = new CheckpointWitness(LOG_KEY);
    const asked: [number, number][] = [];
    const prove = async (from: number, to: number) => (asked.push([from, to]), honest.consistency(from, to));
    for (const size of [3, 3, 8, 20, N]) expect((await witness.accept(honest.checkpoint(size), prove)).ok).toBe(true);
    expect(asked).toEqual([[3, 8], [8, 20], [20, N]]);
    expect(witness.latest(ORIGIN)?.size).toBe(N);
  });

  test('the empty log: its checkpoint is kept and any growth follows it without a proof', async () => {
    const empty = logServer([]);
    const witness = new CheckpointWitness(LOG_KEY);
    expect((await witness.accept(empty.checkpoint(), () => Promise.reject(new Error('no proof is needed from size 0')))).ok).toBe(true);
    expect((await witness.accept(honest.checkpoint(4), () => Promise.reject(new Error('no proof is needed from size 0')))).ok).toBe(true);
    expect(verifyConsistencyBetween(empty.checkpoint(), honest.checkpoint(4), [], LOG_KEY).ok).toBe(true);
  });
});

describe('a forging server is caught every time', () => {
  test('an altered span (content changed, curr_hash kept): bad_span, naming it', () => {
    for (const span of spans) {
      const altered = { ...span, this: `${String(span.this)}!` };
      expectCaught(verifySpanInclusion(altered, honest.inclusion(span.chainSeq - 1), LOG_KEY), 'bad_span', nameOf(span));
    }
  });

  test('an altered span re-hashed by the server: a signed one fails its signature, an unsigned one is not in the log', () => {
    for (const span of spans) {
      const content = { ...span, this: `${String(span.this)}!` };
      const altered: Span = { ...content, currHash: hashOf(content) };
      const verdict = verifySpanInclusion(altered, honest.inclusion(span.chainSeq - 1), LOG_KEY);
      if (span.signature) expectCaught(verdict, 'bad_span', /signature does not verify/);
      else expectCaught(verdict, 'not_included', new RegExp(`${nameOf(span).source} is not leaf ${span.chainSeq - 1} of ${ORIGIN} at size ${N}`));
    }
  });

  test('a dropped span: the log holds the later spans one place early, and the dropped one nowhere', () => {
    for (let k = 0; k < N; k += 1) {
      const dropped = logServer(spans.filter((_, i) => i !== k).map((s) => s.currHash));
      for (const span of spans.slice(k)) {
        const where = dropped.whereIs(span.currHash);
        if (where < 0) {
          // nothing to prove: whatever index the server answers for, the span is not that leaf
          for (const index of [k, k - 1].filter((i) => i >= 0 && i < dropped.size)) expectCaught(verifySpanInclusion(span, dropped.inclusion(index), LOG_KEY, { leafIndex: index }), 'not_included', /is not leaf/);
          continue;
        }
        // the true proof is for another leaf than the span's chain position…
        expectCaught(verifySpanInclusion(span, dropped.inclusion(where), LOG_KEY), 'not_included', new RegExp(`is leaf ${span.chainSeq - 1} of its log, but the proof is for leaf ${where}`));
        // …and a proof relabelled with the expected index does not hold
        const relabelled = { ...dropped.inclusion(where), leafIndex: span.chainSeq - 1 };
        expectCaught(verifySpanInclusion(span, relabelled, LOG_KEY), 'not_included', /the inclusion proof does not hold|past the checkpoint's/);
      }
    }
  });

  test('two spans swapped in the log: each is refused at its chain position', () => {
    for (let k = 0; k + 1 < N; k += 1) {
      const leaves = spans.map((s) => s.currHash);
      [leaves[k], leaves[k + 1]] = [leaves[k + 1] as string, leaves[k] as string];
      const swapped = logServer(leaves);
      for (const span of [spans[k] as Span, spans[k + 1] as Span]) {
        const where = swapped.whereIs(span.currHash);
        expectCaught(verifySpanInclusion(span, swapped.inclusion(where), LOG_KEY), 'not_included', nameOf(span));
        expectCaught(verifySpanInclusion(span, { ...swapped.inclusion(where), leafIndex: span.chainSeq - 1 }, LOG_KEY), 'not_included', /does not hold/);
        expectCaught(verifySpanInclusion(span, swapped.inclusion(span.chainSeq - 1), LOG_KEY), 'not_included', /does not hold/);
      }
    }
  });

  test('a proof for another tree size than the checkpoint signs, or for a size that does not hold the span', () => {
    const span = spans[10] as Span;
    const answer = honest.inclusion(10, 20);
    expectCaught(verifySpanInclusion(span, { ...answer, checkpoint: honest.checkpoint(21) }, LOG_KEY), 'not_included', /a tree of 20 leaves, but the checkpoint signs 21/);
    expectCaught(verifySpanInclusion(span, { ...answer, treeSize: 21, checkpoint: honest.checkpoint(21) }, LOG_KEY), 'not_included', /does not hold/);
    expectCaught(verifySpanInclusion(span, { ...honest.inclusion(10, 11), treeSize: 10, checkpoint: honest.checkpoint(10) }, LOG_KEY), 'not_included', /past the checkpoint's 10 leaves/);
  });

  test('a tampered proof: a flipped byte, a hash dropped or added, or hashes that are not hex', () => {
    const span = spans[12] as Span;
    const answer = honest.inclusion(12);
    const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
    const variants = [
      ...answer.hashes.map((_, i) => answer.hashes.map((h, j) => (i === j ? flip(h) : h))),
      ...answer.hashes.map((_, i) => answer.hashes.filter((__, j) => j !== i)),
      [...answer.hashes, answer.hashes[0] as string],
      [span.currHash, ...answer.hashes],
      answer.hashes.map((h) => h.slice(2)),
      answer.hashes.map((h) => `${h.slice(0, -1)}g`),
    ];
    for (const hashes of variants) expectCaught(verifySpanInclusion(span, { ...answer, hashes }, LOG_KEY), 'not_included', nameOf(span));
  });

  test('a checkpoint signed by another key, of another log, or changed: wrong_log or bad_checkpoint', () => {
    const span = spans[5] as Span;
    const otherKey = logServer(spans.map((s) => s.currHash), { seed: OTHER_SEED });
    expectCaught(verifySpanInclusion(span, otherKey.inclusion(5), LOG_KEY), 'wrong_log', /not signed by the trusted key loglineos\.local/);
    const otherLog = logServer(spans.map((s) => s.currHash), { origin: 'loglineos.local/tenant/globex' });
    expectCaught(verifySpanInclusion(span, otherLog.inclusion(5), LOG_KEY, { expectedOrigin: ORIGIN }), 'wrong_log', /log loglineos\.local\/tenant\/globex, not loglineos\.local\/tenant\/acme/);
    const answer = honest.inclusion(5);
    expectCaught(verifySpanInclusion(span, { ...answer, checkpoint: answer.checkpoint.replace(`\n${N}\n`, `\n${N + 1}\n`) }, LOG_KEY), 'bad_checkpoint', /does not verify/);
    expectCaught(verifySpanInclusion(span, { ...answer, checkpoint: 'not a note' }, LOG_KEY), 'bad_checkpoint', /no blank line/);
    expectCaught(verifyConsistencyBetween(honest.checkpoint(4), otherKey.checkpoint(8), otherKey.consistency(4, 8), LOG_KEY), 'wrong_log', /the newer checkpoint: the note is not signed by the trusted key/);
    expectCaught(verifyConsistencyBetween(honest.checkpoint(4), otherLog.checkpoint(8), otherLog.consistency(4, 8), LOG_KEY), 'wrong_log', /different logs/);
  });

  test('a fork for one client: the same size with another root, or a bigger tree whose proof does not hold', async () => {
    for (let k = 0; k < N; k += 4) {
      // Given a witness that kept the honest log at size 20
      const witness = new CheckpointWitness(LOG_KEY);
      expect((await witness.accept(honest.checkpoint(20), () => Promise.reject(new Error('first checkpoint'))))).toMatchObject({ ok: true });
      // When the server forks the log at span k and shows the fork to this client
      const leaves = spans.map((s) => s.currHash);
      leaves[k] = makeSpan(k, false, 'forged').currHash;
      const fork = logServer(leaves);
      const sameSize = await witness.accept(fork.checkpoint(20), () => Promise.reject(new Error('no proof for equal sizes')));
      const bigger = await witness.accept(fork.checkpoint(N), async (from, to) => fork.consistency(from, to));
      const honestProof = await witness.accept(fork.checkpoint(N), async (from, to) => honest.consistency(from, to));
      // Then a fork before size 20 is caught, and named by both checkpoints
      if (k < 20) {
        expectCaught(sameSize, 'inconsistent', new RegExp(`size 20 \\(root ${rootHex(honest.checkpoint(20))}\\) and the checkpoint of ${ORIGIN} at size 20 \\(root [0-9a-f]{64}\\) have the same size and different roots: the log forked`));
        expectCaught(bigger, 'inconsistent', new RegExp(`at size ${N} .* does not extend the checkpoint of ${ORIGIN} at size 20`));
        expectCaught(honestProof, 'inconsistent', /does not extend/);
        expect(witness.latest(ORIGIN)?.size).toBe(20);
      } else {
        // a change after the kept size is a new span the witness has not seen: no fork of what it kept
        expect(sameSize.ok && bigger.ok).toBe(true);
      }
      expect(verifyConsistencyBetween(honest.checkpoint(20), fork.checkpoint(N), fork.consistency(20, N), LOG_KEY).ok).toBe(k >= 20);
    }
  });

  test('a consistency proof tampered, truncated, padded, or for other sizes', () => {
    const older = honest.checkpoint(13);
    const newer = honest.checkpoint(N);
    const proof = honest.consistency(13, N);
    const flip = (h: string) => h.slice(0, 5) + (h[5] === 'a' ? 'b' : 'a') + h.slice(6);
    const variants = [
      ...proof.map((_, i) => proof.map((h, j) => (i === j ? flip(h) : h))),
      ...proof.map((_, i) => proof.filter((__, j) => j !== i)),
      [...proof, proof[0] as string],
      [],
      honest.consistency(12, N),
      honest.consistency(13, N - 1),
      ['zz'],
    ];
    for (const hashes of variants) {
      expectCaught(verifyConsistencyBetween(older, newer, hashes, LOG_KEY), 'inconsistent', new RegExp(`at size ${N} .* does not extend the checkpoint of ${ORIGIN} at size 13`));
    }
    expectCaught(verifyConsistencyBetween(honest.checkpoint(0), newer, proof, LOG_KEY), 'inconsistent', /empty log is a prefix/);
  });

  test('an old checkpoint served after a newer one: stale', async () => {
    expectCaught(verifyConsistencyBetween(honest.checkpoint(N), honest.checkpoint(10), [], LOG_KEY), 'stale', new RegExp(`size 10 .* is older than the checkpoint of ${ORIGIN} at size ${N}`));
    const witness = new CheckpointWitness(LOG_KEY);
    await witness.accept(honest.checkpoint(N), () => Promise.reject(new Error('first')));
    for (const size of [0, 1, 10, N - 1]) {
      expectCaught(await witness.accept(honest.checkpoint(size), () => Promise.reject(new Error('a proof backwards'))), 'stale', /is older than/);
    }
    expect(witness.latest(ORIGIN)?.size).toBe(N);
  });

  test('two forks raced at a witness: the first is kept, the second is checked against it', async () => {
    const witness = new CheckpointWitness(LOG_KEY);
    await witness.accept(honest.checkpoint(10), () => Promise.reject(new Error('first')));
    const leaves = spans.map((s) => s.currHash);
    leaves[15] = makeSpan(15, false, 'forged').currHash;
    const fork = logServer(leaves);
    const slow = (server: typeof honest) => async (from: number, to: number) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return server.consistency(from, to);
    };
    const [first, second] = await Promise.all([witness.accept(honest.checkpoint(20), slow(honest)), witness.accept(fork.checkpoint(25), slow(fork))]);
    expect(first.ok).toBe(true);
    expectCaught(second, 'inconsistent', /at size 25 .* does not extend the checkpoint of .* at size 20/);
  });
});

describe('the witness keeps its checkpoints where it is told, and trusts them no more than the server', () => {
  test('a new witness over the same storage resumes from the kept checkpoint', async () => {
    const stored = new Map<string, string>();
    const storage = { load: (origin: string) => stored.get(origin), save: (origin: string, note: string) => void stored.set(origin, note) };
    await new CheckpointWitness(LOG_KEY, storage).accept(honest.checkpoint(20), () => Promise.reject(new Error('first')));
    const resumed = new CheckpointWitness(LOG_KEY, storage);
    expect(resumed.latest(ORIGIN)).toMatchObject({ size: 20 });
    expectCaught(await resumed.accept(honest.checkpoint(19), () => Promise.reject(new Error('stale'))), 'stale', /older/);
    expect((await resumed.accept(honest.checkpoint(N), async (from, to) => honest.consistency(from, to))).ok).toBe(true);
    expect(stored.get(ORIGIN)).toBe(honest.checkpoint(N));
  });

  test('a kept checkpoint changed in storage is refused, not forgotten', async () => {
    const stored = new Map([[ORIGIN, honest.checkpoint(20).replace('\n20\n', '\n2\n')]]);
    const witness = new CheckpointWitness(LOG_KEY, { load: (origin) => stored.get(origin), save: (origin, note) => void stored.set(origin, note) });
    expect(() => witness.latest(ORIGIN)).toThrow(/kept for loglineos\.local\/tenant\/acme: the signature by loglineos\.local does not verify.*; refusing to continue/);
    expectCaught(await witness.accept(honest.checkpoint(N), async (from, to) => honest.consistency(from, to)), 'bad_checkpoint', /refusing to continue/);
  });

  test('a failing proof request rejects and keeps nothing; a bad trusted key is refused at once', async () => {
    const witness = new CheckpointWitness(LOG_KEY);
    await witness.accept(honest.checkpoint(5), () => Promise.reject(new Error('first')));
    await expect(witness.accept(honest.checkpoint(9), () => Promise.reject(new Error('network down')))).rejects.toThrow('network down');
    expect(witness.latest(ORIGIN)?.size).toBe(5);
    expect((await witness.accept(honest.checkpoint(9), async (from, to) => honest.consistency(from, to))).ok).toBe(true);
    expect(() => new CheckpointWitness({ name: 'x', publicKeyHex: 'abc' })).toThrow(/64 hex digits/);
  });
});

function rootHex(note: string): string {
  return Buffer.from(note.split('\n')[2] as string, 'base64').toString('hex');
}
