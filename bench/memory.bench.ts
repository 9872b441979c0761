import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { migrate, openPglite, type Identity } from '../functions/commons/db/index.ts';
import { noPublisher } from '../functions/commons/publisher.ts';
import { appendSpanInSession, ledgerMigrations, type Ledger } from '../functions/ledger/index.ts';
import { createMemoryServices, getMemory, searchMemories, upsertMemory, type MemoryServices } from '../functions/memory/index.ts';
import { writeIndexRow, vectorLiteral } from '../functions/memory/store.ts';
import { startProgress } from '../functions/commons/observability-progress.ts';
import { line, percentile, ratio, timed } from './report.ts';

const COUNT = Number(process.env.BENCH_MEMORIES ?? 20_000);
const DIMS = 1536;
const QUERIES = Number(process.env.BENCH_MEMORY_QUERIES ?? 200);
const UPSERTS = Number(process.env.BENCH_MEMORY_UPSERTS ?? 200);
const TOPICS = Number(process.env.BENCH_MEMORY_TOPICS ?? 40);
const SUBTOPICS = Number(process.env.BENCH_MEMORY_SUBTOPICS ?? 5);
/** Norm of each memory's own noise: higher makes neighbours within a cluster less distinct from the rest. */
const NOISE = Number(process.env.BENCH_MEMORY_NOISE ?? 1.0);

/**
 * Memory on embedded PGlite with pgvector: 20,000 memories × 1536 dimensions.
 *
 * Embeddings are clustered the way real text embeddings are (a seeded generator, so every run gets
 * the same data): 40 random topic directions, 5 random subtopic directions under each (200
 * clusters of ~100 memories), and every memory is normalise(topic + 0.7·subtopic + noise), the noise
 * Gaussian with norm ≈ 1.0, so two memories of one subtopic have cosine ≈ 0.60, of one topic ≈ 0.40,
 * otherwise ≈ 0: a query's top 10 must be picked out of ~100 close candidates, as with real text
 * embeddings of one subject. (BENCH_MEMORY_TOPICS / _SUBTOPICS / _NOISE change the mixture.) Queries are fresh draws from the same
 * mixture, not stored vectors. The fixture is bulk-loaded (500 memories per transaction, no audit
 * spans) before the HNSW index is built; upserts are then measured one by one with the index in place.
 */
export async function memoryBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  const db = await openPglite();
  try {
    await migrate(db, ledgerMigrations());
    const ledger: Ledger = { db };
    const env = { LOGLINEOS_DATA_DIR: dir, MEMORY_EMBEDDINGS: 'local', REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
    const memory = await createMemoryServices({ ledger, publisher: noPublisher, tokenSecret: Buffer.alloc(32), env });
    const random = gaussian(20_261_126);
    const topics = Array.from({ length: TOPICS }, () => Array.from({ length: SUBTOPICS + 1 }, () => unit(DIMS, random)));
    const draw = () => {
      const t = Math.floor(Math.abs(random()) * 1e6) % TOPICS;
      const s = 1 + (Math.floor(Math.abs(random()) * 1e6) % SUBTOPICS);
      const v = topics[t]!;
      return { topic: t, vector: normalise(v[0]!.map((x, i) => x + 0.7 * v[s]![i]! + (NOISE * random()) / Math.sqrt(DIMS))) };
    };
    const tenant = 'bench-tenant';
    const writers: Identity[] = Array.from({ length: 8 }, (_, i) => ({ userId: `writer-${i}`, tenantId: tenant }));
    const reader: Identity = { userId: 'reader', tenantId: tenant };

    console.log(`\n# memory on embedded PGlite + pgvector: ${COUNT.toLocaleString('en-US')} memories × ${DIMS} dimensions, ${TOPICS}×${SUBTOPICS} clusters, noise ${NOISE}, ${QUERIES} queries`);
    await db.withOwner((tx) => tx.exec('drop index ledger.memory_index_hnsw'));
    const loading = startProgress('bulk load', { total: COUNT, unit: 'memories' });
    const load = await timed(async () => {
      for (let start = 0; start < COUNT; start += 500) {
        loading.update(start);
        const writer = writers[(start / 500) % writers.length]!;
        await db.withSession(writer, async (tx) => {
          for (let i = start; i < Math.min(COUNT, start + 500); i += 1) {
            const { topic, vector } = draw();
            const text = `memory ${i} about topic${topic} ${WORDS[topic % WORDS.length]}`;
            const span = await appendSpanInSession(tx, writer, { id: randomUUID(), seq: 0, entityType: 'memory', who: 'memory', did: 'upserted', this: 'memory.note', visibility: 'tenant', status: 'active', content: text, layer: 'temporary', memoryType: 'note', sensitivity: 'internal', tags: [] });
            await writeIndexRow(tx, 'vector', { id: span.id, ownerId: writer.userId, tenantId: tenant, visibility: 'tenant', text, embedding: vector, salt: null });
          }
        });
      }
    });
    loading.update(COUNT);
    loading.finish();
    line('bulk load (spans + index rows, no HNSW)', `${load.seconds.toFixed(1)} s`, `${Math.round(COUNT / load.seconds)}/s`);
    const build = await timed(() =>
      db.withOwner((tx) => tx.exec("create index memory_index_hnsw on ledger.memory_index using hnsw ((embedding::vector(1536)) vector_cosine_ops) with (m = 16, ef_construction = 128) where vector_dims(embedding) = 1536")),
    );
    line('HNSW build (m 16, ef_construction 128)', `${build.seconds.toFixed(1)} s`);

    const queries = Array.from({ length: QUERIES }, () => draw().vector);
    const exact = await knn(memory, reader, queries, 'exact', 0);
    line('exact top-10 (pgvector, sequential scan) p95', `${exact.p95.toFixed(1)} ms`, `p50 ${exact.p50.toFixed(1)} ms`);
    for (const ef of [40, 100, 200]) {
      const hnsw = await knn(memory, reader, queries, 'hnsw', ef);
      const recall = hnsw.results.reduce((sum, ids, q) => sum + ids.filter((id) => exact.results[q]!.includes(id)).length / 10, 0) / QUERIES;
      line(`HNSW top-10, ef_search ${ef}: recall@10`, recall.toFixed(3), 'goal ≥ 0.95');
      line(`HNSW top-10, ef_search ${ef}: p95`, `${hnsw.p95.toFixed(2)} ms`, `p50 ${hnsw.p50.toFixed(2)} ms`);
      ratio(`HNSW p95 ÷ exact p95 (ef_search ${ef})`, hnsw.p95 / exact.p95, '≤ 0.1');
    }

    // The whole searchMemories path: embedding, full text, HNSW, RLS joins, fusion.
    const texts = Array.from({ length: 50 }, (_, i) => `topic${i % TOPICS} ${WORDS[i % WORDS.length]}`);
    const search = await latencies(texts, (text) => searchMemories(memory, reader, { query: text, embedding: queries[texts.indexOf(text)]! }));
    line('searchMemories (hybrid, HNSW) p95', `${search.p95.toFixed(1)} ms`, `p50 ${search.p50.toFixed(1)} ms`);

    const upserts = await latencies(Array.from({ length: UPSERTS }, (_, i) => i), (i) =>
      upsertMemory(memory, writers[i % writers.length]!, { content: `fresh memory ${i}`, embedding: draw().vector, visibility: 'tenant' }, { 'x-logline-memory': 'on' }),
    );
    line(`upsertMemory with the HNSW index in place (${UPSERTS}, one by one) p95`, `${upserts.p95.toFixed(1)} ms`, `p50 ${upserts.p50.toFixed(1)} ms`);

    await cacheBench(memory, writers[0]!, env.REDIS_URL);
    await memory.close();
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function knn(memory: MemoryServices, reader: Identity, queries: number[][], mode: 'exact' | 'hnsw', ef: number) {
  const results: string[][] = [];
  const times: number[] = [];
  for (const query of queries) {
    const start = process.hrtime.bigint();
    const rows = await memory.ledger.db.withSession(reader, async (tx) => {
      if (mode === 'exact') await tx.query("select set_config('enable_indexscan', 'off', true)");
      else await tx.query("select set_config('hnsw.ef_search', $1, true)", [String(ef)]);
      return tx.query<{ id: string }>(
        `select m.id from ledger.memory_index m where vector_dims(m.embedding) = 1536
          order by (m.embedding::vector(1536)) <=> $1::vector(1536) limit 10`,
        [vectorLiteral('vector', query)],
      );
    });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    results.push(rows.map((row) => row.id));
  }
  times.sort((a, b) => a - b);
  return { results, p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function latencies<T>(items: readonly T[], fn: (item: T) => Promise<unknown>) {
  const times: number[] = [];
  for (const item of items) {
    const start = process.hrtime.bigint();
    await fn(item);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

/** memory(id) from the cache vs from the database (the tenant's epoch bumped before each miss). */
async function cacheBench(memory: MemoryServices, owner: Identity, redisUrl: string): Promise<void> {
  const stored = await upsertMemory(memory, owner, { content: 'cache me' }, { 'x-logline-memory': 'on' });
  const reads = Array.from({ length: 300 }, (_, i) => i);
  const miss = await latencies(reads, async () => {
    await memory.memory.cache.invalidate(owner.tenantId);
    return getMemory(memory, owner, stored.id);
  });
  await getMemory(memory, owner, stored.id);
  const hit = await latencies(reads, () => getMemory(memory, owner, stored.id));
  line(`memory(id) cache miss (${memory.memory.cache.kind}: ${memory.memory.cache.kind === 'redis' ? redisUrl : 'in process'}) p50`, `${miss.p50.toFixed(2)} ms`, `p95 ${miss.p95.toFixed(2)} ms (includes the epoch bump)`);
  line('memory(id) cache hit p50', `${hit.p50.toFixed(2)} ms`, `p95 ${hit.p95.toFixed(2)} ms`);
  ratio('cache hit ÷ miss (p50)', hit.p50 / miss.p50, '< 1');
}

const WORDS = ['garden', 'invoice', 'holiday', 'recipe', 'meeting', 'football', 'doctor', 'laptop', 'birthday', 'mortgage', 'concert', 'train'];

/** A seeded standard normal generator (mulberry32 + Box–Muller). */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

function unit(dims: number, random: () => number): number[] {
  return normalise(Array.from({ length: dims }, () => random()));
}

function normalise(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}
