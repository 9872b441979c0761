import { sha256 } from '@noble/hashes/sha2.js';

/*
 * RFC 9162 (Certificate Transparency v2) Merkle trees over a chain's spans, computed from stored
 * perfect subtrees. Node (level l, index k) is the hash of the complete subtree over leaves
 * [k·2^l, (k+1)·2^l); level 0 holds the leaf hashes. Every subtree the RFC's recursive definitions
 * name is a run of such nodes (a perfect subtree, or the right edge of a tree whose size is not a
 * power of two), so a root or a proof reads O(log n) stored nodes and hashes the right edges here.
 * Pure and browser-safe: the server assembles proofs with it, the client verifies with it.
 */

export const HASH_BYTES = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Uint8Array {
  return sha256(concat(LEAF_PREFIX, leaf));
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concat(NODE_PREFIX, left, right));
}

/** The root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

export interface NodeRef {
  readonly level: number;
  readonly index: number;
}

export function nodeKey(level: number, index: number): string {
  return `${level}/${index}`;
}

/** A run of leaves [start, end) that the RFC hashes as one subtree (MTH(D[start:end])). */
interface Range {
  readonly start: number;
  readonly end: number;
}

/** The stored nodes `rootHash(size, …)` reads. */
export function rootNodes(size: number): NodeRef[] {
  checkSize(size, 'size');
  return size === 0 ? [] : perfectSubtrees({ start: 0, end: size });
}

/** The stored nodes `inclusionProof(leafIndex, size, …)` reads. */
export function inclusionProofNodes(leafIndex: number, size: number): NodeRef[] {
  return nodesOf(inclusionRanges(leafIndex, size));
}

/** The stored nodes `consistencyProof(fromSize, toSize, …)` reads. */
export function consistencyProofNodes(fromSize: number, toSize: number): NodeRef[] {
  return nodesOf(consistencyRanges(fromSize, toSize));
}

/** MTH(D[0:size]) from the stored nodes of `rootNodes(size)`. */
export function rootHash(size: number, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array {
  checkSize(size, 'size');
  return size === 0 ? EMPTY_ROOT : rangeHash({ start: 0, end: size }, nodes);
}

/** PATH(leafIndex, D[0:size]) (RFC 9162 §2.1.3.1), leaf to root, from the nodes of `inclusionProofNodes`. */
export function inclusionProof(leafIndex: number, size: number, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array[] {
  return inclusionRanges(leafIndex, size).map((range) => rangeHash(range, nodes));
}

/** PROOF(fromSize, D[0:toSize]) (RFC 9162 §2.1.4.1), from the nodes of `consistencyProofNodes`; empty when the sizes are equal. */
export function consistencyProof(fromSize: number, toSize: number, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array[] {
  return consistencyRanges(fromSize, toSize).map((range) => rangeHash(range, nodes));
}

/** RFC 9162 §2.1.3.2. False, never an exception, for any malformed argument. */
export function verifyInclusion(leafHash: Uint8Array, leafIndex: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(leafHash) || !isHash(root) || !isHashList(proof)) return false;
  if (!isCount(leafIndex) || !isCount(size) || leafIndex >= size) return false;
  // Indices up to 2^53 do not fit the 32-bit operators: halve with Math.floor, test parity with %.
  let fn = leafIndex;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * RFC 9162 §2.1.4.2, for 0 < fromSize < toSize. Equal sizes need an empty proof and equal roots (the
 * empty tree's root for size 0). The empty tree has no consistency proof (the RFC defines none): a
 * caller that kept size 0 checks its root is EMPTY_ROOT and needs no proof. False, never an
 * exception, for any malformed argument.
 */
export function verifyConsistency(fromSize: number, toSize: number, fromRoot: Uint8Array, toRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!isHash(fromRoot) || !isHash(toRoot) || !isHashList(proof)) return false;
  if (!isCount(fromSize) || !isCount(toSize) || fromSize > toSize) return false;
  if (fromSize === toSize) {
    return proof.length === 0 && equalBytes(fromRoot, toRoot) && (fromSize > 0 || equalBytes(fromRoot, EMPTY_ROOT));
  }
  if (fromSize === 0 || proof.length === 0) return false;
  const path = isPowerOfTwo(fromSize) ? [fromRoot, ...proof] : [...proof];
  let fn = fromSize - 1;
  let sn = toSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, fromRoot) && equalBytes(sr, toRoot);
}

/**
 * Appends leaf `leafIndex` (the leaf itself, e.g. a span's 32 curr_hash bytes; it is hashed here with
 * leafHash) to `frontier`, the roots of the perfect subtrees of the tree so far, largest first, which
 * it updates in place. Returns the nodes the leaf completes, level 0 (its leaf hash) first: exactly
 * the rows the database adds for it.
 */
export function appendToFrontier(frontier: { level: number; hash: Uint8Array }[], leafIndex: number, leaf: Uint8Array): { level: number; index: number; hash: Uint8Array }[] {
  let size = 0;
  for (const [i, node] of frontier.entries()) {
    const previous = frontier[i - 1];
    if (!isCount(node.level) || (previous !== undefined && previous.level <= node.level)) {
      throw new Error(`appendToFrontier: the frontier's levels must decrease strictly (largest subtree first), got ${frontier.map((n) => n.level).join(', ')}`);
    }
    size += 2 ** node.level;
  }
  if (leafIndex !== size) {
    throw new Error(`appendToFrontier: the frontier holds ${size} leaves, so the next leaf is ${size}, got leafIndex ${leafIndex}`);
  }
  let completed = { level: 0, index: leafIndex, hash: leafHash(leaf) };
  const added = [completed];
  let last = frontier[frontier.length - 1];
  while (last !== undefined && last.level === completed.level) {
    frontier.pop();
    completed = { level: completed.level + 1, index: Math.floor(completed.index / 2), hash: nodeHash(last.hash, completed.hash) };
    added.push(completed);
    last = frontier[frontier.length - 1];
  }
  frontier.push({ level: completed.level, hash: completed.hash });
  return added;
}

// ---- the RFC's recursive definitions, as ranges of leaves ----

/** The subtrees whose hashes make PATH(m, D[0:n]), leaf to root. */
function inclusionRanges(leafIndex: number, size: number): Range[] {
  checkSize(size, 'size');
  checkSize(leafIndex, 'leafIndex');
  if (leafIndex >= size) throw new RangeError(`inclusion proof: leafIndex must be below size (${size}), got ${leafIndex}`);
  const ranges: Range[] = [];
  // Walk down from the root, then reverse: the RFC lists the path from the leaf up.
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (leafIndex < start + k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
    }
  }
  return ranges.reverse();
}

/** The subtrees whose hashes make PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true); none when m = n. */
function consistencyRanges(fromSize: number, toSize: number): Range[] {
  checkSize(fromSize, 'fromSize');
  checkSize(toSize, 'toSize');
  if (fromSize < 1 || fromSize > toSize) {
    throw new RangeError(`consistency proof: fromSize must be from 1 to toSize (${toSize}), got ${fromSize} (the empty tree is a prefix of every tree and needs no proof)`);
  }
  const ranges: Range[] = [];
  let start = 0;
  let end = toSize;
  let m = fromSize;
  let complete = true; // SUBPROOF's b: whether the old tree's root is this subtree's own root
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) ranges.push({ start, end });
  return ranges.reverse();
}

/**
 * The perfect subtrees that make up a range the RFC hashes as one subtree, largest first. Such a
 * range starts at a multiple of the smallest power of two at least its length, so the binary
 * digits of its length name aligned subtrees.
 */
function perfectSubtrees(range: Range): NodeRef[] {
  const nodes: NodeRef[] = [];
  let at = range.start;
  let remaining = range.end - range.start;
  for (let level = Math.floor(Math.log2(remaining)) + 1; level >= 0 && remaining > 0; level -= 1) {
    const width = 2 ** level;
    if (width <= remaining) {
      nodes.push({ level, index: at / width });
      at += width;
      remaining -= width;
    }
  }
  return nodes;
}

/** MTH of the range: its perfect subtrees hashed together from the right (MTH splits at the largest power of two). */
function rangeHash(range: Range, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const parts = perfectSubtrees(range).map((ref) => storedNode(ref, nodes));
  let hash = parts[parts.length - 1] as Uint8Array;
  for (let i = parts.length - 2; i >= 0; i -= 1) hash = nodeHash(parts[i] as Uint8Array, hash);
  return hash;
}

function storedNode(ref: NodeRef, nodes: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const key = nodeKey(ref.level, ref.index);
  const hash = nodes.get(key);
  const width = 2 ** ref.level;
  if (hash === undefined) {
    throw new Error(`Merkle node ${key} (leaves ${ref.index * width} to ${(ref.index + 1) * width - 1}) is missing: fetch every node the matching *Nodes function lists`);
  }
  if (!isHash(hash)) throw new Error(`Merkle node ${key} must be ${HASH_BYTES} bytes, got ${describeBytes(hash)}`);
  return hash;
}

function describeBytes(value: unknown): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
}

function nodesOf(ranges: readonly Range[]): NodeRef[] {
  const seen = new Map<string, NodeRef>();
  for (const range of ranges) for (const ref of perfectSubtrees(range)) seen.set(nodeKey(ref.level, ref.index), ref);
  return [...seen.values()];
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function checkSize(value: number, name: string): void {
  if (!isCount(value)) throw new RangeError(`${name} must be a whole number from 0 to 2^53 - 1, got ${String(value)}`);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_BYTES;
}

function isHashList(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.length <= 128 && value.every(isHash);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
