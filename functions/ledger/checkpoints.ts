import type { Identity } from '../commons/db/index.ts';
import { appendSpan } from './append.ts';
import type { Ledger } from './ledger.ts';
import { ledgerCheckpoint, type SignedCheckpoint } from './proofs.ts';
import type { Span } from './span.ts';

/*
 * Checkpoints: the signed head of a chain's Merkle log, written back into that chain as a
 * `ledger_checkpoint` span (every N spans or T seconds, and on demand) and handed to witnesses that
 * keep them outside the database (a file under the data folder locally, an S3 bucket with Object Lock
 * on AWS). A rewrite of history behind the API cannot produce a log consistent with a checkpoint a
 * witness kept.
 */

/** Who writes checkpoints: the ledger itself, as a member of the chain's tenant. */
export const CHECKPOINT_WRITER = 'system:ledger';

export interface Witness {
  /** A name for reports ("file", "s3"). */
  readonly name: string;
  record(checkpoint: SignedCheckpoint): Promise<void>;
}

export interface CheckpointPolicy {
  /** Write a checkpoint once a log has grown by this many spans since the last one. */
  readonly everySpans: number;
  /** …or once this long has passed since the last one, if the log grew at all. */
  readonly everyMs: number;
}

export interface CheckpointWritten {
  readonly checkpoint: SignedCheckpoint;
  readonly span: Span;
  /** The witnesses that kept it, and the ones that failed (with why). */
  readonly witnessed: readonly string[];
  readonly witnessFailures: readonly string[];
}

/** Signs the log's current head, appends it as a span of the chain, and gives it to every witness. */
export async function writeCheckpoint(ledger: Ledger, chain: string, witnesses: readonly Witness[] = []): Promise<CheckpointWritten> {
  const writer: Identity = { userId: CHECKPOINT_WRITER, tenantId: chain === '' ? null : chain, groups: ['iam'] };
  const checkpoint = await ledgerCheckpoint(ledger, writer, chain === '' ? null : chain);
  const span = await appendSpan(ledger, writer, {
    entityType: 'ledger_checkpoint',
    who: 'ledger:checkpoint',
    did: 'checkpointed',
    this: checkpoint.origin,
    tenantId: writer.tenantId,
    // The system log's checkpoints are for everyone; a tenant's for its members.
    visibility: chain === '' ? 'public' : 'tenant',
    content: { origin: checkpoint.origin, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, time: checkpoint.time, note: checkpoint.note },
  });
  const witnessed: string[] = [];
  const witnessFailures: string[] = [];
  for (const witness of witnesses) {
    try {
      await witness.record(checkpoint);
      witnessed.push(witness.name);
    } catch (error) {
      // The checkpoint is in the ledger either way; a witness that missed one catches up with the next.
      witnessFailures.push(`${witness.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { checkpoint, span, witnessed, witnessFailures };
}

/** The size each chain's log had at its last checkpoint, and when that was written. */
async function lastCheckpoints(ledger: Ledger): Promise<Map<string, { size: number; at: number }>> {
  const rows = await ledger.db.withLedger((tx) =>
    tx.query<{ chain_key: string; size: number; recorded_at: Date | string }>(
      `select distinct on (chain_key) chain_key, (content ->> 'treeSize')::bigint as size, recorded_at
         from ledger.universal_registry
        where entity_type = 'ledger_checkpoint' and owner_id = $1
        order by chain_key, chain_seq desc`,
      [CHECKPOINT_WRITER],
    ),
  );
  return new Map(rows.map((row) => [row.chain_key, { size: Number(row.size), at: new Date(row.recorded_at).getTime() }]));
}

/**
 * One pass: a checkpoint for every chain whose log grew by `everySpans`, or grew at all and has gone
 * `everyMs` without one. The checkpoint span itself is one leaf, so a log that only grew by its own
 * last checkpoint is not due.
 */
export async function checkpointPass(ledger: Ledger, policy: CheckpointPolicy, witnesses: readonly Witness[] = [], now = Date.now()): Promise<CheckpointWritten[]> {
  const last = await lastCheckpoints(ledger);
  // Every log's size in one read: its leaves are level 0, numbered from 0.
  const rows = await ledger.db.withLedger((tx) =>
    tx.query<{ chain_key: string; size: number }>('select chain_key, (max(idx) + 1)::bigint as size from ledger.merkle_node where level = 0 group by chain_key'),
  );
  const sizes = new Map(rows.map((row) => [row.chain_key, Number(row.size)]));
  const written: CheckpointWritten[] = [];
  for (const [chain, size] of sizes) {
    const previous = last.get(chain);
    const grown = size - (previous ? previous.size + 1 : 0);
    const due = grown >= policy.everySpans || (grown > 0 && now - (previous?.at ?? 0) >= policy.everyMs);
    if (due) written.push(await writeCheckpoint(ledger, chain, witnesses));
  }
  return written;
}

/** Runs checkpoint passes on an interval in this process (the local server); stop() awaits a running pass. */
export function startCheckpointInterval(
  ledger: Ledger,
  policy: CheckpointPolicy,
  witnesses: readonly Witness[],
  intervalMs: number,
  onWritten: (written: CheckpointWritten) => Promise<void> = async () => undefined,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        for (const written of await checkpointPass(ledger, policy, witnesses)) await onWritten(written);
      } catch (error) {
        console.error(JSON.stringify({ level: 'error', message: 'checkpoint pass failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
      }
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
