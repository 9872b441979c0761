import { randomUUID } from 'node:crypto';
import { asDatabaseFailure, type Identity, type Queryable } from '../commons/db/database.ts';
import { ConflictError, ForbiddenError, SignatureError, ValidationError } from '../commons/errors.ts';
import { canonicalString, blake3Hex } from './canonical.ts';
import { COLUMNS, camelCase } from './columns.ts';
import type { Ledger } from './ledger.ts';
import { verifyDigestSignature, type Signer } from './signing.ts';
import { SPAN_COLUMNS_SQL, spanFromRow, type Span } from './span.ts';
import { MAX_SPAN_BYTES, validateSpanInput, type ValidatedSpanInput } from './validate.ts';
import { committerFor, insertRowsStatement } from './group-commit.ts';
import { requireSignedIn } from '../commons/identity.ts';
import { countMetric } from '../commons/observability-metrics.ts';

const encoder = new TextEncoder();

// Everything a caller may send, plus the proof columns; the chain columns are filled by the database.
const INSERT_FIELDS = COLUMNS.filter((col) => col.origin !== 'ledger').map((col) => ({ column: col.name, field: camelCase(col.name) }));
const DRAFT_FIELDS = INSERT_FIELDS.map(({ field }) => field).filter((field) => field !== 'currHash' && field !== 'signature');
const SELECT_VERSION_SQL = `select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = $1 and r.seq = $2`;
const NEXT_SEQ_SQL = 'select coalesce(max(seq) + 1, 0) as next from ledger.universal_registry where id = $1';

interface Sealed {
  readonly currHash: string;
  readonly signature: string | null;
  /** The insert columns that are not null, snake_case, as `insertRowsStatement` takes them. */
  readonly row: Record<string, unknown>;
}

/**
 * Appends one span as `identity`. Everything but the insert itself (validation, defaults, hash,
 * signature) happens before a connection is taken; the insert joins its chain's next group commit
 * (group-commit.ts), whose statements travel with their begin and commit in one round trip, so a
 * chain's lock is held only while the database works.
 */
export async function appendSpan(ledger: Ledger, identity: Identity | null, input: unknown): Promise<Span> {
  const validated = validateSpanInput(input);
  const caller = requireSignedIn(identity, 'appending');
  const draft = withDefaults(caller, validated.fields);
  if (draft.seq === null) {
    // The next version of an existing id: its seq must be read first, in the same transaction.
    return ledger.db.withSession(caller, (tx) => appendDraft(tx, draft, validated, ledger.signer));
  }
  const sealed = seal(draft, validated, ledger.signer);
  let inserted: Record<string, unknown> | null;
  try {
    inserted = await committerFor(ledger.db, ledger.appendGroups ? { maxGroups: ledger.appendGroups } : {}).submit({ chainKey: String(draft.tenantId ?? ''), identity: caller, row: sealed.row });
  } catch (error) {
    throw translateFailure(error, draft);
  }
  if (inserted) return storedSpan(sealed, inserted);
  return ledger.db.withSession(caller, (tx) => resolveRetry(tx, draft, validated, ledger.signer, sealed));
}

/** Appends inside a transaction the caller already holds (kernels, multi-span writes). */
export async function appendSpanInSession(tx: Queryable, identity: Identity | null, input: unknown, signer?: Signer): Promise<Span> {
  const validated = validateSpanInput(input);
  return appendDraft(tx, withDefaults(requireSignedIn(identity, 'appending'), validated.fields), validated, signer);
}

async function appendDraft(tx: Queryable, draft: Record<string, unknown>, input: ValidatedSpanInput, signer?: Signer): Promise<Span> {
  if (draft.seq === null) {
    const [row] = await tx.query<{ next: number }>(NEXT_SEQ_SQL, [draft.id]);
    draft.seq = Number(row?.next ?? 0);
  }
  const sealed = seal(draft, input, signer);
  const statement = insertRowsStatement([sealed.row]);
  let rows: Record<string, unknown>[];
  try {
    rows = await tx.query(statement.text, statement.params);
  } catch (error) {
    throw translateFailure(error, draft);
  }
  const inserted = rows[0];
  if (inserted) return storedSpan(sealed, inserted);
  return resolveRetry(tx, draft, input, signer, sealed);
}

/** The stored span: what was sent (validated, so stored unchanged) plus what the database assigned. */
function storedSpan(sealed: Sealed, assigned: Record<string, unknown>): Span {
  // Metric spans are not counted: the figures would otherwise count their own writing forever.
  if (sealed.row.entity_type !== 'metric') countMetric('SpansAppended');
  // The row has been sent; it is completed in place rather than copied (this runs for every append).
  return spanFromRow(Object.assign(sealed.row, assigned));
}

function withDefaults(identity: Identity, fields: Record<string, unknown>): Record<string, unknown> {
  const draft: Record<string, unknown> = {};
  for (const field of DRAFT_FIELDS) draft[field] = null;
  Object.assign(draft, fields);

  if (draft.ownerId === null) draft.ownerId = identity.userId;
  else if (draft.ownerId !== identity.userId) {
    throw new ForbiddenError(`ownerId: a span is always owned by its writer (got ${JSON.stringify(draft.ownerId)}, you are ${JSON.stringify(identity.userId)}). Leave ownerId out.`, {
      field: 'ownerId',
    });
  }
  if (!('tenantId' in fields)) draft.tenantId = identity.tenantId;
  else if (draft.tenantId !== null && draft.tenantId !== identity.tenantId) {
    throw new ForbiddenError(`tenantId: you can only write into your own tenant (got ${JSON.stringify(draft.tenantId)}, yours is ${JSON.stringify(identity.tenantId)}). Leave tenantId out, or send null for a tenantless span.`, {
      field: 'tenantId',
    });
  }
  draft.id ??= randomUUID();
  if (fields.id === undefined || fields.id === null) draft.seq ??= 0;
  draft.at ??= new Date().toISOString();
  draft.visibility ??= 'private';
  draft.isDeleted ??= false;
  return draft;
}

/** Hashes the span, then checks the client's signature or adds the deployment's. */
function seal(draft: Record<string, unknown>, input: ValidatedSpanInput, signer?: Signer): Sealed {
  const span = { ...draft };
  // The deployment signs what a client left unsigned, unless the client pinned the hash itself.
  const serverSigns = signer !== undefined && input.signature === undefined && input.currHash === undefined;
  if (serverSigns) {
    span.publicKey = signer.publicKeyHex;
    span.sigKeyId = signer.keyId;
  }
  const canonical = canonicalString(span);
  const bytes = encoder.encode(canonical);
  if (bytes.length > MAX_SPAN_BYTES) {
    throw new ValidationError('input', `${bytes.length} bytes`, `is larger than the ${MAX_SPAN_BYTES}-byte limit of one span`, 'Split the content over several spans, or store large data elsewhere and reference it.');
  }
  const currHash = blake3Hex(bytes);
  if (input.currHash !== undefined && input.currHash !== currHash) {
    throw new SignatureError(`currHash ${input.currHash} does not match the canonical form of the span, whose hash is ${currHash}. Recompute it as docs/canonical-form.md describes (defaults such as visibility and isDeleted are included).`, {
      field: 'currHash',
      expected: currHash,
    });
  }
  if (input.signature !== undefined) {
    if (!verifyDigestSignature(String(span.publicKey), currHash, input.signature)) {
      throw new SignatureError(`signature does not verify: it is not an Ed25519 signature by publicKey ${String(span.publicKey)} over the span's hash ${currHash}. Sign the 32 bytes of the hash after filling every field you send.`, {
        field: 'signature',
        currHash,
      });
    }
    return { currHash, signature: input.signature, row: insertRow(span, currHash, input.signature) };
  }
  const signature = serverSigns ? signer.sign(currHash) : null;
  return { currHash, signature, row: insertRow(span, currHash, signature) };
}

function insertRow(span: Record<string, unknown>, currHash: string, signature: string | null): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const { column, field } of INSERT_FIELDS) {
    const value = field === 'currHash' ? currHash : field === 'signature' ? signature : span[field];
    if (value !== null && value !== undefined) row[column] = value;
  }
  return row;
}

/**
 * `(id, seq)` already exists. The same span again (a retry) returns the stored one; anything else is
 * a conflict. A retry that left `at` to the server is compared with the stored time.
 */
async function resolveRetry(tx: Queryable, draft: Record<string, unknown>, input: ValidatedSpanInput, signer: Signer | undefined, sealed: Sealed): Promise<Span> {
  const [row] = await tx.query(SELECT_VERSION_SQL, [draft.id, draft.seq]);
  const where = { field: 'seq', id: draft.id, seq: draft.seq };
  if (!row) {
    throw new ConflictError(`id ${String(draft.id)} already has a version ${String(draft.seq)} that you cannot read. Use a new id.`, where);
  }
  const stored = spanFromRow(row);
  const candidate = input.fields.at === undefined ? seal({ ...draft, at: stored.at }, input, signer).currHash : sealed.currHash;
  if (candidate === stored.currHash) return stored;
  throw new ConflictError(`id ${stored.id} already has a different version ${stored.seq} (hash ${stored.currHash}). To change it, append seq ${stored.seq + 1}.`, where);
}

function translateFailure(error: unknown, draft: Record<string, unknown>): unknown {
  const failure = asDatabaseFailure(error);
  if (!failure) return error;
  if (failure.hint === 'LEDGER_SEQ_GAP') {
    return new ValidationError('seq', draft.seq, `is not the next version of ${String(draft.id)}`, 'Send seq = the latest seq + 1, or leave seq out to append the next version.');
  }
  if (failure.hint === 'LEDGER_OWNER_CHANGE') {
    return new ForbiddenError(`id ${String(draft.id)} belongs to another owner or tenant; a new version keeps the owner and tenant of the first. Use a new id.`, { field: 'id' });
  }
  if (failure.code === '42501') {
    return new ForbiddenError(`the ledger refused this span for your identity: ${failure.message}`, {});
  }
  return error;
}
