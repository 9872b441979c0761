import type { Identity } from '../commons/db/index.ts';
import { NotFoundError } from '../commons/errors.ts';
import { hashSpan } from './canonical.ts';
import type { Ledger } from './ledger.ts';
import { verifyDigestSignature } from './signing.ts';
import type { Span } from './span.ts';
import { getSpan } from './read.ts';
import { countMetric } from '../commons/observability-metrics.ts';
import { lastLinkOf, verifyBatch, type BatchFailure, type BatchJob, type BatchOptions, type BatchOutcome, type ChainLink, type FailureCode } from './verify-batch.ts';
import { SPAN_ARRAY_SQL } from './verify-canonical.ts';
import { defaultVerifyWorkers, startedVerifyPool, verifyPool, VerifyWorkerLost, type VerifyPool } from './verify-pool.ts';

export { nextChainHash, type FailureCode } from './verify-batch.ts';

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

/** The first span of a chain that does not verify: the same shape a batch reports. */
export type ChainFailure = BatchFailure;

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
  /** Spans per batch (2000). */
  readonly batchSize?: number;
  /**
   * Worker threads for chains longer than one batch; 0 checks every batch on the calling thread.
   * Default: LOGLINEOS_VERIFY_WORKERS, else one per core.
   */
  readonly workers?: number;
  /** Called with the spans verified so far after each batch (progress of a long chain). */
  readonly onProgress?: (checked: number) => void;
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
 *
 * Spans come in batches, each span as one JSON text (verify-canonical.ts), and the next batch is
 * fetched while this one is checked. Once a chain proves longer than one batch, batches go to a
 * pool of worker threads (verify-pool.ts) and are taken back in chain order, so the report names
 * the same first failure as a walk span by span. docs/verification.md has the design and figures.
 */
export async function verifyChain(ledger: Ledger, chain: string, options: ChainOptions = {}): Promise<ChainReport> {
  const batchSize = options.batchSize ?? 2000;
  const workers = options.workers ?? defaultVerifyWorkers();
  const batchOptions: BatchOptions = {
    chain,
    ...(options.requireSignatures ? { requireSignatures: true } : {}),
    ...(options.trustedKeys ? { trustedKeys: [...options.trustedKeys] } : {}),
    ...(options.expectedHead ? { expectedHead: { chainSeq: options.expectedHead.chainSeq, chainHash: options.expectedHead.chainHash } } : {}),
  };
  const sql = `select r.chain_seq, ${SPAN_ARRAY_SQL} as span from ledger.universal_registry r
    where r.chain_key = $1 and r.chain_seq > $2 order by r.chain_seq limit $3`;
  return ledger.db.withLedger(async (tx) => {
    // Timestamps are read as text; in UTC they print as the canonical form wants them.
    await tx.query("select set_config('TimeZone', 'UTC', true)");
    const fetch = (after: number) => {
      const rows = tx.query<{ chain_seq: number; span: string }>(sql, [chain, after, batchSize]);
      rows.catch(() => undefined); // awaited below; never left unobserved when verification stops early
      return rows;
    };

    // A pool already up (an earlier chain) takes every batch; otherwise it starts once a second batch is seen.
    let pool: VerifyPool | null = workers > 0 ? startedVerifyPool(workers) : null;
    let poolStarted = pool !== null;
    // Batches handed out and not yet taken back, in chain order; bounded so memory stays flat.
    const inFlight: Promise<BatchOutcome>[] = [];
    const maxInFlight = 2 * Math.max(1, workers);
    // What the batches taken back so far add up to.
    const so: { checked: number; last: ChainLink | null; headSeen: boolean; failure?: BatchFailure } = { checked: 0, last: null, headSeen: false };
    const takeBack = async (): Promise<void> => {
      const outcome = await (inFlight.shift() as Promise<BatchOutcome>);
      so.checked += outcome.checked;
      so.last = outcome.last;
      so.headSeen ||= outcome.headSeen;
      if (outcome.failure) so.failure = outcome.failure;
      options.onProgress?.(so.checked);
    };
    const check = (job: BatchJob): Promise<BatchOutcome> => {
      if (!pool) return Promise.resolve(verifyBatch(job));
      return pool.run(job).catch((error: unknown) => (error instanceof VerifyWorkerLost ? verifyBatch(job) : Promise.reject(error)));
    };

    let previous: ChainLink | null = null;
    let pending: Promise<{ chain_seq: number; span: string }[]> | null = fetch(0);
    try {
      while (pending && !so.failure) {
        const rows: { chain_seq: number; span: string }[] = await pending;
        const lastRow = rows[rows.length - 1];
        pending = rows.length === batchSize && lastRow ? fetch(lastRow.chain_seq) : null;
        if (!lastRow) break;
        if (pending && workers > 0 && !poolStarted) {
          poolStarted = true;
          void verifyPool(workers).then((started) => {
            pool = started;
          });
        }
        const job: BatchJob = { spans: rows.map((row) => row.span), previous, options: batchOptions };
        previous = lastLinkOf(lastRow.span);
        const outcome = check(job);
        outcome.catch(() => undefined);
        inFlight.push(outcome);
        while (!so.failure && inFlight.length > 0 && (inFlight.length >= maxInFlight || !pool || !pending)) await takeBack();
      }
      while (!so.failure && inFlight.length > 0) await takeBack();
    } finally {
      // Stopped early (a failure, or an error): nothing may be left running against the transaction.
      await Promise.allSettled([...inFlight, pending ?? Promise.resolve()]);
    }
    const head = (link: ChainLink | null) => (link ? { chainSeq: link.chainSeq, chainHash: link.chainHash, currHash: link.currHash } : null);
    const { checked, last: end, failure } = so;
    if (failure) {
      countMetric('VerificationFailures');
      return { chain, ok: false, checked, head: head(end), failure };
    }
    if (options.expectedHead && !so.headSeen) {
      countMetric('VerificationFailures');
      return {
        chain,
        ok: false,
        checked,
        head: head(end),
        failure: { id: end?.id ?? '', seq: end?.seq ?? 0, chainSeq: end?.chainSeq ?? 0, position: end?.position ?? 0, code: 'head_mismatch',
          reason: `the chain ends at ${end?.chainSeq ?? 0}, before the recorded head at ${options.expectedHead.chainSeq}: spans were removed from its end` },
      };
    }
    return { chain, ok: true, checked, head: head(end) };
  }, { snapshot: true });
}

/** Every chain in the ledger (tenant ids, and '' for tenantless spans). */
export function listChains(ledger: Ledger): Promise<string[]> {
  return ledger.db.withLedger(async (tx) => {
    const rows = await tx.query<{ chain_key: string }>('select distinct chain_key from ledger.universal_registry order by chain_key');
    return rows.map((row) => row.chain_key);
  });
}
