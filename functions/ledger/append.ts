import { randomUUID } from 'node:crypto';
import { asDatabaseFailure, type Identity, type Queryable, type Statement } from '../commons/db/database.ts';
import { ConflictError, ForbiddenError, SignatureError, ValidationError } from '../commons/errors.ts';
import { canonicalString, blake3Hex } from './canonical.ts';
import { COLUMNS, camelCase } from './columns.ts';
import type { Ledger } from './ledger.ts';
import { verifyDigestSignature, type Signer } from './signing.ts';
import { SPAN_COLUMNS_SQL, spanFromRow, type Span } from './span.ts';
import { MAX_SPAN_BYTES, validateSpanInput, type ValidatedSpanInput } from './validate.ts';
import { requireSignedIn } from '../commons/identity.ts';

const encoder = new TextEncoder();

// Everything a caller may send, plus the proof columns; the chain columns are filled by the database.
const INSERT_COLUMNS = COLUMNS.filter((col) => col.origin !== 'ledger');
// Only what the database assigned comes back; the rest is what was sent, already normalised.
const LEDGER_COLUMNS = COLUMNS.filter((col) => col.origin === 'ledger');
const INSERT_FIELDS = INSERT_COLUMNS.map((col) => ({ column: col.name, field: camelCase(col.name), jsonb: col.type === 'jsonb' }));
const INSERT_SQL = `insert into ledger.universal_registry as r (${INSERT_COLUMNS.map((col) => (col.name === 'this' ? '"this"' : col.name)).join(', ')})
values (${INSERT_COLUMNS.map((_, index) => `$${index + 1}`).join(', ')})
on conflict (id, seq) do nothing
returning ${LEDGER_COLUMNS.map((col) => `r.${col.name}`).join(', ')}`;
const SELECT_VERSION_SQL = `select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = $1 and r.seq = $2`;
const NEXT_SEQ_SQL = 'select coalesce(max(seq) + 1, 0) as next from ledger.universal_registry where id = $1';

interface Sealed {
  readonly span: Record<string, unknown>;
  readonly currHash: string;
  readonly signature: string | null;
}

/**
 * Appends one span as `identity`, in its own transaction. Everything but the insert itself
 * (validation, defaults, hash, signature) happens before a connection is taken, and the insert
 * travels with its begin and commit in one round trip, so a chain's lock is held only while the
 * database works.
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
  let rows: Record<string, unknown>[];
  try {
    [rows = []] = await ledger.db.runStatements(caller, [insertStatement(sealed)]);
  } catch (error) {
    throw translateFailure(error, draft);
  }
  const inserted = rows[0];
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
  const statement = insertStatement(sealed);
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
  const row: Record<string, unknown> = { ...assigned };
  for (const { field, column } of INSERT_FIELDS) row[column] = field === 'currHash' ? sealed.currHash : field === 'signature' ? sealed.signature : sealed.span[field] ?? null;
  return spanFromRow(row);
}

function insertStatement(sealed: Sealed): Statement {
  return { text: INSERT_SQL, params: INSERT_FIELDS.map(({ field, jsonb }) => toParam(sealed, field, jsonb)) };
}

function withDefaults(identity: Identity, fields: Record<string, unknown>): Record<string, unknown> {
  const draft: Record<string, unknown> = {};
  for (const col of INSERT_COLUMNS) draft[camelCase(col.name)] = null;
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
    return { span, currHash, signature: input.signature };
  }
  return { span, currHash, signature: serverSigns ? signer.sign(currHash) : null };
}

function toParam(sealed: Sealed, field: string, jsonb: boolean): unknown {
  if (field === 'currHash') return sealed.currHash;
  if (field === 'signature') return sealed.signature;
  const value = sealed.span[field];
  if (value === null || value === undefined) return null;
  return jsonb ? JSON.stringify(value) : value;
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
