import { hash } from 'node:crypto';
import { blake3Hex } from './canonical.ts';
import { verifyDigestSignature } from './signing.ts';
import { AT, canonicalStringOfValues } from './verify-canonical.ts';

/*
 * The checks of one batch of spans, in chain order. Every check of a span needs only that span and
 * the stored values of the span before it, so batches can be checked side by side (worker threads)
 * as long as each knows the last span of the batch before; verifyChain then takes the first
 * failing batch in chain order, which names the same first span, with the same code, as checking
 * one span after another.
 */

export type FailureCode =
  | 'hash_mismatch'
  | 'bad_signature'
  | 'untrusted_key'
  | 'unsigned'
  | 'gap'
  | 'broken_link'
  | 'chain_hash_mismatch'
  | 'wrong_chain'
  | 'position_order'
  | 'head_mismatch';

/** The stored values of a span that the next one is checked against. */
export interface ChainLink {
  readonly id: string;
  readonly seq: number;
  readonly chainSeq: number;
  readonly position: number;
  readonly currHash: string;
  readonly chainHash: string;
}

export interface BatchOptions {
  readonly chain: string;
  readonly requireSignatures?: boolean;
  readonly trustedKeys?: readonly string[];
  readonly expectedHead?: { readonly chainSeq: number; readonly chainHash: string };
}

/** One batch: each span's `SPAN_ARRAY_SQL` text, and the span before them. */
export interface BatchJob {
  readonly spans: readonly string[];
  readonly previous: ChainLink | null;
  readonly options: BatchOptions;
}

export interface BatchFailure {
  readonly id: string;
  readonly seq: number;
  readonly chainSeq: number;
  readonly position: number;
  readonly code: FailureCode;
  readonly reason: string;
}

export interface BatchOutcome {
  /** Spans that passed, from the start of the batch up to the failure (all of them without one). */
  readonly checked: number;
  /** The last span that passed; the batch's `previous` when none did. */
  readonly last: ChainLink | null;
  readonly failure?: BatchFailure;
  /** The expected head's chain_seq was reached and matched in this batch. */
  readonly headSeen: boolean;
}

const GENESIS = '00'.repeat(32);

/** SHA-256 over the previous chain hash and this span's hash: the link that makes a head commit to all history. */
export function nextChainHash(previousChainHash: string | null, currHash: string): string {
  // One-shot crypto.hash over both 32-byte values: half the cost of a Hash object per span.
  return hash('sha256', Buffer.from((previousChainHash ?? GENESIS) + currHash, 'hex'), 'hex');
}

// Canonical texts are encoded into one reused buffer (grown on demand) instead of a new array per span.
let scratch = new Uint8Array(64 * 1024);
const encoder = new TextEncoder();

function hashText(text: string): string {
  for (;;) {
    const { read, written } = encoder.encodeInto(text, scratch);
    if (read === text.length) return blake3Hex(scratch.subarray(0, written));
    scratch = new Uint8Array(text.length * 3);
  }
}

const linkOf = (span: readonly unknown[]): ChainLink => ({
  id: span[AT.id] as string,
  seq: span[AT.seq] as number,
  chainSeq: span[AT.chainSeq] as number,
  position: span[AT.position] as number,
  currHash: span[AT.currHash] as string,
  chainHash: span[AT.chainHash] as string,
});

/** The link of one span text (the last of a batch: where the next batch starts from). */
export function lastLinkOf(spanText: string): ChainLink {
  return linkOf(JSON.parse(spanText) as unknown[]);
}

/** Checks the spans of one batch in order, stopping at the first that fails. */
export function verifyBatch(job: BatchJob): BatchOutcome {
  const { chain, requireSignatures, trustedKeys, expectedHead } = job.options;
  let previous = job.previous;
  let headSeen = false;
  const { spans } = job;
  for (let index = 0; index < spans.length; index += 1) {
    // One JSON.parse per span measured ~3x cheaper than joining the batch and parsing it once.
    const span = JSON.parse(spans[index] as string) as unknown[];
    const failure = checkOne(span, previous, chain, requireSignatures === true, trustedKeys, expectedHead);
    if (failure) return { checked: index, last: previous, failure, headSeen };
    const link = linkOf(span);
    if (expectedHead && link.chainSeq === expectedHead.chainSeq) headSeen = true;
    previous = link;
  }
  return { checked: spans.length, last: previous, headSeen };
}

function checkOne(
  span: readonly unknown[],
  previous: ChainLink | null,
  chain: string,
  requireSignatures: boolean,
  trustedKeys: readonly string[] | undefined,
  expectedHead: BatchOptions['expectedHead'],
): BatchFailure | null {
  const chainSeq = span[AT.chainSeq] as number;
  const currHash = span[AT.currHash] as string;
  const chainHash = span[AT.chainHash] as string;
  const position = span[AT.position] as number;
  const fail = (code: FailureCode, reason: string): BatchFailure => ({ id: span[AT.id] as string, seq: span[AT.seq] as number, chainSeq, position, code, reason });

  const tenantId = span[AT.tenantId] as string | null;
  if (span[AT.chainKey] !== (tenantId ?? '')) {
    return fail('wrong_chain', `the span belongs to tenant ${JSON.stringify(tenantId)} but sits in chain ${JSON.stringify(chain)}`);
  }
  const expectedSeq = (previous?.chainSeq ?? 0) + 1;
  if (chainSeq !== expectedSeq) {
    return fail('gap', `chain position ${expectedSeq} is missing: the span after ${previous ? `${previous.id}/${previous.seq}` : 'the start'} is at ${chainSeq}`);
  }
  const prevHash = span[AT.prevHash] as string | null;
  if (prevHash !== (previous?.currHash ?? null)) {
    return fail('broken_link', `prev_hash ${String(prevHash)} does not match the curr_hash ${String(previous?.currHash ?? null)} of the span before it: spans were removed, inserted or reordered`);
  }
  if (previous && position <= previous.position) {
    return fail('position_order', `position ${position} is not after the previous span's ${previous.position}: spans were reordered`);
  }
  // The same checks, reasons and order as checkSpan (verify.ts), on the array instead of a Span.
  const computedHash = hashText(canonicalStringOfValues(span));
  if (computedHash !== currHash) {
    return fail('hash_mismatch', `stored curr_hash ${currHash} but the span's canonical form hashes to ${computedHash}: its content was changed after it was written`);
  }
  const signature = span[AT.signature] as string | null;
  const publicKey = span[AT.publicKey] as string | null;
  if (signature === null || publicKey === null) {
    if (requireSignatures) return fail('unsigned', 'the span carries no signature, and signatures are required');
  } else {
    if (!verifyDigestSignature(publicKey, currHash, signature)) return fail('bad_signature', `the signature is not valid for public key ${publicKey}`);
    if (trustedKeys && !trustedKeys.includes(publicKey)) return fail('untrusted_key', `signed by ${publicKey}, which is not a trusted key`);
  }
  if (chainHash !== nextChainHash(previous?.chainHash ?? null, currHash)) {
    return fail('chain_hash_mismatch', 'chain_hash does not follow from the previous chain_hash and this curr_hash');
  }
  if (expectedHead && chainSeq === expectedHead.chainSeq && chainHash !== expectedHead.chainHash) {
    return fail('head_mismatch', `the chain no longer passes through the recorded head ${expectedHead.chainHash} at ${expectedHead.chainSeq}: history before it was rewritten`);
  }
  return null;
}
