import type { Identity, Queryable } from '../commons/db/index.ts';
import { ValidationError } from '../commons/errors.ts';
import { START, decodeCursor, encodeCursor } from './cursor.ts';
import { timestamp } from './validate.ts';
import type { Ledger } from './ledger.ts';
import { SPAN_COLUMNS_SQL, spanFromRow, type Span } from './span.ts';

/*
 * Reads run as the caller: row-level security decides what exists for them, so a span they may not
 * read is indistinguishable from one that does not exist.
 */

export interface SpanFilter {
  readonly entityTypes?: readonly string[] | null;
  readonly ownerId?: string | null;
  readonly tenantId?: string | null;
  readonly traceId?: string | null;
  readonly parentId?: string | null;
  readonly status?: string | null;
  readonly visibility?: string | null;
  readonly since?: string | null;
  readonly until?: string | null;
}

export interface Page {
  readonly edges: readonly { readonly cursor: string; readonly node: Span }[];
  readonly pageInfo: {
    readonly endCursor: string | null;
    readonly hasNextPage: boolean;
    /**
     * Timeline only: spans the caller may read and the filter matches have committed after endCursor,
     * but wait for an older transaction still running; reading again shortly returns them.
     */
    readonly heldBack: boolean;
  };
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** The latest version of `id` that the transaction's role can read (null for a non-UUID). */
export async function latestVersion(tx: Queryable, id: string): Promise<Span | null> {
  if (!isUuid(id)) return null;
  const [row] = await tx.query(`select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = $1 order by r.seq desc limit 1`, [id.toLowerCase()]);
  return row ? spanFromRow(row) : null;
}

/** The latest version of `id` the caller can read, or the given version. */
export async function getSpan(ledger: Ledger, identity: Identity | null, id: string, seq?: number | null): Promise<Span | null> {
  if (!isUuid(id)) throw new ValidationError('id', id, 'must be a UUID', 'Send the id as 8-4-4-4-12 hex digits.');
  if (seq === undefined || seq === null) return ledger.db.withSession(identity, (tx) => latestVersion(tx, id));
  const rows = await ledger.db.withSession(identity, (tx) =>
    tx.query(`select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = $1 and r.seq = $2`, [id.toLowerCase(), seq]),
  );
  return rows[0] ? spanFromRow(rows[0]) : null;
}

// Each filter is a constant clause that is true when its parameter is null, so the statement text
// never depends on the input.
const FILTER_SQL = `
  and ($3::text[] is null or r.entity_type = any($3))
  and ($4::text is null or r.owner_id = $4)
  and ($5::text is null or r.tenant_id = $5)
  and ($6::text is null or r.trace_id = $6)
  and ($7::uuid is null or r.parent_id = $7)
  and ($8::text is null or r.status = $8)
  and ($9::text is null or r.visibility = $9)
  and ($10::timestamptz is null or r.at >= $10)
  and ($11::timestamptz is null or r.at < $11)`;

/** Every version the caller can read that matches, in timeline order after `after`. */
export function listSpans(ledger: Ledger, identity: Identity | null, filter: SpanFilter = {}, first?: number | null, after?: string | null): Promise<Page> {
  const sql = `select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r
    where (r.tx_id, r.position) > ($1::xid8, $2::bigint) ${FILTER_SQL}
    order by r.tx_id, r.position limit $12`;
  return page(ledger, identity, sql, filter, first, after);
}

/**
 * The visible timeline (tombstoned ids hidden) after a cursor. Only spans of transactions that
 * finished before every transaction still running are returned, so a later page can never contain
 * a span that sorts before this page's end: nothing is skipped across pages or reconnects.
 */
export function timeline(ledger: Ledger, identity: Identity | null, filter: SpanFilter = {}, first?: number | null, after?: string | null): Promise<Page> {
  const sql = `select ${SPAN_COLUMNS_SQL} from ledger.visible_timeline r
    where (r.tx_id, r.position) > ($1::xid8, $2::bigint)
      and r.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ${FILTER_SQL}
    order by r.tx_id, r.position limit $12`;
  return page(ledger, identity, sql, filter, first, after, true);
}

/** The timeline's watermark, and whether a committed span the caller may read waits behind it. */
const HELD_BACK_SQL = `select pg_snapshot_xmin(pg_current_snapshot())::text as xmin, exists (
    select 1 from ledger.universal_registry r
    where (r.tx_id, r.position) > ($1::xid8, $2::bigint)
      and r.tx_id >= pg_snapshot_xmin(pg_current_snapshot()) ${FILTER_SQL}) as held`;

/**
 * A cursor at the timeline's current end: every transaction older than the oldest one still running
 * is behind it, everything that commits from now on is after it.
 */
export async function timelineHead(ledger: Ledger, identity: Identity | null): Promise<string> {
  const [row] = await ledger.db.withSession(identity, (tx) => tx.query<{ xmin: string }>('select pg_snapshot_xmin(pg_current_snapshot())::text as xmin'));
  return encodeCursor({ txId: String(row?.xmin ?? '0'), position: 0 });
}

async function page(ledger: Ledger, identity: Identity | null, sql: string, filter: SpanFilter, first: number | null | undefined, after: string | null | undefined, watermark = false): Promise<Page> {
  const size = first ?? DEFAULT_PAGE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) {
    throw new ValidationError('first', first, `must be a whole number from 1 to ${MAX_PAGE}`, `Ask for at most ${MAX_PAGE} spans per page and follow endCursor.`);
  }
  const cursor = after ? decodeCursor(after) : START;
  const params = [cursor.txId, cursor.position, ...filterParams(filter), size + 1];
  // The timeline's last page ends at the watermark, read in the same snapshot: a reader that is caught
  // up moves past everything that finished, seen or filtered out, and misses nothing still running.
  const { rows, xmin, heldBack } = await ledger.db.withSession(
    identity,
    async (tx: Queryable) => {
      const found = await tx.query(sql, params);
      if (!watermark || found.length > size) return { rows: found, xmin: null, heldBack: false };
      // Without this a reader that is caught up cannot tell "nothing new" from "new, but held back
      // by someone else's long transaction", and one that lost live events while away would stop
      // short of them for good (found by test/reliability/realtime-drops.test.ts on a loaded machine).
      const [row] = await tx.query<{ xmin: string; held: boolean }>(HELD_BACK_SQL, params.slice(0, -1)); // every parameter but the page size
      return { rows: found, xmin: row?.xmin ?? null, heldBack: row?.held === true };
    },
    watermark ? { snapshot: true } : undefined,
  );
  const spans = rows.slice(0, size).map(spanFromRow);
  const edges = spans.map((node) => ({ cursor: encodeCursor(node), node }));
  const last = edges.length > 0 ? { txId: spans.at(-1)?.txId ?? '0', position: spans.at(-1)?.position ?? 0 } : cursor;
  const end = xmin !== null && BigInt(xmin) > BigInt(last.txId) ? { txId: xmin, position: 0 } : last;
  const moved = edges.length > 0 || end !== cursor;
  return { edges, pageInfo: { endCursor: moved ? encodeCursor(end) : (after ?? null), hasNextPage: rows.length > size, heldBack } };
}

function filterParams(filter: SpanFilter): unknown[] {
  // The span columns' own check: a date Date.parse() accepts but PostgreSQL refuses (Feb 29 of 2023,
  // year 0) is the caller's mistake, not a database error.
  const since = filter.since === undefined || filter.since === null ? null : timestamp('filter.since', filter.since);
  const until = filter.until === undefined || filter.until === null ? null : timestamp('filter.until', filter.until);
  if (filter.parentId && !/^[0-9a-f-]{36}$/i.test(filter.parentId)) {
    throw new ValidationError('filter.parentId', filter.parentId, 'must be a UUID', 'Send the parent span id as 8-4-4-4-12 hex digits.');
  }
  return [
    filter.entityTypes && filter.entityTypes.length > 0 ? [...filter.entityTypes] : null,
    filter.ownerId ?? null,
    filter.tenantId ?? null,
    filter.traceId ?? null,
    filter.parentId ?? null,
    filter.status ?? null,
    filter.visibility ?? null,
    since,
    until,
  ];
}
