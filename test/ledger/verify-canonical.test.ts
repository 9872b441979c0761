import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HASHED_COLUMNS, canonicalString, spanFromRow, type Column } from '../../functions/ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../../functions/ledger/span.ts';
import { SPAN_ARRAY_SQL, canonicalJson, canonicalStringOfValues, isoFromPostgres } from '../../functions/ledger/verify-canonical.ts';
import canonicalize from 'canonicalize';
import { openTestDatabase } from '../support/ledger.ts';
import { seededRandom } from '../support/random.ts';

/*
 * verifyChain reads each span as one JSON array and writes its canonical form itself. For the same
 * stored row that must be exactly what the API's path gives: spanFromRow on the driver's row, then
 * canonicalString. Random rows (every hashed column type, nulls, Unicode, nested jsonb, awkward
 * floats and timestamps) are stored in a table shaped like the ledger's and read both ways, in the
 * same statement, on the configured backend.
 */

let database: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

// PostgreSQL text holds any Unicode but NUL; jsonb refuses lone surrogates, so none are generated.
const STRINGS = ['', 'plain', 'é ü ß', '😀 astral', '"quoted" \\ back / slash', 'line\nbreak\ttab\r', '\u0001\u001f\u007f controls', '\u2028\u2029', '日本語', 'key', 'ﬃ \ufb33'];
const NUMBERS = [0, 1, -1, 0.1, 1e21, 1e-7, 0.000001, 123456789012345680000, 5e-324, -1.7976931348623157e308, 3.14159, 2 ** 53, -(2 ** 31)];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function json(random: () => number, depth: number): unknown {
  const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6);
  if (kind === 0) return pick(random, STRINGS);
  if (kind === 1) return pick(random, NUMBERS);
  if (kind === 2) return random() < 0.5;
  if (kind === 3) return null;
  if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => json(random, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(random, STRINGS) + pick(random, ['', 'b', 'a', 'Z', 'é', '10', '2']), json(random, depth + 1)]));
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
}

function timestamp(random: () => number): string {
  const ms = Math.floor(random() * 253_402_300_799_999); // 1970 … 9999
  const iso = new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  const shape = Math.floor(random() * 5);
  if (shape === 0) return `${iso.slice(0, 19)}+00`; // whole second
  if (shape === 1) return `${iso.slice(0, 21)}+00`; // tenths
  if (shape === 2) return `${iso}${String(Math.floor(random() * 1000)).padStart(3, '0')}+00`; // microseconds
  if (shape === 3) return `${iso.slice(0, 19)}.${String(Math.floor(random() * 1000)).padStart(3, '0')}-07:30`; // another zone
  return `${iso}+00`;
}

/** A random value for a column, as a text parameter its SQL cast below turns into the column type. */
function parameter(random: () => number, column: Column): string | null {
  if (random() < 0.4) return null;
  switch (column.type) {
    case 'uuid':
      return uuid(random);
    case 'text':
      return pick(random, STRINGS) + pick(random, STRINGS);
    case 'integer':
      return String(Math.floor(random() * 2 ** 32) - 2 ** 31);
    case 'double precision':
      return String(random() < 0.5 ? pick(random, NUMBERS) : (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20));
    case 'boolean':
      return String(random() < 0.5);
    case 'timestamptz':
      return timestamp(random);
    case 'jsonb':
      return JSON.stringify(json(random, 0));
    case 'uuid[]':
      return JSON.stringify(Array.from({ length: Math.floor(random() * 3) }, () => (random() < 0.2 ? null : uuid(random))));
    case 'text[]':
      return JSON.stringify(Array.from({ length: Math.floor(random() * 4) }, () => (random() < 0.2 ? null : pick(random, STRINGS))));
    default:
      throw new Error(`no generator for ${column.type}`);
  }
}

const castOf = (column: Column, index: number): string =>
  column.type.endsWith('[]')
    ? `array(select jsonb_array_elements_text($${index}::jsonb))::${column.type}`
    : `$${index}::${column.type}`;

const INSERT = `insert into pg_temp.spans (${HASHED_COLUMNS.map((col) => `"${col.name}"`).join(', ')})
  values (${HASHED_COLUMNS.map((col, i) => castOf(col, i + 1)).join(', ')})`;

describe('the canonical form verifyChain writes from its JSON rows', () => {
  test('equals canonicalString(spanFromRow(row)) for 500 random stored rows', async () => {
    // given random rows stored in a table shaped like the ledger (chain columns left empty)
    const seeds = Array.from({ length: 500 }, (_, i) => i + 1);
    const pairs = await database.db.withOwner(async (tx) => {
      await tx.query("select set_config('TimeZone', 'UTC', true)");
      await tx.query('create temp table spans on commit drop as select * from ledger.universal_registry with no data');
      for (const seed of seeds) {
        const random = seededRandom(seed);
        await tx.query(INSERT, HASHED_COLUMNS.map((column) => parameter(random, column)));
      }
      // when each row is read both ways in one statement
      return tx.query<Record<string, unknown>>(`select ${SPAN_ARRAY_SQL} as verify_span, ${SPAN_COLUMNS_SQL} from pg_temp.spans r`);
    });
    // then the texts are equal, row for row
    expect(pairs).toHaveLength(seeds.length);
    const differing = pairs.filter((row) => canonicalStringOfValues(JSON.parse(String(row.verify_span)) as unknown[]) !== canonicalString(spanFromRow(row) as unknown as Record<string, unknown>));
    expect(differing.map((row) => canonicalString(spanFromRow(row) as unknown as Record<string, unknown>))).toEqual([]);
  });

  test('a float8 NaN or Infinity has no canonical form either way', async () => {
    const rows = await database.db.withOwner(async (tx) => {
      await tx.query("select set_config('TimeZone', 'UTC', true)");
      await tx.query('create temp table spans on commit drop as select * from ledger.universal_registry with no data');
      await tx.query("insert into pg_temp.spans (confidence) values ('NaN'), ('Infinity'), ('-Infinity')");
      return tx.query<Record<string, unknown>>(`select ${SPAN_ARRAY_SQL} as verify_span, ${SPAN_COLUMNS_SQL} from pg_temp.spans r`);
    });
    for (const row of rows) {
      const expected = captureError(() => canonicalString(spanFromRow(row) as unknown as Record<string, unknown>));
      expect(expected).toMatch(/is not allowed/);
      expect(captureError(() => canonicalStringOfValues(JSON.parse(String(row.verify_span)) as unknown[]))).toBe(expected);
    }
  });

  test('nested JSON serializes as the JCS library does, for 2,000 random values', () => {
    for (let seed = 1; seed <= 2000; seed += 1) {
      const value = json(seededRandom(seed), 0);
      expect(canonicalJson(value), `seed ${seed}`).toBe(canonicalize(value));
    }
  });

  test('timestamps in their usual shape and every other shape the driver reads', () => {
    expect(isoFromPostgres('2026-12-04 16:31:54.591+00')).toBe('2026-12-04T16:31:54.591Z');
    expect(isoFromPostgres('2026-12-04 16:31:54.5+00')).toBe('2026-12-04T16:31:54.500Z');
    expect(isoFromPostgres('2026-12-04 16:31:54+00')).toBe('2026-12-04T16:31:54.000Z');
    expect(isoFromPostgres('2026-12-04 16:31:54.591999+00')).toBe('2026-12-04T16:31:54.591Z');
    expect(isoFromPostgres('0099-12-04 16:31:54.591+00')).toBe('0099-12-04T16:31:54.591Z');
    expect(isoFromPostgres('10000-12-04 16:31:54.591+00')).toBe('+010000-12-04T16:31:54.591Z');
    expect(isoFromPostgres('0001-12-04 16:31:54.591+00 BC')).toBe('0000-12-04T16:31:54.591Z');
    expect(() => isoFromPostgres('2026-12-04 16:31:54.591+02')).toThrow(/must look like 2026-12-04 16:31:54.591\+00, got "2026-12-04 16:31:54.591\+02"/);
  });
});

function captureError(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
