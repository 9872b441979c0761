import { createHash } from 'node:crypto';
import type { Identity } from '../commons/db/index.ts';
import { NotFoundError } from '../commons/errors.ts';
import { hashSpan } from './canonical.ts';
import type { Ledger } from './ledger.ts';
import { verifyDigestSignature } from './signing.ts';
import { SPAN_COLUMNS_SQL, spanFromRow, type Span } from './span.ts';
import { getSpan } from './read.ts';

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

export interface SpanCheck {
  readonly ok: boolean;
  readonly code?: FailureCode;
  readonly reason?: string;
}

export interface SpanVerification extends SpanCheck {
  readonly id: string;
  readonly seq: number;
  readonly currHash: string;
  readonly computedHash: string;
  readonly signed: boolean;
}

export interface ChainHead {
  readonly chainSeq: number;
  readonly chainHash: string;
}

export interface ChainFailure {
  readonly id: string;
  readonly seq: number;
  readonly chainSeq: number;
  readonly position: number;
  readonly code: FailureCode;
  readonly reason: string;
}

export interface ChainReport {
  /** The chain: a tenant id, or '' for the tenantless chain. */
  readonly chain: string;
  readonly ok: boolean;
  /** Spans checked before the first failure (all of them when ok). */
  readonly checked: number;
  /** Last span checked; keep it outside the database to prove later that history was not rewritten. */
  readonly head: (ChainHead & { readonly currHash: string }) | null;
  readonly failure?: ChainFailure;
}

export interface ChainOptions {
  /** A head recorded earlier: the chain must still pass through it (same chain_hash at that chain_seq). */
  readonly expectedHead?: ChainHead;
  /** Every span must carry a valid signature. */
  readonly requireSignatures?: boolean;
  /** When given, every signature must be by one of these public keys (hex). */
  readonly trustedKeys?: readonly string[];
  readonly batchSize?: number;
}

const GENESIS = Buffer.alloc(32);

/** SHA-256 over the previous chain hash and this span's hash: the link that makes a head commit to all history. */
export function nextChainHash(previousChainHash: string | null, currHash: string): string {
  return createHash('sha256')
    .update(previousChainHash === null ? GENESIS : Buffer.from(previousChainHash, 'hex'))
    .update(Buffer.from(currHash, 'hex'))
    .digest('hex');
}

/** Recomputes one stored span's hash and checks its signature. */
export function checkSpan(span: Span, options: Pick<ChainOptions, 'requireSignatures' | 'trustedKeys'> = {}): SpanCheck & { computedHash: string } {
  const computedHash = hashSpan(span as unknown as Record<string, unknown>);
  if (computedHash !== span.currHash) {
    return { ok: false, computedHash, code: 'hash_mismatch', reason: `stored curr_hash ${span.currHash} but the span's canonical form hashes to ${computedHash}: its content was changed after it was written` };
  }
  if (span.signature === null || span.publicKey === null) {
    if (options.requireSignatures) return { ok: false, computedHash, code: 'unsigned', reason: 'the span carries no signature, and signatures are required' };
    return { ok: true, computedHash };
  }
  if (!verifyDigestSignature(span.publicKey, span.currHash, span.signature)) {
    return { ok: false, computedHash, code: 'bad_signature', reason: `the signature is not valid for public key ${span.publicKey}` };
  }
  if (options.trustedKeys && !options.trustedKeys.includes(span.publicKey)) {
    return { ok: false, computedHash, code: 'untrusted_key', reason: `signed by ${span.publicKey}, which is not a trusted key` };
  }
  return { ok: true, computedHash };
}

/** Verifies one span the caller can read. */
export async function verifySpan(ledger: Ledger, identity: Identity | null, id: string, seq?: number | null): Promise<SpanVerification> {
  const span = await getSpan(ledger, identity, id, seq);
  if (!span) throw new NotFoundError(`no span ${id}${seq === undefined || seq === null ? '' : ` seq ${seq}`} that you can read`, { id, seq });
  const check = checkSpan(span);
  return { ...check, id: span.id, seq: span.seq, currHash: span.currHash, signed: span.signature !== null };
}

/**
 * Walks one chain in order and recomputes every hash, signature and link, stopping at the first span
 * that does not match. It reads as the ledger role in one snapshot, so it sees the whole chain
 * exactly as it stood when it started, whatever is appended meanwhile.
 */
export async function verifyChain(ledger: Ledger, chain: string, options: ChainOptions = {}): Promise<ChainReport> {
  const batchSize = options.batchSize ?? 2000;
  const sql = `select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r
    where r.chain_key = $1 and r.chain_seq > $2 order by r.chain_seq limit $3`;
  return ledger.db.withLedger(async (tx) => {
    let checked = 0;
    let previous: Span | null = null;
    let headSeen = options.expectedHead === undefined;
    const fail = (span: Span, code: FailureCode, reason: string): ChainReport => ({
      chain,
      ok: false,
      checked,
      head: previous ? { chainSeq: previous.chainSeq, chainHash: previous.chainHash, currHash: previous.currHash } : null,
      failure: { id: span.id, seq: span.seq, chainSeq: span.chainSeq, position: span.position, code, reason },
    });

    // The next batch is fetched while this one is hashed.
    let pending = tx.query(sql, [chain, 0, batchSize]);
    for (;;) {
      const rows = await pending;
      if (rows.length === 0) break;
      const last = rows[rows.length - 1];
      if (rows.length === batchSize && last) pending = tx.query(sql, [chain, last.chain_seq, batchSize]);
      for (const row of rows) {
        const span = spanFromRow(row);
        const expectedSeq = (previous?.chainSeq ?? 0) + 1;
        if (span.chainKey !== (span.tenantId ?? '')) {
          return fail(span, 'wrong_chain', `the span belongs to tenant ${JSON.stringify(span.tenantId)} but sits in chain ${JSON.stringify(chain)}`);
        }
        if (span.chainSeq !== expectedSeq) {
          return fail(span, 'gap', `chain position ${expectedSeq} is missing: the span after ${previous ? `${previous.id}/${previous.seq}` : 'the start'} is at ${span.chainSeq}`);
        }
        if (span.prevHash !== (previous?.currHash ?? null)) {
          return fail(span, 'broken_link', `prev_hash ${String(span.prevHash)} does not match the curr_hash ${String(previous?.currHash ?? null)} of the span before it: spans were removed, inserted or reordered`);
        }
        if (previous && span.position <= previous.position) {
          return fail(span, 'position_order', `position ${span.position} is not after the previous span's ${previous.position}: spans were reordered`);
        }
        const check = checkSpan(span, options);
        if (!check.ok) return fail(span, check.code ?? 'hash_mismatch', check.reason ?? 'does not verify');
        if (span.chainHash !== nextChainHash(previous?.chainHash ?? null, span.currHash)) {
          return fail(span, 'chain_hash_mismatch', 'chain_hash does not follow from the previous chain_hash and this curr_hash');
        }
        if (options.expectedHead && span.chainSeq === options.expectedHead.chainSeq) {
          if (span.chainHash !== options.expectedHead.chainHash) {
            return fail(span, 'head_mismatch', `the chain no longer passes through the recorded head ${options.expectedHead.chainHash} at ${options.expectedHead.chainSeq}: history before it was rewritten`);
          }
          headSeen = true;
        }
        previous = span;
        checked += 1;
      }
      if (rows.length < batchSize) break;
    }
    const head = previous ? { chainSeq: previous.chainSeq, chainHash: previous.chainHash, currHash: previous.currHash } : null;
    if (!headSeen && options.expectedHead) {
      return {
        chain,
        ok: false,
        checked,
        head,
        failure: { id: previous?.id ?? '', seq: previous?.seq ?? 0, chainSeq: previous?.chainSeq ?? 0, position: previous?.position ?? 0, code: 'head_mismatch',
          reason: `the chain ends at ${head?.chainSeq ?? 0}, before the recorded head at ${options.expectedHead.chainSeq}: spans were removed from its end` },
      };
    }
    return { chain, ok: true, checked, head };
  }, { snapshot: true });
}

/** Every chain in the ledger (tenant ids, and '' for tenantless spans). */
export function listChains(ledger: Ledger): Promise<string[]> {
  return ledger.db.withLedger(async (tx) => {
    const rows = await tx.query<{ chain_key: string }>('select distinct chain_key from ledger.universal_registry order by chain_key');
    return rows.map((row) => row.chain_key);
  });
}
