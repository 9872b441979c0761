import type { Identity, Queryable } from '../commons/db/index.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { isAdmin } from '../commons/identity.ts';
import { signCheckpoint } from './checkpoint-note.ts';
import type { Ledger } from './ledger.ts';
import { consistencyProof, consistencyProofNodes, inclusionProof, inclusionProofNodes, nodeKey, rootHash, rootNodes, type NodeRef } from './merkle.ts';
import { getSpan } from './read.ts';

/*
 * The ledger's Merkle logs from outside: signed checkpoints (transparency-dev signed notes) and RFC
 * 9162 inclusion and consistency proofs, read from ledger.merkle_node (migration 0006) in one snapshot.
 * A caller gets a log's checkpoint and proofs only if it may read that log: its own tenant's, or the
 * system log (the tenantless chain, whose public spans anyone reads). Proofs hold hashes only.
 */

/** Default origin of the logs (LOGLINEOS_LOG_ORIGIN): a name, not a URL that must resolve. */
export const DEFAULT_LOG_ORIGIN = 'loglineos.local';

export interface SignedCheckpoint {
  /** The chain whose log it is (a tenant id, '' for the system log). */
  readonly chain: string;
  readonly origin: string;
  readonly treeSize: number;
  /** Hex SHA-256 root of the log at treeSize. */
  readonly rootHash: string;
  readonly time: string;
  /** The signed note: what a client or witness keeps and verifies. */
  readonly note: string;
  /** The note's key name and the deployment's Ed25519 public key (hex) that signed it. */
  readonly keyName: string;
  readonly publicKey: string;
}

export interface InclusionProofAnswer {
  readonly spanId: string;
  readonly seq: number;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly hashes: readonly string[];
  readonly checkpoint: SignedCheckpoint;
}

export interface ConsistencyProofAnswer {
  readonly origin: string;
  readonly fromSize: number;
  readonly toSize: number;
  readonly hashes: readonly string[];
  readonly checkpoint: SignedCheckpoint;
}

/** The name of a chain's log: `<origin>/system` for the tenantless chain, `<origin>/tenant/<id>` for a tenant's. */
export function logOrigin(ledger: Ledger, chain: string): string {
  const base = ledger.logOrigin ?? DEFAULT_LOG_ORIGIN;
  return chain === '' ? `${base}/system` : `${base}/tenant/${encodeURIComponent(chain)}`;
}

/** Which log a caller asks for by tenant: a member of the tenant, an admin or an internal caller; '' is open to all. */
export function readableLog(identity: Identity | null, tenantId: string | null | undefined): string {
  const chain = tenantId ?? '';
  if (chain === '' || isAdmin(identity) || identity?.tenantId === chain) return chain;
  throw new ForbiddenError(`you can read only your own tenant's log and the system log (asked for tenant ${JSON.stringify(chain)}, yours is ${JSON.stringify(identity?.tenantId ?? null)})`, {
    field: 'tenantId',
    fix: 'Ask for your own tenant, or for tenantId null (the system log).',
  });
}

/** A signed checkpoint of the log at `treeSize` (default: its current size). */
export async function ledgerCheckpoint(ledger: Ledger, identity: Identity | null, tenantId: string | null | undefined, treeSize?: number | null): Promise<SignedCheckpoint> {
  const chain = readableLog(identity, tenantId);
  return ledger.db.withLedger(async (tx) => {
    const size = await checkedSize(tx, chain, treeSize, 'treeSize');
    return signAt(ledger, chain, size, await root(tx, chain, size));
  }, { snapshot: true });
}

/** Proof that a span the caller can read is leaf `chainSeq - 1` of its chain's log at `treeSize`. */
export async function spanInclusionProof(ledger: Ledger, identity: Identity | null, spanId: string, seq?: number | null, treeSize?: number | null): Promise<InclusionProofAnswer> {
  const span = await getSpan(ledger, identity, spanId, seq);
  if (!span) throw new NotFoundError(`no span ${spanId}${seq === undefined || seq === null ? '' : ` seq ${seq}`} that you can read`, { id: spanId, seq });
  const leafIndex = span.chainSeq - 1;
  return ledger.db.withLedger(async (tx) => {
    const size = await checkedSize(tx, span.chainKey, treeSize, 'treeSize');
    if (leafIndex >= size) {
      throw new ValidationError('treeSize', size, `is too small: span ${span.id} is leaf ${leafIndex} of its log`, `Ask for a treeSize above ${leafIndex}, or leave it out for the current size.`);
    }
    const nodes = await fetchNodes(tx, span.chainKey, [...inclusionProofNodes(leafIndex, size), ...rootNodes(size)]);
    return {
      spanId: span.id,
      seq: span.seq,
      leafIndex,
      treeSize: size,
      hashes: inclusionProof(leafIndex, size, nodes).map(hex),
      checkpoint: signAt(ledger, span.chainKey, size, rootHash(size, nodes)),
    };
  }, { snapshot: true });
}

/** Proof that the log at `fromSize` is a prefix of the log at `toSize` (default: current size). */
export async function logConsistencyProof(ledger: Ledger, identity: Identity | null, tenantId: string | null | undefined, fromSize: number, toSize?: number | null): Promise<ConsistencyProofAnswer> {
  const chain = readableLog(identity, tenantId);
  return ledger.db.withLedger(async (tx) => {
    const to = await checkedSize(tx, chain, toSize, 'toSize');
    if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > to) {
      throw new ValidationError('fromSize', fromSize, `must be a whole number from 1 to toSize (${to})`, 'Send the size of the checkpoint you kept.');
    }
    const nodes = await fetchNodes(tx, chain, [...consistencyProofNodes(fromSize, to), ...rootNodes(to)]);
    return {
      origin: logOrigin(ledger, chain),
      fromSize,
      toSize: to,
      hashes: consistencyProof(fromSize, to, nodes).map(hex),
      checkpoint: signAt(ledger, chain, to, rootHash(to, nodes)),
    };
  }, { snapshot: true });
}

/** The log's current size: its number of leaves. */
async function logSize(tx: Queryable, chain: string): Promise<number> {
  const [row] = await tx.query<{ size: number }>('select coalesce(max(idx) + 1, 0)::bigint as size from ledger.merkle_node where chain_key = $1 and level = 0', [chain]);
  return Number(row?.size ?? 0);
}

async function checkedSize(tx: Queryable, chain: string, wanted: number | null | undefined, field: string): Promise<number> {
  const current = await logSize(tx, chain);
  if (wanted === undefined || wanted === null) return current;
  if (!Number.isSafeInteger(wanted) || wanted < 0 || wanted > current) {
    throw new ValidationError(field, wanted, `must be a whole number from 0 to the log's current size (${current})`, `Leave ${field} out for the current size.`);
  }
  return wanted;
}

async function root(tx: Queryable, chain: string, size: number): Promise<Uint8Array> {
  return rootHash(size, await fetchNodes(tx, chain, rootNodes(size)));
}

/** The stored nodes named, in one indexed read. */
async function fetchNodes(tx: Queryable, chain: string, refs: readonly NodeRef[]): Promise<Map<string, Uint8Array>> {
  if (refs.length === 0) return new Map();
  const rows = await tx.query<{ level: number; idx: number; hash: Uint8Array }>(
    `select m.level, m.idx, m.hash from ledger.merkle_node m
       join unnest($2::int[], $3::bigint[]) as want(level, idx) on m.level = want.level and m.idx = want.idx
      where m.chain_key = $1`,
    [chain, refs.map((ref) => ref.level), refs.map((ref) => ref.index)],
  );
  return new Map(rows.map((row) => [nodeKey(Number(row.level), Number(row.idx)), new Uint8Array(row.hash)]));
}

function signAt(ledger: Ledger, chain: string, size: number, rootBytes: Uint8Array): SignedCheckpoint {
  if (!ledger.signer) {
    throw new ForbiddenError('checkpoints are signed with the deployment key, and this deployment runs without one (LOGLINEOS_SIGNING=off)', { fix: 'Turn deployment signing on.' });
  }
  const signer = ledger.signer;
  const origin = logOrigin(ledger, chain);
  const time = new Date().toISOString();
  const keyName = ledger.logOrigin ?? DEFAULT_LOG_ORIGIN;
  const note = signCheckpoint({ origin, size, rootHash: rootBytes, time }, keyName, hexBytes(signer.publicKeyHex), (message) => signer.signMessage(message));
  return { chain, origin, treeSize: size, rootHash: hex(rootBytes), time, note, keyName, publicKey: signer.publicKeyHex };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const hexBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
