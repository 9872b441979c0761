import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import {
  EMPTY_ROOT,
  HASH_BYTES,
  appendToFrontier,
  consistencyProof,
  consistencyProofNodes,
  inclusionProof,
  inclusionProofNodes,
  leafHash,
  nodeHash,
  nodeKey,
  rootHash,
  rootNodes,
  verifyConsistency,
  verifyInclusion,
  type NodeRef,
} from '../../functions/ledger/merkle.ts';

/*
 * The Merkle math of functions/ledger/merkle.ts against (1) the RFC 6962/9162 reference tree and
 * proofs published by transparency-dev/merkle (test/vectors/merkle-rfc9162.json, values only) and
 * (2) the RFC's recursive definitions written out plainly below, on random trees of up to 2,000 leaves.
 */

interface Vectors {
  leaves: string[];
  nodeHashes: string[][];
  roots: string[];
  inclusionProofs: { leafIndex: number; treeSize: number; proof: string[] }[];
  consistencyProofs: { fromSize: number; toSize: number; proof: string[] }[];
  probes: {
    inclusion: { file: string; desc: string; leafIndex: number; treeSize: number; root: string; leafHash: string; proof: string[]; wantErr: boolean }[];
    consistency: { file: string; desc: string; fromSize: number; toSize: number; fromRoot: string; toRoot: string; proof: string[]; wantErr: boolean }[];
  };
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/merkle-rfc9162.json', import.meta.url), 'utf8')) as Vectors;
const N = vectors.leaves.length;
const hexes = (list: readonly Uint8Array[]) => list.map(bytesToHex);
const bytes = (list: readonly string[]) => list.map(hexToBytes);
const root = (size: number) => hexToBytes(vectors.roots[size] as string);
const vectorLeafHash = (index: number) => hexToBytes(vectors.nodeHashes[0]?.[index] as string);

/** The stored-node map of the reference tree, straight from the published node hashes. */
const publishedNodes = new Map<string, Uint8Array>(vectors.nodeHashes.flatMap((level, l) => level.map((hash, k) => [nodeKey(l, k), hexToBytes(hash)] as const)));

// ---- RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, hashed by hand (node:crypto, recursion as written) ----

const sha = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
const split = (n: number) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
/** MTH(D[start:end]), memoized per range for big trees. */
function mth(leaves: readonly Uint8Array[], start: number, end: number, memo = new Map<string, Uint8Array>()): Uint8Array {
  const key = `${start}:${end}`;
  const known = memo.get(key);
  if (known) return known;
  const n = end - start;
  const hash =
    n === 0 ? sha(new Uint8Array(0))
    : n === 1 ? sha(Uint8Array.of(0), leaves[start] as Uint8Array)
    : sha(Uint8Array.of(1), mth(leaves, start, start + split(n), memo), mth(leaves, start + split(n), end, memo));
  memo.set(key, hash);
  return hash;
}
/** PATH(m, D[start:end]). */
function path(leaves: readonly Uint8Array[], m: number, start: number, end: number, memo: Map<string, Uint8Array>): Uint8Array[] {
  const n = end - start;
  if (n === 1) return [];
  const k = split(n);
  return m < k
    ? [...path(leaves, m, start, start + k, memo), mth(leaves, start + k, end, memo)]
    : [...path(leaves, m - k, start + k, end, memo), mth(leaves, start, start + k, memo)];
}
/** SUBPROOF(m, D[start:end], b). */
function subproof(leaves: readonly Uint8Array[], m: number, start: number, end: number, b: boolean, memo: Map<string, Uint8Array>): Uint8Array[] {
  const n = end - start;
  if (m === n) return b ? [] : [mth(leaves, start, end, memo)];
  const k = split(n);
  return m <= k
    ? [...subproof(leaves, m, start, start + k, b, memo), mth(leaves, start + k, end, memo)]
    : [...subproof(leaves, m - k, start + k, end, false, memo), mth(leaves, start, start + k, memo)];
}

/** A node map filled leaf by leaf with appendToFrontier, as the database fills ledger.merkle_node. */
function growTree(leaves: readonly Uint8Array[]): Map<string, Uint8Array> {
  const nodes = new Map<string, Uint8Array>();
  const frontier: { level: number; hash: Uint8Array }[] = [];
  leaves.forEach((leaf, i) => {
    for (const node of appendToFrontier(frontier, i, leaf)) nodes.set(nodeKey(node.level, node.index), node.hash);
  });
  return nodes;
}

/** A map that records which keys are read. */
function recording(nodes: ReadonlyMap<string, Uint8Array>): { map: ReadonlyMap<string, Uint8Array>; read: Set<string> } {
  const read = new Set<string>();
  const map = { get: (key: string) => (read.add(key), nodes.get(key)) } as unknown as ReadonlyMap<string, Uint8Array>;
  return { map, read };
}
const keysOf = (refs: readonly NodeRef[]) => refs.map((ref) => nodeKey(ref.level, ref.index));
/** The listed nodes are distinct, they are exactly what the computation reads, and a map of just them suffices. */
function expectListsExactly<T>(refs: readonly NodeRef[], nodes: ReadonlyMap<string, Uint8Array>, compute: (map: ReadonlyMap<string, Uint8Array>) => T): T {
  const keys = keysOf(refs);
  expect(new Set(keys).size).toBe(keys.length);
  const { map, read } = recording(nodes);
  const result = compute(map);
  expect([...read].sort()).toEqual([...keys].sort());
  expect(compute(new Map(keys.map((key) => [key, nodes.get(key) as Uint8Array])))).toEqual(result);
  return result;
}

// ---- mutations of a proof that must all be refused ----

function flippedEveryByte(proof: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  proof.forEach((hash, i) => {
    for (const at of [0, 17, HASH_BYTES - 1]) {
      const flipped = hash.slice();
      flipped[at] = (flipped[at] as number) ^ 0x01;
      out.push(proof.map((h, j) => (j === i ? flipped : h)));
    }
  });
  return out;
}
function droppedEach(proof: readonly Uint8Array[]): Uint8Array[][] {
  return proof.map((_, i) => proof.filter((__, j) => j !== i));
}
function addedEverywhere(proof: readonly Uint8Array[], extra: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let at = 0; at <= proof.length; at += 1) for (const hash of extra) out.push([...proof.slice(0, at), hash, ...proof.slice(at)]);
  return out;
}
const extras = [new Uint8Array(HASH_BYTES), EMPTY_ROOT, ...(vectors.nodeHashes[0] ?? []).slice(0, 2).map((h) => hexToBytes(h))];

describe('the RFC 9162 reference tree (transparency-dev/merkle test data)', () => {
  test('leaf and node hashing, the empty root, and appendToFrontier reproduce every published node hash', () => {
    // Given the published leaves, when they are appended one by one
    const frontier: { level: number; hash: Uint8Array }[] = [];
    const completed = vectors.leaves.flatMap((leaf, i) => appendToFrontier(frontier, i, hexToBytes(leaf)).map((node) => ({ ...node, leaf: i })));
    // Then every node appears once, when its last leaf arrives, with the published hash
    expect(completed.map((n) => [n.level, n.index, bytesToHex(n.hash)])).toEqual(
      [...publishedNodes].map(([key, hash]) => [...key.split('/').map(Number), bytesToHex(hash)]).sort((a, b) => completedOrder(a) - completedOrder(b)),
    );
    for (const node of completed) expect((node.index + 1) * 2 ** node.level - 1).toBe(node.leaf);
    expect(frontier.map((f) => [f.level, bytesToHex(f.hash)])).toEqual([[3, vectors.roots[8]]]);
    expect(bytesToHex(EMPTY_ROOT)).toBe(vectors.roots[0]);
    expect(bytesToHex(leafHash(hexToBytes(vectors.leaves[3] as string)))).toBe(vectors.nodeHashes[0]?.[3]);
    expect(bytesToHex(nodeHash(vectorLeafHash(0), vectorLeafHash(1)))).toBe(vectors.nodeHashes[1]?.[0]);
  });

  test.each(Array.from({ length: N + 1 }, (_, size) => size))('root of size %i equals the published root, from exactly rootNodes', (size) => {
    const computed = expectListsExactly(rootNodes(size), publishedNodes, (map) => rootHash(size, map));
    expect(bytesToHex(computed)).toBe(vectors.roots[size]);
  });

  test.each(vectors.inclusionProofs.map((v) => [v.leafIndex, v.treeSize, v] as const))('published inclusion proof of leaf %i in size %i: generated equal, verified', (leafIndex, size, vector) => {
    const proof = expectListsExactly(inclusionProofNodes(leafIndex, size), publishedNodes, (map) => inclusionProof(leafIndex, size, map));
    expect(hexes(proof)).toEqual(vector.proof);
    expect(verifyInclusion(vectorLeafHash(leafIndex), leafIndex, size, bytes(vector.proof), root(size))).toBe(true);
  });

  test.each(vectors.consistencyProofs.map((v) => [v.fromSize, v.toSize, v] as const))('published consistency proof %i → %i: generated equal, verified', (from, to, vector) => {
    const proof = expectListsExactly(consistencyProofNodes(from, to), publishedNodes, (map) => consistencyProof(from, to, map));
    expect(hexes(proof)).toEqual(vector.proof);
    expect(verifyConsistency(from, to, root(from), root(to), bytes(vector.proof))).toBe(true);
  });

  const leafPairs = Array.from({ length: N }, (_, s) => Array.from({ length: s + 1 }, (__, i) => [i, s + 1] as const)).flat();
  test.each(leafPairs)('inclusion of leaf %i in size %i: generated as PATH, verified, and every tampering refused', (leafIndex, size) => {
    // Given the proof generated from the published nodes
    const proof = expectListsExactly(inclusionProofNodes(leafIndex, size), publishedNodes, (map) => inclusionProof(leafIndex, size, map));
    const leaves = vectors.leaves.map(hexToBytes);
    expect(hexes(proof)).toEqual(hexes(path(leaves, leafIndex, 0, size, new Map())));
    const leaf = vectorLeafHash(leafIndex);
    // Then it verifies against the published root
    expect(verifyInclusion(leaf, leafIndex, size, proof, root(size))).toBe(true);
    // And no changed proof, other leaf, other index or other (size, root) passes
    for (const changed of [...flippedEveryByte(proof), ...droppedEach(proof), ...addedEverywhere(proof, extras)]) {
      expect(verifyInclusion(leaf, leafIndex, size, changed, root(size))).toBe(false);
    }
    for (let other = 0; other < N; other += 1) if (other !== leafIndex) expect(verifyInclusion(vectorLeafHash(other), leafIndex, size, proof, root(size))).toBe(false);
    for (let index = 0; index <= N; index += 1) if (index !== leafIndex) expect(verifyInclusion(leaf, index, size, proof, root(size))).toBe(false);
    for (let other = 1; other <= N; other += 1) if (other !== size) expect(verifyInclusion(leaf, leafIndex, other, proof, root(other))).toBe(false);
    expect(verifyInclusion(leaf, leafIndex, size, proof, EMPTY_ROOT)).toBe(false);
  });

  const sizePairs = Array.from({ length: N }, (_, n) => Array.from({ length: n + 1 }, (__, m) => [m + 1, n + 1] as const)).flat();
  test.each(sizePairs)('consistency %i → %i: generated as PROOF, verified, and every tampering refused', (from, to) => {
    const proof = expectListsExactly(consistencyProofNodes(from, to), publishedNodes, (map) => consistencyProof(from, to, map));
    const leaves = vectors.leaves.map(hexToBytes);
    expect(hexes(proof)).toEqual(from === to ? [] : hexes(subproof(leaves, from, 0, to, true, new Map())));
    expect(verifyConsistency(from, to, root(from), root(to), proof)).toBe(true);
    for (const changed of [...flippedEveryByte(proof), ...droppedEach(proof), ...addedEverywhere(proof, extras)]) {
      expect(verifyConsistency(from, to, root(from), root(to), changed)).toBe(false);
    }
    for (let other = 1; other <= N; other += 1) {
      if (other !== from && other <= to) expect(verifyConsistency(other, to, root(other), root(to), proof)).toBe(false);
      if (other !== to && other >= from) expect(verifyConsistency(from, other, root(from), root(other), proof)).toBe(false);
    }
    if (from !== to) expect(verifyConsistency(from, to, root(to), root(from), proof)).toBe(false);
    expect(verifyConsistency(from, to, root(from), EMPTY_ROOT, proof)).toBe(false);
    expect(verifyConsistency(to, from, root(to), root(from), proof)).toBe(from === to);
  });

  test('every published verification probe gets the published verdict (a hash that is not 32 bytes is always refused)', () => {
    const stricter: string[] = [];
    for (const p of vectors.probes.inclusion) {
      const wellFormed = [p.root, p.leafHash, ...p.proof].every((h) => h.length === HASH_BYTES * 2);
      const got = verifyInclusion(hexToBytes(p.leafHash), p.leafIndex, p.treeSize, bytes(p.proof), hexToBytes(p.root));
      if (!p.wantErr && !wellFormed) stricter.push(p.file);
      expect({ file: p.file, ok: got }).toEqual({ file: p.file, ok: !p.wantErr && wellFormed });
    }
    for (const p of vectors.probes.consistency) {
      const wellFormed = [p.fromRoot, p.toRoot, ...p.proof].every((h) => h.length === HASH_BYTES * 2);
      const got = verifyConsistency(p.fromSize, p.toSize, hexToBytes(p.fromRoot), hexToBytes(p.toRoot), bytes(p.proof));
      if (!p.wantErr && !wellFormed) stricter.push(p.file);
      expect({ file: p.file, ok: got }).toEqual({ file: p.file, ok: !p.wantErr && wellFormed });
    }
    // Upstream accepts equal sizes with equal 12-byte "roots"; a root here is 32 bytes or nothing.
    expect(stricter).toEqual(['testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json']);
    expect(vectors.probes.inclusion.length + vectors.probes.consistency.length).toBeGreaterThan(150);
  });
});

/** The order appendToFrontier completes the reference nodes in: by last leaf, then by level. */
function completedOrder(node: (string | number)[]): number {
  const [level, index] = node as [number, number];
  return ((index + 1) * 2 ** level - 1) * 16 + level;
}

describe('random trees against the RFC definitions hashed by hand', () => {
  const SIZE = 2_000;
  const leaves = Array.from({ length: SIZE }, () => new Uint8Array(randomBytes(HASH_BYTES)));
  const nodes = growTree(leaves);
  const memo = new Map<string, Uint8Array>();
  const random = (below: number) => Math.floor(Math.random() * below);

  test('every stored node is the MTH of the leaves it covers', () => {
    for (const [key, hash] of nodes) {
      const [level, index] = key.split('/').map(Number) as [number, number];
      expect(bytesToHex(hash)).toBe(bytesToHex(mth(leaves, index * 2 ** level, (index + 1) * 2 ** level, memo)));
    }
    expect(nodes.size).toBe(2 * SIZE - popcount(SIZE));
  });

  test('roots of every size up to 300 and of 200 random sizes up to 2,000', () => {
    const sizes = [...Array.from({ length: 301 }, (_, i) => i), ...Array.from({ length: 200 }, () => random(SIZE) + 1), SIZE, 1024, 1023, 1025];
    for (const size of sizes) {
      const got = expectListsExactly(rootNodes(size), nodes, (map) => rootHash(size, map));
      expect(bytesToHex(got)).toBe(bytesToHex(mth(leaves, 0, size, memo)));
    }
  });

  test('inclusion proofs: every leaf of sizes up to 64, and 400 random (leaf, size) up to 2,000', () => {
    const pairs: [number, number][] = [];
    for (let size = 1; size <= 64; size += 1) for (let i = 0; i < size; i += 1) pairs.push([i, size]);
    for (let n = 0; n < 400; n += 1) {
      const size = random(SIZE) + 1;
      pairs.push([random(size), size]);
    }
    pairs.push([0, SIZE], [SIZE - 1, SIZE], [1023, 1024], [1024, 1025]);
    for (const [leafIndex, size] of pairs) {
      const proof = expectListsExactly(inclusionProofNodes(leafIndex, size), nodes, (map) => inclusionProof(leafIndex, size, map));
      expect(hexes(proof)).toEqual(hexes(path(leaves, leafIndex, 0, size, memo)));
      const leaf = leafHash(leaves[leafIndex] as Uint8Array);
      const treeRoot = mth(leaves, 0, size, memo);
      expect(verifyInclusion(leaf, leafIndex, size, proof, treeRoot)).toBe(true);
      if (proof.length > 0) expect(verifyInclusion(leaf, leafIndex, size, proof.slice(0, -1), treeRoot)).toBe(false);
      if (size > 1) expect(verifyInclusion(leaf, (leafIndex + 1) % size, size, proof, treeRoot)).toBe(false);
    }
  });

  test('consistency proofs: every pair of sizes up to 64, and 400 random pairs up to 2,000', () => {
    const pairs: [number, number][] = [];
    for (let to = 1; to <= 64; to += 1) for (let from = 1; from <= to; from += 1) pairs.push([from, to]);
    for (let n = 0; n < 400; n += 1) {
      const to = random(SIZE) + 1;
      pairs.push([random(to) + 1, to]);
    }
    pairs.push([1, SIZE], [SIZE - 1, SIZE], [1024, SIZE], [1023, 1024], [1024, 1025]);
    for (const [from, to] of pairs) {
      const proof = expectListsExactly(consistencyProofNodes(from, to), nodes, (map) => consistencyProof(from, to, map));
      expect(hexes(proof)).toEqual(from === to ? [] : hexes(subproof(leaves, from, 0, to, true, memo)));
      const fromRoot = mth(leaves, 0, from, memo);
      const toRoot = mth(leaves, 0, to, memo);
      expect(verifyConsistency(from, to, fromRoot, toRoot, proof)).toBe(true);
      if (proof.length > 0) expect(verifyConsistency(from, to, fromRoot, toRoot, proof.slice(1))).toBe(false);
      if (from < to) expect(verifyConsistency(from, to, toRoot, fromRoot, proof)).toBe(false);
    }
  });

  test('a forked tree (one leaf changed) is caught by consistency with the honest past, from the changed leaf on', () => {
    const forkedLeaves = leaves.slice(0, 700);
    forkedLeaves[500] = new Uint8Array(HASH_BYTES).fill(7);
    const forked = growTree(forkedLeaves);
    for (const from of [1, 256, 500, 501, 512, 699]) {
      const proof = consistencyProof(from, 700, forked);
      const honestPast = mth(leaves, 0, from, memo);
      expect(verifyConsistency(from, 700, honestPast, rootHash(700, forked), proof)).toBe(from <= 500);
    }
  });
});

/** A tree of n leaves has 2n - popcount(n) complete perfect subtrees. */
function popcount(n: number): number {
  return n.toString(2).split('').filter((bit) => bit === '1').length;
}

describe('misuse is refused clearly', () => {
  const nodes = growTree(Array.from({ length: 10 }, (_, i) => Uint8Array.of(i)));

  test('out-of-range arguments throw and name the value', () => {
    expect(() => inclusionProofNodes(10, 10)).toThrow(/leafIndex must be below size \(10\), got 10/);
    expect(() => inclusionProof(0, 0, nodes)).toThrow(/below size \(0\)/);
    expect(() => inclusionProofNodes(-1, 4)).toThrow(/leafIndex must be a whole number.*got -1/);
    expect(() => consistencyProofNodes(0, 4)).toThrow(/fromSize must be from 1 to toSize \(4\), got 0/);
    expect(() => consistencyProof(5, 4, nodes)).toThrow(/got 5/);
    expect(() => rootNodes(1.5)).toThrow(/size must be a whole number.*got 1.5/);
    expect(() => rootHash(Number.NaN, nodes)).toThrow(/got NaN/);
    expect(() => rootNodes(2 ** 53)).toThrow(/2\^53/);
  });

  test('a missing or malformed node throws and names it', () => {
    const partial = new Map(nodes);
    partial.delete(nodeKey(3, 0));
    expect(() => rootHash(10, partial)).toThrow(/Merkle node 3\/0 \(leaves 0 to 7\) is missing/);
    const bad = new Map(nodes).set(nodeKey(1, 4), new Uint8Array(31));
    expect(() => rootHash(10, bad)).toThrow(/Merkle node 1\/4 must be 32 bytes, got 31 bytes/);
  });

  test('appendToFrontier refuses a leaf out of order or a frontier out of shape', () => {
    const frontier: { level: number; hash: Uint8Array }[] = [];
    appendToFrontier(frontier, 0, Uint8Array.of(1));
    expect(() => appendToFrontier(frontier, 2, Uint8Array.of(2))).toThrow(/next leaf is 1, got leafIndex 2/);
    expect(() => appendToFrontier([{ level: 0, hash: EMPTY_ROOT }, { level: 1, hash: EMPTY_ROOT }], 3, Uint8Array.of(3))).toThrow(/decrease strictly/);
  });

  test('verification returns false, never throws, on malformed input', () => {
    const h = leafHash(Uint8Array.of(1));
    const garbage: unknown[] = [undefined, null, 'ab', 1, {}, new Uint8Array(31), new Uint8Array(33), [h, 'x'], [new Uint8Array(0)]];
    const numbers: unknown[] = [-1, 1.5, Number.NaN, Infinity, 2 ** 53, '1', undefined];
    const call = (f: () => boolean) => expect(f()).toBe(false);
    for (const g of garbage) {
      call(() => verifyInclusion(g as Uint8Array, 0, 1, [], h));
      call(() => verifyInclusion(h, 0, 1, g as Uint8Array[], h));
      call(() => verifyInclusion(h, 0, 1, [], g as Uint8Array));
      call(() => verifyConsistency(1, 1, g as Uint8Array, h, []));
      call(() => verifyConsistency(1, 2, h, h, g as Uint8Array[]));
    }
    for (const n of numbers) {
      call(() => verifyInclusion(h, n as number, 1, [], h));
      call(() => verifyInclusion(h, 0, n as number, [], h));
      call(() => verifyConsistency(n as number, 1, h, h, []));
      call(() => verifyConsistency(1, n as number, h, h, []));
    }
    call(() => verifyInclusion(h, 0, 1, Array.from({ length: 1000 }, () => h), h));
    // the empty tree: equal sizes need the empty root; the RFC has no proof from size 0
    expect(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])).toBe(true);
    expect(verifyConsistency(0, 0, h, h, [])).toBe(false);
    expect(verifyConsistency(0, 1, EMPTY_ROOT, h, [])).toBe(false);
    expect(verifyInclusion(h, 0, 0, [], EMPTY_ROOT)).toBe(false);
  });
});
