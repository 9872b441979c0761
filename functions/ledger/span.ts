import { COLUMNS, camelCase } from './columns.ts';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A stored span, as the ledger returns it (camelCase of the columns in docs/columns.md). */
export interface Span {
  readonly id: string;
  readonly seq: number;
  readonly entityType: string;
  readonly who: string;
  readonly did: string;
  readonly this: string;
  readonly at: string;
  readonly parentId: string | null;
  readonly relatedTo: readonly string[] | null;
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly visibility: string;
  readonly status: string | null;
  readonly isDeleted: boolean;
  readonly name: string | null;
  readonly description: string | null;
  readonly code: string | null;
  readonly language: string | null;
  readonly runtime: string | null;
  readonly input: JsonValue | null;
  readonly output: JsonValue | null;
  readonly error: JsonValue | null;
  readonly durationMs: number | null;
  readonly traceId: string | null;
  readonly prevHash: string | null;
  readonly currHash: string;
  readonly signature: string | null;
  readonly publicKey: string | null;
  readonly sigAlg: string | null;
  readonly sigKeyId: string | null;
  readonly metadata: JsonValue | null;
  readonly content: JsonValue | null;
  readonly layer: string | null;
  readonly memoryType: string | null;
  readonly sensitivity: string | null;
  readonly sessionId: string | null;
  readonly ttlSeconds: number | null;
  readonly expiresAt: string | null;
  readonly schemaId: string | null;
  readonly tags: readonly string[] | null;
  readonly encAlg: string | null;
  readonly encKeyRef: string | null;
  readonly model: string | null;
  readonly provider: string | null;
  readonly compiledHash: string | null;
  readonly variant: string | null;
  readonly promptFamily: string | null;
  readonly priority: number | null;
  readonly confidence: number | null;
  readonly inputTokens: number | null;
  readonly outputTokens: number | null;
  readonly latencyMs: number | null;
  readonly ttftMs: number | null;
  readonly appId: string | null;
  readonly deviceId: string | null;
  readonly scopes: readonly string[] | null;
  readonly tokenHash: string | null;
  readonly scheduledAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly attempt: number | null;
  readonly idempotencyKey: string | null;
  readonly chainKey: string;
  readonly chainSeq: number;
  readonly chainHash: string;
  readonly position: number;
  readonly txId: string;
  readonly recordedAt: string;
}

/** What a caller may give to `appendSpan`: any client column; the ledger fills the rest. */
export type SpanInput = { readonly [K in ClientField]?: Span[K] | null } & {
  readonly currHash?: string | null;
  readonly signature?: string | null;
};

type LedgerField = 'prevHash' | 'currHash' | 'signature' | 'chainKey' | 'chainSeq' | 'chainHash' | 'position' | 'txId' | 'recordedAt';
export type ClientField = Exclude<keyof Span, LedgerField>;

const SELECT_LIST = COLUMNS.map((col) => (col.name === 'this' ? 'r."this"' : `r.${col.name}`)).join(', ');
/** The column list of a stored span, for `select … from ledger.universal_registry r`. */
export const SPAN_COLUMNS_SQL = SELECT_LIST;

/**
 * A database row to a Span: camelCase keys, timestamps as ISO strings, counters as numbers.
 *
 * Compiled once from the catalogue into one object literal: every read and every verification maps
 * each row, and a literal with a fixed shape measured ~9x faster than filling an object key by key
 * (bench/ledger.bench.ts, verifyChain). The source is built only from the constant column list.
 */
export const spanFromRow = new Function(
  'iso',
  `return function spanFromRow(r) { return {${COLUMNS.map((col) => {
    const read = `r[${JSON.stringify(col.name)}]`;
    const value =
      col.type === 'timestamptz' ? `${read} == null ? null : iso(${read})`
      : col.type === 'bigint' ? `${read} == null ? null : Number(${read})`
      : col.type === 'xid8' ? `${read} == null ? null : String(${read})`
      : `${read} ?? null`;
    return `${JSON.stringify(camelCase(col.name))}: ${value}`;
  }).join(', ')}}; };`,
)(toIsoString) as (row: Record<string, unknown>) => Span;

function toIsoString(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}
