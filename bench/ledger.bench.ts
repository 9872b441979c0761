// The baseline is a bare driver INSERT, so this benchmark talks to pg directly (allowed in bench/ only).
import pg from 'pg';
import {
  COLUMNS,
  camelCase,
  appendSpan,
  canonicalBytes,
  blake3Hex,
  hashSpan,
  signerFromSeed,
  spanFromRow,
  verifyChain,
  type Ledger,
} from '../functions/ledger/index.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, rate, ratio, timed, timedSync } from './report.ts';
import { sampleInput, sampleSpan } from './spans.ts';

const CONNECTIONS = 8;
const SPANS = Number(process.env.BENCH_SPANS ?? 20_000);
const HOT_WRITERS = 16;
/** The longest chain of the growth figure (10^3 … this); 10^6 takes about a minute to fill. */
const CHAIN_MAX = Number(process.env.BENCH_CHAIN_MAX ?? 1_000_000);
const GROWTH_SPANS = 4_000;

/**
 * On real PostgreSQL: chained append (group commit) vs a plain single-row INSERT of the same rows on
 * 8 connections, one hot chain with 16 concurrent writers, append cost as the chain grows from 10^3 to
 * 10^6 spans, and verifyChain vs raw BLAKE3 of the same canonical bytes.
 */
export async function ledgerBench(url: string): Promise<void> {
  await withBenchDatabase(url, CONNECTIONS, async ({ db, url: dbUrl }) => {
    console.log(`\n# ledger on PostgreSQL: ${SPANS.toLocaleString('en-US')} spans per scenario, ${CONNECTIONS} connections`);
    const signed: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    const unsigned: Ledger = { db };

    const plain = await plainInsert(dbUrl.toString());
    line('plain single-row INSERT (autocommit, same rows, 8 conns)', rate(SPANS, plain));

    const eight = await appendAll(signed, CONNECTIONS, SPANS, (writer) => `tenant-${writer}`);
    line('chained append, 8 tenant chains, 8 writers, signed', rate(SPANS, eight));
    ratio('chained append (8 chains) ÷ plain INSERT', plain / eight, '≥ 0.6');

    const hot = await appendAll(signed, HOT_WRITERS, SPANS, () => 'hot');
    line(`chained append, 1 hot chain, ${HOT_WRITERS} writers, signed`, rate(SPANS, hot), 'goal ≥ 2,000/s');
    const hotUnsigned = await appendAll(unsigned, HOT_WRITERS, SPANS, () => 'hot-unsigned');
    line(`chained append, 1 hot chain, ${HOT_WRITERS} writers, unsigned`, rate(SPANS, hotUnsigned));

    // verifyChain's worker pool starts once per process (tsx compiles the worker); started here, its
    // start-up is printed apart from the verification rates. Imports are local to keep this loop self-contained.
    const { defaultVerifyWorkers, verifyPool } = await import('../functions/ledger/verify-pool.ts');
    const { createPublicKey, verify } = await import('node:crypto');
    const { Worker } = await import('node:worker_threads');
    const workers = defaultVerifyWorkers();
    const poolStart = await timed(() => verifyPool(workers));
    line(`verifyChain worker pool start (${workers} threads, once per process)`, `${Math.round(poolStart.seconds * 1000)} ms`, poolStart.result ? '' : 'no pool: batches on the main thread');
    for (const [chain, label] of [['hot', 'signed'], ['hot-unsigned', 'unsigned']] as const) {
      const { result, seconds } = await timed(() => verifyChain(signed, chain));
      if (!result.ok || result.checked !== SPANS) throw new Error(`verifyChain(${chain}) failed: ${JSON.stringify(result.failure)}`);
      const rows = await db.withLedger((tx) => tx.query('select * from ledger.universal_registry where chain_key = $1', [chain]));
      const bytes = rows.map((row) => canonicalBytes(spanFromRow(row) as unknown as Record<string, unknown>));
      const raw = timedSync(() => bytes.forEach((b) => blake3Hex(b)));
      line(`verifyChain, ${label} chain`, rate(SPANS, seconds));
      line(`raw BLAKE3 of the same canonical bytes`, rate(SPANS, raw));
      ratio(`verifyChain (${label}) ÷ raw BLAKE3`, raw / seconds, '≥ 0.5');
      if (label !== 'signed') continue;
      // node:crypto Ed25519 verify of the same signatures over the same digests: one thread, then the
      // same number of worker threads as verifyChain uses (each verifies its share; start-up not timed).
      const items = rows.map((row) => [String(row.public_key), String(row.curr_hash), String(row.signature)] as const);
      const verifyAll = (share: readonly (readonly [string, string, string])[]) => {
        const keys = new Map<string, ReturnType<typeof createPublicKey>>();
        for (const [publicKey, digest, signature] of share) {
          let key = keys.get(publicKey);
          if (!key) keys.set(publicKey, (key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(publicKey, 'hex')]), format: 'der', type: 'spki' })));
          if (!verify(null, Buffer.from(digest, 'hex'), key, Buffer.from(signature, 'hex'))) throw new Error(`a signature of ${chain} does not verify`);
        }
      };
      const single = timedSync(() => verifyAll(items));
      // The same loop, as plain JavaScript for an eval'd worker.
      const threads = Array.from({ length: Math.max(1, workers) }, () => new Worker(`
        const { parentPort } = require('node:worker_threads');
        const { createPublicKey, verify } = require('node:crypto');
        const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
        parentPort.on('message', (share) => {
          const keys = new Map();
          let bad = 0;
          for (const [publicKey, digest, signature] of share) {
            let key = keys.get(publicKey);
            if (!key) keys.set(publicKey, (key = createPublicKey({ key: Buffer.concat([SPKI, Buffer.from(publicKey, 'hex')]), format: 'der', type: 'spki' })));
            if (!verify(null, Buffer.from(digest, 'hex'), key, Buffer.from(signature, 'hex'))) bad += 1;
          }
          parentPort.postMessage(bad);
        });`, { eval: true }));
      await Promise.all(threads.map((thread) => new Promise((resolve) => thread.once('online', resolve))));
      const per = Math.ceil(items.length / threads.length);
      const parallel = await timed(() => Promise.all(threads.map((thread, i) => new Promise((resolve, reject) => {
        thread.once('message', (bad: number) => (bad === 0 ? resolve(bad) : reject(new Error(`${bad} signatures of ${chain} do not verify`))));
        thread.once('error', reject);
        thread.postMessage(items.slice(i * per, (i + 1) * per));
      }))));
      await Promise.all(threads.map((thread) => thread.terminate()));
      line('node:crypto Ed25519 verify, same signatures, 1 thread', rate(SPANS, single));
      line(`node:crypto Ed25519 verify, same signatures, ${threads.length} worker threads`, rate(SPANS, parallel.seconds));
      ratio('verifyChain (signed) ÷ node:crypto verify, 1 thread', single / seconds, 'bounded by Ed25519');
      ratio(`verifyChain (signed) ÷ node:crypto verify, ${threads.length} threads`, parallel.seconds / seconds, '→ 1');
    }

    await chainGrowth(signed, dbUrl);
  });
}

/**
 * Append rate on one chain as it grows: the chain is filled to each length by one SQL statement
 * (linked by the same trigger, so its index and head are real), then 16 writers append to it. Beside
 * it, the same appends to a new chain in the same table: their ratio isolates the chain's length
 * from the table's size (a larger table outgrows shared_buffers whatever the chains look like).
 */
async function chainGrowth(ledger: Ledger, url: string): Promise<void> {
  let length = 0;
  for (let size = 1_000; size <= CHAIN_MAX; size *= 10) {
    await ledger.db.withOwner((tx) =>
      tx.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, visibility, curr_hash)
         select gen_random_uuid(), 0, 'note', 'bench', 'filled', 'filler ' || g, now(), 'filler', 'long', 'tenant', encode(sha256(int8send(g)), 'hex')
           from generate_series($1::int, $2::int) g`,
        [length + 1, size],
      ),
    );
    // A long-lived table is vacuumed and analysed; measuring while autovacuum digests the fill would
    // time the fill, not the append.
    await vacuum(url);
    const long = await appendAll(ledger, HOT_WRITERS, GROWTH_SPANS, () => 'long');
    const fresh = await appendAll(ledger, HOT_WRITERS, GROWTH_SPANS, () => `new-at-${size}`);
    length = size + GROWTH_SPANS;
    line(`append to a chain of ${size.toLocaleString('en-US')} spans`, rate(GROWTH_SPANS, long), `new chain, same table: ${rate(GROWTH_SPANS, fresh)}; ratio ${(fresh / long).toFixed(2)} (goal: flat)`);
  }
}

async function vacuum(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('vacuum (analyze) ledger.universal_registry');
  } finally {
    await client.end();
  }
}

async function appendAll(ledger: Ledger, writers: number, count: number, tenantOf: (writer: number) => string): Promise<number> {
  const per = Math.ceil(count / writers);
  const { seconds } = await timed(() =>
    Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        const identity = { userId: `user-${writer}`, tenantId: tenantOf(writer) };
        for (let i = 0; i < per && writer * per + i < count; i += 1) {
          await appendSpan(ledger, identity, sampleInput(writer * per + i));
        }
      }),
    ),
  );
  return seconds;
}

/** The same rows, hashed beforehand, inserted one statement per row into a table of the same shape. */
async function plainInsert(url: string): Promise<number> {
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query('create table public.bench_plain (like ledger.universal_registry including defaults including indexes)');
  await setup.end();
  const columns = COLUMNS.filter((col) => col.name !== 'tx_id').map((col) => col.name); // tx_id keeps its default
  const sql = `insert into public.bench_plain (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
  const rows = Array.from({ length: SPANS }, (_, i) => {
    const span = sampleSpan(i, `tenant-${i % CONNECTIONS}`);
    const hash = hashSpan(span);
    const full: Record<string, unknown> = { ...span, curr_hash: hash, chain_key: span.tenantId, chain_seq: i + 1, chain_hash: hash, position: i + 1, recorded_at: span.at };
    return columns.map((column) => {
      const camel = camelCase(column);
      const value = full[column] ?? full[camel] ?? null;
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : value;
    });
  });
  const pool = new pg.Pool({ connectionString: url, max: CONNECTIONS });
  pool.on('error', () => undefined);
  const per = Math.ceil(SPANS / CONNECTIONS);
  const { seconds } = await timed(() =>
    Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, worker) => {
        const client = await pool.connect();
        try {
          for (let i = worker * per; i < Math.min(SPANS, (worker + 1) * per); i += 1) {
            await client.query(sql, rows[i] ?? []);
          }
        } finally {
          client.release();
        }
      }),
    ),
  );
  await pool.end();
  return seconds;
}
