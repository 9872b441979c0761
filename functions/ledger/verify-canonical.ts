import canonicalize from 'canonicalize';
import { HASHED_COLUMNS, type ColumnType } from './columns.ts';

/*
 * What verification reads of a stored span, and its canonical form written straight from that.
 *
 * The database sends each span as ONE JSON array (`json_build_array(…)::text`), parsed with the
 * native JSON.parse: one field per row through the driver instead of ~70, and no Date objects.
 * Timestamps travel as their text in UTC ('2026-12-04 16:31:54.591+00'), exactly what the pg
 * driver parses for spanFromRow, and are rewritten to the canonical form without a Date. Every
 * other value arrives as the driver would have parsed it: JSON of text, uuid, integers, booleans,
 * float8 (the same float8out text), arrays and jsonb (the same jsonb text) parses to the same
 * values. So `canonicalStringOfValues(values)` equals `canonicalString(spanFromRow(row))` for the
 * same stored row; test/ledger/verify-canonical.test.ts holds them equal on random rows.
 */

/** Chain columns read after the hashed ones. `public_key` is itself hashed. */
const CHAIN_COLUMNS = ['chain_key', 'chain_seq', 'prev_hash', 'curr_hash', 'chain_hash', 'position', 'signature'] as const;

const indexOf = (name: string): number => {
  const hashed = HASHED_COLUMNS.findIndex((col) => col.name === name);
  if (hashed >= 0) return hashed;
  const chain = CHAIN_COLUMNS.indexOf(name as (typeof CHAIN_COLUMNS)[number]);
  if (chain < 0) throw new Error(`verification reads no column ${name}`);
  return HASHED_COLUMNS.length + chain;
};

/** Where each column verification needs sits in a span's array. */
export const AT = {
  id: indexOf('id'),
  seq: indexOf('seq'),
  tenantId: indexOf('tenant_id'),
  publicKey: indexOf('public_key'),
  chainKey: indexOf('chain_key'),
  chainSeq: indexOf('chain_seq'),
  prevHash: indexOf('prev_hash'),
  currHash: indexOf('curr_hash'),
  chainHash: indexOf('chain_hash'),
  position: indexOf('position'),
  signature: indexOf('signature'),
} as const;

const valueSql = (name: string, type: ColumnType): string => {
  const column = name === 'this' ? 'r."this"' : `r.${name}`;
  return type === 'timestamptz' ? `${column}::text` : column;
};

/**
 * One span as a JSON array of its hashed columns then its chain columns, for
 * `from ledger.universal_registry r`. Run it where `TimeZone` is UTC
 * (`set_config('TimeZone', 'UTC', true)`), so timestamps read as `…+00`.
 */
export const SPAN_ARRAY_SQL = `json_build_array(${[
  ...HASHED_COLUMNS.map((col) => valueSql(col.name, col.type)),
  ...CHAIN_COLUMNS.map((name) => `r.${name}`),
].join(', ')})::text`;

/**
 * A timestamptz printed by PostgreSQL in UTC, as the canonical form writes it: `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * Anything but the usual shape is read as the pg driver reads it (postgres-date: a fraction past the
 * millisecond truncated, years 0–99 kept, BC years astronomical), so the result is what
 * spanFromRow would have hashed.
 */
export function isoFromPostgres(text: string): string {
  if (text.length === 26 && text.charCodeAt(10) === 32 && text.charCodeAt(19) === 46 && text.endsWith('+00')) {
    return `${text.slice(0, 10)}T${text.slice(11, 23)}Z`;
  }
  const match = /^(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?\+00( BC)?$/.exec(text);
  if (!match) throw new Error(`a timestamp read in UTC must look like 2026-12-04 16:31:54.591+00, got ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, fraction, bc] = match;
  const year = bc ? 1 - Number(y) : Number(y);
  const date = new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), fraction ? 1000 * Number.parseFloat(fraction) : 0));
  if (year >= 0 && year < 100) date.setUTCFullYear(year);
  return date.toISOString();
}

/**
 * RFC 8785 (JCS) of a value parsed from JSON: the same text as the `canonicalize` library, which is
 * what canonicalString uses for nested values, without its per-call bookkeeping.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new Error('Lone surrogate is not allowed');
      return JSON.stringify(value);
    case 'number':
      if (Number.isNaN(value)) throw new Error('NaN is not allowed');
      if (!Number.isFinite(value)) throw new Error('Infinity is not allowed');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i += 1) text += (i === 0 ? '' : ',') + canonicalJson(value[i] ?? null);
        return `${text}]`;
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') break;
      const record = value as Record<string, unknown>;
      let text = '{';
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined || typeof item === 'symbol') continue;
        text += `${text.length === 1 ? '' : ','}${canonicalJson(key)}:${canonicalJson(item)}`;
      }
      return `${text}}`;
    }
    default:
      break;
  }
  // Nothing JSON.parse returns gets here (Dates, functions, bigints): the library decides, as before.
  const text = canonicalize(value);
  if (text === undefined) throw new Error(`a span field has no canonical form: ${typeof value}`);
  return text;
}

/** float8 NaN and ±Infinity come through JSON as strings; spanFromRow would have had the number, which JCS refuses. */
function canonicalDouble(value: unknown): string {
  if (typeof value === 'string') throw new Error(value === 'NaN' ? 'NaN is not allowed' : 'Infinity is not allowed');
  return canonicalJson(value);
}

// JCS orders keys by UTF-16 code units; the column names are ASCII, so the order is fixed once.
const IN_ORDER = HASHED_COLUMNS.map((col, index) => ({ ...col, index })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/**
 * The canonical string of a span read with SPAN_ARRAY_SQL (and JSON.parse): equal to
 * `canonicalString(spanFromRow(row))` for the same stored row. Compiled once from the catalogue into
 * straight-line code, one branch per column, as spanFromRow is; the source is built only from the
 * constant column list.
 */
export const canonicalStringOfValues = new Function(
  'iso',
  'json',
  'double',
  `return function canonicalStringOfValues(a) {
    let t = '{';
    let v;
    ${IN_ORDER.map((col) => {
      const key = JSON.stringify(`${JSON.stringify(col.name)}:`);
      const write =
        col.type === 'timestamptz' ? `'"' + iso(v) + '"'`
        : col.type === 'double precision' ? 'double(v)'
        : col.type === 'boolean' ? `(v === true ? 'true' : v === false ? 'false' : json(v))`
        : 'json(v)';
      return `v = a[${col.index}];
    if (v !== null && v !== undefined) t += (t.length === 1 ? ${key} : ',' + ${key}) + ${write};`;
    }).join('\n    ')}
    return t + '}';
  };`,
)(isoFromPostgres, canonicalJson, canonicalDouble) as (values: readonly unknown[]) => string;
