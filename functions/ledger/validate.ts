import { ValidationError, describe } from '../commons/errors.ts';
import { COLUMNS, camelCase, type Column } from './columns.ts';

/*
 * Everything a caller sends is checked here, before anything touches the database: unknown fields,
 * types, formats, enumerations, sizes and JSON shape. Each refusal names the field, the value and
 * the fix. What passes is normalised so the canonical hash is the same on every client.
 */

/** Largest canonical form of one span: well under AppSync's 1 MB request, with room for JSON escaping. */
export const MAX_SPAN_BYTES = 256 * 1024;
export const MAX_JSON_DEPTH = 32;
export const MAX_ARRAY_ITEMS = 256;
const MAX_SHORT_TEXT = 256;

const SHORT_TEXT = new Set(['entity_type', 'who', 'did', 'owner_id', 'tenant_id', 'status', 'language', 'runtime', 'trace_id',
  'sig_alg', 'sig_key_id', 'layer', 'memory_type', 'sensitivity', 'session_id', 'schema_id', 'enc_alg', 'enc_key_ref', 'model',
  'provider', 'compiled_hash', 'variant', 'prompt_family', 'app_id', 'device_id', 'token_hash', 'idempotency_key']);

const ENUMS: Readonly<Record<string, readonly string[]>> = {
  visibility: ['private', 'tenant', 'public'],
  layer: ['session', 'temporary', 'permanent', 'shared', 'local'],
  memory_type: ['note', 'fact', 'profile', 'preference', 'relationship', 'plan', 'action', 'other'],
  sensitivity: ['public', 'internal', 'secret', 'pii'],
  sig_alg: ['ed25519'],
};

const NON_NEGATIVE = new Set(['seq', 'duration_ms', 'input_tokens', 'output_tokens', 'latency_ms', 'ttft_ms', 'attempt']);
const REQUIRED = ['entity_type', 'who', 'did', 'this'];

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;
const ENTITY_TYPE = /^[a-z][a-z0-9_.]{0,63}$/;

export interface ValidatedSpanInput {
  /** Normalised client fields that were given (camelCase), `null` where the caller sent null. */
  readonly fields: Record<string, unknown>;
  readonly currHash?: string;
  readonly signature?: string;
}

const CLIENT_COLUMNS = new Map(COLUMNS.filter((col) => col.origin === 'client').map((col) => [camelCase(col.name), col]));
const LEDGER_FIELDS = new Set(COLUMNS.filter((col) => col.origin === 'ledger').map((col) => camelCase(col.name)));

export function validateSpanInput(input: unknown): ValidatedSpanInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('input', input, 'a span must be an object', 'Send an object with at least entityType, who, did and this.');
  }
  const fields: Record<string, unknown> = {};
  let currHash: string | undefined;
  let signature: string | undefined;
  for (const [key, value] of Object.entries(input)) {
    if (key === 'currHash' || key === 'signature') {
      if (value === null || value === undefined) continue;
      const expected = key === 'currHash' ? 64 : 128;
      if (typeof value !== 'string' || !new RegExp(`^[0-9a-f]{${expected}}$`).test(value)) {
        throw new ValidationError(key, value, `must be ${expected} lowercase hex characters`, key === 'currHash'
          ? 'Send the hex BLAKE3-256 of the canonical form (docs/canonical-form.md), or leave it out.'
          : 'Send the hex Ed25519 signature over the 32 digest bytes, or leave it out.');
      }
      if (key === 'currHash') currHash = value;
      else signature = value;
      continue;
    }
    if (LEDGER_FIELDS.has(key) || key === 'prevHash') {
      throw new ValidationError(key, value, 'is assigned by the ledger when the span is linked into its chain', `Leave ${key} out.`);
    }
    const column = CLIENT_COLUMNS.get(key);
    if (!column) {
      throw new ValidationError(key, value, 'is not a span field', 'See docs/columns.md for the fields a span has (camelCase); put anything else in metadata.');
    }
    if (value === undefined) continue;
    fields[key] = value === null ? null : normalize(column, key, value);
  }
  for (const column of REQUIRED) {
    const key = camelCase(column);
    if (fields[key] === undefined || fields[key] === null) {
      throw new ValidationError(key, fields[key], 'is required', `Send ${key} as a non-empty string.`);
    }
  }
  if (signature !== undefined && (fields.publicKey === undefined || fields.publicKey === null)) {
    throw new ValidationError('publicKey', fields.publicKey, 'is required with a signature', 'Send the hex Ed25519 public key that made the signature.');
  }
  if (signature === undefined && fields.publicKey !== undefined && fields.publicKey !== null) {
    throw new ValidationError('signature', undefined, 'is required with a publicKey', 'Send the signature too, or leave publicKey out.');
  }
  return { fields, ...(currHash ? { currHash } : {}), ...(signature ? { signature } : {}) };
}

function normalize(column: Column, field: string, value: unknown): unknown {
  switch (column.type) {
    case 'uuid':
      return uuid(field, value);
    case 'text':
      return text(column, field, value);
    case 'integer':
      return integer(column, field, value);
    case 'double precision':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new ValidationError(field, value, 'must be a finite number', `Send ${field} as a JSON number.`);
      }
      if (column.name === 'confidence' && (value < 0 || value > 1)) {
        throw new ValidationError(field, value, 'must be between 0 and 1', 'Send a confidence from 0 to 1.');
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new ValidationError(field, value, 'must be true or false', `Send ${field} as a JSON boolean.`);
      return value;
    case 'timestamptz':
      return timestamp(field, value);
    case 'jsonb':
      if (column.name === 'metadata' && (typeof value !== 'object' || Array.isArray(value))) {
        throw new ValidationError(field, value, 'must be a JSON object', 'Send metadata as an object of named values.');
      }
      checkJson(field, value, 0);
      // The value as the database will hand it back (-0 becomes 0), so a span returned from memory
      // equals the one read later.
      return JSON.parse(JSON.stringify(value)) as unknown;
    case 'uuid[]':
    case 'text[]': {
      if (!Array.isArray(value)) throw new ValidationError(field, value, 'must be an array', `Send ${field} as a JSON array.`);
      if (value.length > MAX_ARRAY_ITEMS) {
        throw new ValidationError(field, value, `has more than ${MAX_ARRAY_ITEMS} items`, `Send at most ${MAX_ARRAY_ITEMS}.`);
      }
      return value.map((item, index) =>
        column.type === 'uuid[]' ? uuid(`${field}[${index}]`, item) : text({ ...column, name: 'tag' }, `${field}[${index}]`, item),
      );
    }
    default:
      throw new ValidationError(field, value, 'cannot be given', `Leave ${field} out.`);
  }
}

function uuid(field: string, value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new ValidationError(field, value, 'must be a UUID', 'Send 32 hex digits as 8-4-4-4-12, e.g. 6f1c2a9e-0b7d-4c55-9a1e-3d2b8c4f7a10.');
  }
  return value.toLowerCase();
}

function text(column: Column, field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, value, 'must be a string', `Send ${field} as a JSON string.`);
  checkString(field, value);
  const short = SHORT_TEXT.has(column.name) || column.name === 'tag' || column.name === 'this';
  if (short && (value.length === 0 || value.length > MAX_SHORT_TEXT)) {
    throw new ValidationError(field, value, `must be 1 to ${MAX_SHORT_TEXT} characters`, `Send a shorter, non-empty ${field}.`);
  }
  if (column.name === 'entity_type' && !ENTITY_TYPE.test(value)) {
    throw new ValidationError(field, value, 'must be lowercase letters, digits, _ or . (starting with a letter, at most 64)', 'Use a name like function, memory or auth.decision.');
  }
  if (column.name === 'public_key' && !/^[0-9a-f]{64}$/.test(value)) {
    throw new ValidationError(field, value, 'must be 64 lowercase hex characters', 'Send the raw 32-byte Ed25519 public key as lowercase hex.');
  }
  const allowed = ENUMS[column.name];
  if (allowed && !allowed.includes(value)) {
    throw new ValidationError(field, value, `must be one of ${allowed.join(', ')}`, `Send one of: ${allowed.join(', ')}.`);
  }
  return value;
}

function integer(column: Column, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value > 2_147_483_647 || value < -2_147_483_648) {
    throw new ValidationError(field, value, 'must be a 32-bit integer', `Send ${field} as a whole JSON number.`);
  }
  if (NON_NEGATIVE.has(column.name) && value < 0) throw new ValidationError(field, value, 'must not be negative', `Send 0 or more.`);
  if (column.name === 'ttl_seconds' && value <= 0) throw new ValidationError(field, value, 'must be positive', 'Send a TTL of 1 second or more.');
  return value;
}

/**
 * RFC 3339 with an offset, at most millisecond precision, a date that exists and a UTC year from 1 to
 * 9999 (what PostgreSQL and toISOString() agree on); normalised to UTC `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * Span fields and read filters (since, until) take times through here.
 */
export function timestamp(field: string, value: unknown): string {
  const fix = 'Send an RFC 3339 time with an offset and at most millisecond precision, e.g. 2026-11-26T20:00:00.000Z.';
  if (typeof value !== 'string') throw new ValidationError(field, value, 'must be an RFC 3339 string', fix);
  const match = RFC3339.exec(value);
  const date = new Date(value);
  if (!match || Number.isNaN(date.getTime())) throw new ValidationError(field, value, 'is not an RFC 3339 date-time', fix);
  const [, year, month, day, hour, minute, second, fraction = ''] = match;
  if (fraction.length > 3 && /[1-9]/.test(fraction.slice(3))) {
    throw new ValidationError(field, value, 'has more than millisecond precision', fix);
  }
  // Date() rolls impossible dates over (Feb 29 of 2023 becomes Mar 1) where PostgreSQL refuses them:
  // the day must exist in its month, as written.
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    throw new ValidationError(field, value, 'has a field out of range (no such date or time)', fix);
  }
  if (Number(year) < 1 || date.getUTCFullYear() < 1) throw new ValidationError(field, value, 'is before year 1', fix);
  if (date.getUTCFullYear() > 9999) throw new ValidationError(field, value, 'is after year 9999', fix);
  return date.toISOString();
}

function checkString(field: string, value: string): void {
  // Postgres cannot store NUL in text or jsonb, and a lone surrogate has no UTF-8 form to hash.
  if (value.includes('\u0000')) {
    throw new ValidationError(field, value, 'contains a NUL character (\\u0000), which the ledger cannot store', 'Remove the NUL characters or encode the data (e.g. base64).');
  }
  if (!value.isWellFormed()) {
    throw new ValidationError(field, value, 'contains a lone UTF-16 surrogate, which has no UTF-8 form', 'Send well-formed Unicode text.');
  }
}

function checkJson(field: string, value: unknown, depth: number): void {
  if (depth > MAX_JSON_DEPTH) {
    throw new ValidationError(field, value, `nests deeper than ${MAX_JSON_DEPTH} levels`, 'Flatten the value.');
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError(field, value, 'holds a number JSON cannot represent', 'Send finite numbers only.');
    return;
  }
  if (typeof value === 'string') return checkString(field, value);
  if (Array.isArray(value)) {
    for (const item of value) checkJson(field, item, depth + 1);
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      checkString(`${field} key ${JSON.stringify(key.slice(0, 40))}`, key);
      checkJson(field, item, depth + 1);
    }
    return;
  }
  throw new ValidationError(field, value, `holds ${describe(value)}, which is not JSON`, 'Send only objects, arrays, strings, numbers, booleans and null.');
}
