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

/**
 * On real PostgreSQL, 8 connections: chained append vs a plain single-row INSERT of the same rows,
 * one hot chain, and verifyChain vs raw BLAKE3 of the same canonical bytes.
 */
export async function ledgerBench(url: string): Promise<void> {
  await withBenchDatabase(url, CONNECTIONS, async ({ db, url: dbUrl }) => {
    console.log(`\n# ledger on PostgreSQL: ${SPANS.toLocaleString('en-US')} spans per scenario, ${CONNECTIONS} connections`);
    const signed: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    const unsigned: Ledger = { db };

    const plain = await plainInsert(dbUrl.toString());
    line('plain single-row INSERT (autocommit, same rows)', rate(SPANS, plain));

    const eight = await appendAll(signed, (worker) => `tenant-${worker}`);
    line('chained append, 8 tenant chains, signed', rate(SPANS, eight));
    ratio('chained append (8 chains) ÷ plain INSERT', plain / eight, '≥ 0.5');

    const hot = await appendAll(signed, () => 'hot');
    line('chained append, 1 hot chain, signed', rate(SPANS, hot), 'goal ≥ 1,000/s');
    const hotUnsigned = await appendAll(unsigned, () => 'hot-unsigned');
    line('chained append, 1 hot chain, unsigned', rate(SPANS, hotUnsigned));

    for (const [chain, label] of [['hot', 'signed'], ['hot-unsigned', 'unsigned']] as const) {
      const { result, seconds } = await timed(() => verifyChain(signed, chain));
      if (!result.ok || result.checked !== SPANS) throw new Error(`verifyChain(${chain}) failed: ${JSON.stringify(result.failure)}`);
      const rows = await db.withLedger((tx) => tx.query('select * from ledger.universal_registry where chain_key = $1', [chain]));
      const bytes = rows.map((row) => canonicalBytes(spanFromRow(row) as unknown as Record<string, unknown>));
      const raw = timedSync(() => bytes.forEach((b) => blake3Hex(b)));
      line(`verifyChain, ${label} chain`, rate(SPANS, seconds));
      line(`raw BLAKE3 of the same canonical bytes`, rate(SPANS, raw));
      ratio(`verifyChain (${label}) ÷ raw BLAKE3`, raw / seconds, '≥ 0.5');
    }
  });
}

async function appendAll(ledger: Ledger, tenantOf: (worker: number) => string): Promise<number> {
  const per = Math.ceil(SPANS / CONNECTIONS);
  const { seconds } = await timed(() =>
    Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, worker) => {
        const identity = { userId: `user-${worker}`, tenantId: tenantOf(worker) };
        for (let i = 0; i < per && worker * per + i < SPANS; i += 1) {
          await appendSpan(ledger, identity, sampleInput(worker * per + i));
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
