import { hexToBytes } from '@noble/hashes/utils.js';
import { CheckpointError, openCheckpoint, type Checkpoint } from '../functions/ledger/checkpoint-note.ts';
import { EMPTY_ROOT, leafHash, verifyConsistency, verifyInclusion } from '../functions/ledger/merkle.ts';
import { verifySpanLocally, type SpanProof } from './verify.ts';

/*
 * The client's side of the verifiable ledger, for Node and browsers: it checks a span against a
 * signed checkpoint of its chain's Merkle log, and a log's checkpoints against each other, trusting
 * nothing the server says. Everything the verdict depends on is recomputed here or pinned by the
 * caller: the leaf comes from the span's own content (not from a hash the server sends), the leaf
 * index from the span's chain position (not from the answer), the tree size and root from the signed
 * note (an answer's size must match it), and the signer from the key the caller trusts.
 */

export type { Checkpoint } from '../functions/ledger/checkpoint-note.ts';

/** The log's signing key, obtained out of band: its signed-note key name and Ed25519 public key. */
export interface TrustedLogKey {
  readonly name: string;
  readonly publicKeyHex: string;
}

export interface InclusionProofAnswer {
  readonly leafIndex: number;
  readonly treeSize: number;
  /** hex */
  readonly hashes: readonly string[];
  /** signed note for treeSize */
  readonly checkpoint: string;
}

export type ProofVerdictCode = 'bad_span' | 'bad_checkpoint' | 'not_included' | 'inconsistent' | 'stale' | 'wrong_log';

export type ProofVerdict = { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string; code: ProofVerdictCode };

export interface SpanInclusionOptions {
  /** The log the span must be in (e.g. `loglineos.local/tenant/<id>`); any origin signed by the key when left out. */
  readonly expectedOrigin?: string;
  /** When given, the span must carry a valid signature by one of these hex Ed25519 public keys. */
  readonly trustedSpanKeys?: readonly string[];
  /** The leaf the caller asked about; by default the span's `chainSeq - 1`. */
  readonly leafIndex?: number;
}

/**
 * Recomputes the span's canonical hash and signature, then checks that the span is leaf
 * `chainSeq - 1` (or `options.leafIndex`) of the log at the signed checkpoint's size.
 */
export function verifySpanInclusion(span: SpanProof, answer: InclusionProofAnswer, key: TrustedLogKey, options: SpanInclusionOptions = {}): ProofVerdict {
  if (typeof answer !== 'object' || answer === null) return fail('not_included', `the server's answer is not an inclusion proof: ${String(answer)}`);
  const name = spanName(span);
  let local: ReturnType<typeof verifySpanLocally>;
  try {
    local = verifySpanLocally(span);
  } catch (error) {
    return fail('bad_span', `${name}: it has no canonical form (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!local.hashOk) return fail('bad_span', `${name}: its content hashes to ${local.computedHash}, not to its curr_hash ${String(span.currHash)}: the span was altered`);
  if (local.signatureOk === false) return fail('bad_span', `${name}: its signature does not verify with its public key ${String(span.publicKey)}`);
  if (options.trustedSpanKeys !== undefined) {
    const signer = typeof span.publicKey === 'string' ? span.publicKey.toLowerCase() : undefined;
    if (local.signatureOk !== true || signer === undefined || !options.trustedSpanKeys.some((k) => k.toLowerCase() === signer)) {
      return fail('bad_span', `${name}: it is not signed by a trusted span key (signed by ${signer ?? 'nobody'})`);
    }
  }

  const opened = openNote(answer.checkpoint, key, 'the checkpoint');
  if (!opened.ok) return opened;
  const { checkpoint } = opened;
  if (options.expectedOrigin !== undefined && checkpoint.origin !== options.expectedOrigin) {
    return fail('wrong_log', `the checkpoint is for log ${checkpoint.origin}, not ${options.expectedOrigin}`);
  }

  const wanted = options.leafIndex ?? leafIndexOf(span);
  if (wanted === undefined) return fail('not_included', `${name}: no chainSeq to tell which leaf it is; pass options.leafIndex`);
  if (answer.leafIndex !== wanted) {
    return fail('not_included', `${name} is leaf ${wanted} of its log, but the proof is for leaf ${String(answer.leafIndex)}: the log does not hold it where the ledger says`);
  }
  if (answer.treeSize !== checkpoint.size) {
    return fail('not_included', `the proof is for a tree of ${String(answer.treeSize)} leaves, but the checkpoint signs ${checkpoint.size}`);
  }
  if (wanted >= checkpoint.size) return fail('not_included', `${name} is leaf ${wanted}, past the checkpoint's ${checkpoint.size} leaves`);
  const proof = hashList(answer.hashes);
  // The leaf is the span's own hash, recomputed above; never one the server sends.
  const leaf = leafHash(hexToBytes(local.computedHash));
  if (proof === undefined || !verifyInclusion(leaf, wanted, checkpoint.size, proof, checkpoint.rootHash)) {
    return fail('not_included', `${name} is not leaf ${wanted} of ${checkpoint.origin} at size ${checkpoint.size} (root ${hex(checkpoint.rootHash)}): the inclusion proof does not hold`);
  }
  return { ok: true, checkpoint };
}

/**
 * Both checkpoints signed by the key, of the same log, and the proof shows the older is a prefix of
 * the newer. A newer checkpoint smaller than the older is 'stale'; equal sizes need equal roots.
 */
export function verifyConsistencyBetween(older: string, newer: string, proofHex: readonly string[], key: TrustedLogKey): ProofVerdict {
  const from = openNote(older, key, 'the older checkpoint');
  if (!from.ok) return from;
  const to = openNote(newer, key, 'the newer checkpoint');
  if (!to.ok) return to;
  return consistent(from.checkpoint, to.checkpoint, proofHex);
}

export interface CheckpointStorage {
  load(origin: string): string | undefined;
  save(origin: string, note: string): void;
}

/**
 * Keeps the latest verified checkpoint of each log (in memory, or through `storage` for a file or
 * localStorage) and moves it forward only along a valid consistency proof: a log that shows this
 * client a forked or rewritten history is caught. The first checkpoint seen for a log is trusted.
 */
export class CheckpointWitness {
  private readonly kept = new Map<string, { note: string; checkpoint: Checkpoint }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly key: TrustedLogKey,
    private readonly storage?: CheckpointStorage,
  ) {
    trustedKeyBytes(key);
  }

  /** The latest checkpoint accepted for a log; throws if the stored one no longer verifies. */
  latest(origin: string): Checkpoint | undefined {
    return this.keptFor(origin)?.checkpoint;
  }

  /**
   * Accepts `note` if it extends the kept checkpoint of its log, asking `consistencyProof` for the
   * proof between the two sizes. Calls are handled one at a time, so two answers raced by a server
   * are each checked against the other. A failing `consistencyProof` rejects, and nothing is kept.
   */
  accept(note: string, consistencyProof: (fromSize: number, toSize: number) => Promise<readonly string[]>): Promise<ProofVerdict> {
    const run = this.queue.then(() => this.acceptNow(note, consistencyProof));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async acceptNow(note: string, consistencyProof: (fromSize: number, toSize: number) => Promise<readonly string[]>): Promise<ProofVerdict> {
    const opened = openNote(note, this.key, 'the new checkpoint');
    if (!opened.ok) return opened;
    const { checkpoint } = opened;
    let kept: { note: string; checkpoint: Checkpoint } | undefined;
    try {
      kept = this.keptFor(checkpoint.origin);
    } catch (error) {
      return fail('bad_checkpoint', error instanceof Error ? error.message : String(error));
    }
    if (kept === undefined) {
      if (checkpoint.size === 0 && !equalBytes(checkpoint.rootHash, EMPTY_ROOT)) return fail('bad_checkpoint', `${describe(checkpoint)}: an empty log's root is SHA-256 of nothing`);
      this.keep(note, checkpoint);
      return { ok: true, checkpoint };
    }
    if (checkpoint.size < kept.checkpoint.size) return consistent(kept.checkpoint, checkpoint, []);
    const needsProof = checkpoint.size > kept.checkpoint.size && kept.checkpoint.size > 0;
    const proof = needsProof ? await consistencyProof(kept.checkpoint.size, checkpoint.size) : [];
    const verdict = consistent(kept.checkpoint, checkpoint, proof);
    if (verdict.ok && checkpoint.size > kept.checkpoint.size) this.keep(note, checkpoint);
    return verdict;
  }

  private keptFor(origin: string): { note: string; checkpoint: Checkpoint } | undefined {
    const inMemory = this.kept.get(origin);
    if (inMemory !== undefined || this.storage === undefined) return inMemory;
    const note = this.storage.load(origin);
    if (note === undefined) return undefined;
    // Storage (a file, localStorage) is outside this process: check what comes back from it.
    const opened = openNote(note, this.key, `the checkpoint kept for ${origin}`);
    if (!opened.ok) throw new Error(`${opened.reason}; refusing to continue without the kept checkpoint (remove it only if you trust the log again)`);
    if (opened.checkpoint.origin !== origin) throw new Error(`the checkpoint kept for ${origin} is for ${opened.checkpoint.origin}`);
    const kept = { note, checkpoint: opened.checkpoint };
    this.kept.set(origin, kept);
    return kept;
  }

  private keep(note: string, checkpoint: Checkpoint): void {
    this.storage?.save(checkpoint.origin, note);
    this.kept.set(checkpoint.origin, { note, checkpoint });
  }
}

function consistent(older: Checkpoint, newer: Checkpoint, proofHex: readonly string[]): ProofVerdict {
  if (older.origin !== newer.origin) return fail('wrong_log', `the checkpoints are of different logs: ${older.origin} and ${newer.origin}`);
  for (const checkpoint of [older, newer]) {
    if (checkpoint.size === 0 && !equalBytes(checkpoint.rootHash, EMPTY_ROOT)) return fail('bad_checkpoint', `${describe(checkpoint)}: an empty log's root is SHA-256 of nothing`);
  }
  if (newer.size < older.size) return fail('stale', `${describe(newer)} is older than ${describe(older)}, already seen`);
  if (newer.size === older.size) {
    if (proofHex.length === 0 && equalBytes(newer.rootHash, older.rootHash)) return { ok: true, checkpoint: newer };
    return fail('inconsistent', `${describe(older)} and ${describe(newer)} have the same size and different roots: the log forked`);
  }
  if (older.size === 0) {
    if (proofHex.length === 0) return { ok: true, checkpoint: newer };
    return fail('inconsistent', `the empty log is a prefix of every log and has no consistency proof; got ${proofHex.length} hashes`);
  }
  const proof = hashList(proofHex);
  if (proof === undefined || !verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, proof)) {
    return fail('inconsistent', `${describe(newer)} does not extend ${describe(older)}: the consistency proof does not hold`);
  }
  return { ok: true, checkpoint: newer };
}

function openNote(note: string, key: TrustedLogKey, what: string): { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string; code: ProofVerdictCode } {
  const publicKey = trustedKeyBytes(key);
  try {
    return { ok: true, checkpoint: openCheckpoint(note, key.name, publicKey) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof CheckpointError && error.code === 'unknown_key' ? 'wrong_log' : 'bad_checkpoint';
    return fail(code, `${what}: ${message}`);
  }
}

function trustedKeyBytes(key: TrustedLogKey): Uint8Array {
  if (typeof key?.publicKeyHex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(key.publicKeyHex)) {
    throw new TypeError(`a trusted log key is 64 hex digits (an Ed25519 public key), got ${JSON.stringify(key?.publicKeyHex)}`);
  }
  return hexToBytes(key.publicKeyHex.toLowerCase());
}

function leafIndexOf(span: SpanProof): number | undefined {
  const seq = typeof span.chainSeq === 'string' && /^[1-9][0-9]*$/.test(span.chainSeq) ? Number(span.chainSeq) : span.chainSeq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1 ? seq - 1 : undefined;
}

function hashList(hashes: readonly string[]): Uint8Array[] | undefined {
  if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === 'string' && /^[0-9a-fA-F]{64}$/.test(h))) return undefined;
  return hashes.map((h) => hexToBytes(h.toLowerCase()));
}

function spanName(span: SpanProof): string {
  const id = typeof span.id === 'string' ? span.id : '(no id)';
  const seq = typeof span.seq === 'number' ? ` seq ${span.seq}` : '';
  const chainSeq = typeof span.chainSeq === 'number' || typeof span.chainSeq === 'string' ? ` (chainSeq ${span.chainSeq})` : '';
  return `span ${id}${seq}${chainSeq}`;
}

function describe(checkpoint: Checkpoint): string {
  return `the checkpoint of ${checkpoint.origin} at size ${checkpoint.size} (root ${hex(checkpoint.rootHash)})`;
}

function fail(code: ProofVerdictCode, reason: string): { ok: false; reason: string; code: ProofVerdictCode } {
  return { ok: false, reason, code };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
