import type { Database, Queryable } from '../commons/db/index.ts';
import { SPAN_COLUMNS_SQL, spanFromRow, type Span } from '../ledger/span.ts';

/*
 * The SQL of memory. Every statement runs in a transaction as the caller (ledger.db.withSession), so
 * row-level security applies to the spans and to ledger.memory_index alike, and every search joins
 * the latest span version the caller can read: a memory is found only if its span can be read.
 */

export type EmbeddingColumn = 'vector' | 'real[]';

/** What the migration made on this server: a pgvector column, or real[] where there is no pgvector. */
export async function embeddingColumn(db: Database): Promise<EmbeddingColumn> {
  const [row] = await db.withOwner((tx) =>
    tx.query<{ type: string }>(
      "select format_type(a.atttypid, a.atttypmod) as type from pg_attribute a where a.attrelid = 'ledger.memory_index'::regclass and a.attname = 'embedding'",
    ),
  );
  if (!row) throw new Error('ledger.memory_index has no embedding column; run the migrations (0004_memory)');
  return row.type.startsWith('vector') ? 'vector' : 'real[]';
}

export const vectorLiteral = (column: EmbeddingColumn, vector: readonly number[]): string =>
  column === 'vector' ? `[${vector.join(',')}]` : `{${vector.join(',')}}`;

const UPSERT_INDEX = (cast: string) => `insert into ledger.memory_index as m (id, owner_id, tenant_id, visibility, tsv, embedding, key_salt)
values ($1, $2, $3, $4, case when $5::text is null then null else to_tsvector('english', $5::text) end, $6::${cast}, $7)
on conflict (id) do update set tsv = excluded.tsv, embedding = excluded.embedding, key_salt = coalesce(m.key_salt, excluded.key_salt)`;
const UPSERT_INDEX_VECTOR = UPSERT_INDEX('vector');
const UPSERT_INDEX_REAL = UPSERT_INDEX('real[]');

export interface IndexRow {
  readonly id: string;
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly visibility: string;
  /** Text for full-text search; null for secret and pii. */
  readonly text: string | null;
  readonly embedding: readonly number[] | null;
  readonly salt: Buffer | null;
}

export async function writeIndexRow(tx: Queryable, column: EmbeddingColumn, row: IndexRow): Promise<void> {
  await tx.query(column === 'vector' ? UPSERT_INDEX_VECTOR : UPSERT_INDEX_REAL, [
    row.id,
    row.ownerId,
    row.tenantId,
    row.visibility,
    row.text,
    row.embedding ? vectorLiteral(column, row.embedding) : null,
    row.salt,
  ]);
}

/** The salt of an existing memory (kept across versions), if the caller may read its index row. */
export async function saltOf(tx: Queryable, id: string): Promise<Buffer | null> {
  const [row] = await tx.query<{ key_salt: Uint8Array | null }>('select key_salt from ledger.memory_index where id = $1', [id]);
  return row?.key_salt ? Buffer.from(row.key_salt) : null;
}

/** Drops what search and decryption need: text vector, embedding and the key salt. */
export async function dropIndexRow(tx: Queryable, id: string): Promise<void> {
  await tx.query('delete from ledger.memory_index where id = $1', [id]);
}

/** The latest version of a memory the caller can read, with its salt. */
export async function readMemory(tx: Queryable, id: string): Promise<{ span: Span; salt: Buffer | null } | null> {
  const [row] = await tx.query(
    `select ${SPAN_COLUMNS_SQL}, m.key_salt from ledger.universal_registry r left join ledger.memory_index m on m.id = r.id
      where r.id = $1 and r.entity_type = 'memory' order by r.seq desc limit 1`,
    [id],
  );
  if (!row) return null;
  return { span: spanFromRow(row), salt: row.key_salt ? Buffer.from(row.key_salt as Uint8Array) : null };
}

export async function readMemories(tx: Queryable, ids: readonly string[]): Promise<{ span: Span; salt: Buffer | null }[]> {
  if (ids.length === 0) return [];
  const rows = await tx.query(
    `select distinct on (r.id) ${SPAN_COLUMNS_SQL}, m.key_salt from ledger.universal_registry r left join ledger.memory_index m on m.id = r.id
      where r.id = any($1::uuid[]) and r.entity_type = 'memory' order by r.id, r.seq desc`,
    [ids],
  );
  return rows.map((row) => ({ span: spanFromRow(row), salt: row.key_salt ? Buffer.from(row.key_salt as Uint8Array) : null }));
}

/** Ids of the caller's live memories of one session, newest first. */
export async function sessionMemoryIds(tx: Queryable, sessionId: string): Promise<string[]> {
  const rows = await tx.query<{ id: string }>(
    `select l.id from (
       select distinct on (r.id) r.id, r.is_deleted, r.at from ledger.universal_registry r
        where r.entity_type = 'memory' and r.session_id = $1 and r.owner_id = ledger.current_user_id()
        order by r.id, r.seq desc) l
      where not l.is_deleted order by l.at desc`,
    [sessionId],
  );
  return rows.map((row) => row.id);
}

/*
 * Search candidates. `$1` the query (text or vector), `$2` how many, then the filters: layers `$3`,
 * types `$4`, tags `$5` (any of), the request's session `$6`. Session-layer memories are only found
 * by their own session's owner with that session id. Expired and forgotten memories never qualify.
 */
const LIVE_MEMORY = `join lateral (
    select r.id, r.is_deleted, r.expires_at, r.layer, r.memory_type, r.tags, r.session_id, r.owner_id, r.entity_type
      from ledger.universal_registry r where r.id = m.id order by r.seq desc limit 1) r on true
  where r.entity_type = 'memory' and not r.is_deleted
    and (r.expires_at is null or r.expires_at > now())
    and ($3::text[] is null or r.layer = any($3::text[]))
    and ($4::text[] is null or r.memory_type = any($4::text[]))
    and ($5::text[] is null or r.tags && $5::text[])
    and (r.layer <> 'session' or (r.owner_id = ledger.current_user_id() and r.session_id = $6::text))`;

// OR of the query's words (after English stop words and stemming): a memory matching any word is a
// candidate, and ts_rank_cd orders by how many and how close.
const TEXT_CANDIDATES = `select m.id, ts_rank_cd(m.tsv, q.q) as rank
  from ledger.memory_index m
  cross join (select nullif(replace(plainto_tsquery('english', $1::text)::text, '&', '|'), '')::tsquery as q) q
  ${LIVE_MEMORY}
    and q.q is not null and m.tsv @@ q.q
  order by rank desc, m.id limit $2`;

// HNSW on 1536-dimension vectors (the index's expression and predicate), nearest first, then the
// same filters. The index is asked for more than $2 so that rows the filters drop still leave enough.
const HNSW_CANDIDATES = `with near as (
    select m.id, (m.embedding::vector(1536)) <=> $1::vector(1536) as distance
      from ledger.memory_index m
     where vector_dims(m.embedding) = 1536
     order by (m.embedding::vector(1536)) <=> $1::vector(1536)
     limit $2 * 4)
  select m.id, m.distance from near m ${LIVE_MEMORY}
  order by m.distance limit $2`;

// The exact fallback (no pgvector, or forced): cosine similarity of every live candidate computed in
// SQL over real[] (a pgvector column casts to real[]), best first. Embeddings are stored unit-length,
// so the dot product is the cosine. $1 is the query as real[].
const EXACT_CANDIDATES = `select m.id, s.similarity
  from ledger.memory_index m
  cross join lateral (select sum(a * b)::float8 as similarity from unnest(m.embedding::real[], $1::real[]) as t(a, b)) s
  ${LIVE_MEMORY}
    and m.embedding is not null and cardinality(m.embedding::real[]) = cardinality($1::real[])
  order by s.similarity desc, m.id limit $2`;

export interface SearchFilters {
  readonly layers: readonly string[] | null;
  readonly types: readonly string[] | null;
  readonly tags: readonly string[] | null;
  readonly sessionId: string | null;
}

const filterParams = (f: SearchFilters) => [f.layers, f.types, f.tags, f.sessionId];

export async function textCandidates(tx: Queryable, query: string, limit: number, filters: SearchFilters): Promise<{ id: string; rank: number }[]> {
  const rows = await tx.query<{ id: string; rank: number }>(TEXT_CANDIDATES, [query, limit, ...filterParams(filters)]);
  return rows.map((row) => ({ id: row.id, rank: Number(row.rank) }));
}

export async function hnswCandidates(tx: Queryable, vector: readonly number[], limit: number, efSearch: number, filters: SearchFilters): Promise<{ id: string; similarity: number }[]> {
  // Iterative scans let the index keep going when RLS and the filters drop rows (pgvector 0.8).
  await tx.query("select set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)", [String(efSearch)]);
  const rows = await tx.query<{ id: string; distance: number }>(HNSW_CANDIDATES, [vectorLiteral('vector', vector), limit, ...filterParams(filters)]);
  return rows.map((row) => ({ id: row.id, similarity: 1 - Number(row.distance) }));
}

export async function exactCandidates(tx: Queryable, vector: readonly number[], limit: number, filters: SearchFilters): Promise<{ id: string; similarity: number }[]> {
  const rows = await tx.query<{ id: string; similarity: number }>(EXACT_CANDIDATES, [vectorLiteral('real[]', vector), limit, ...filterParams(filters)]);
  return rows.map((row) => ({ id: row.id, similarity: Number(row.similarity) }));
}
