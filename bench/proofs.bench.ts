import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openCheckpoint } from '../functions/ledger/checkpoint-note.ts';
import { appendSpan, logConsistencyProof, signerFromSeed, spanInclusionProof, type Ledger } from '../functions/ledger/index.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../functions/ledger/merkle.ts';
import { withBenchDatabase } from './fixture.ts';
import { latencies, line, percentile, rate, ratio, timed } from './report.ts';
import { sampleInput } from './spans.ts';

const SPANS = Number(process.env.BENCH_SPANS ?? 8_000);
const LOG_SIZE = Number(process.env.BENCH_LOG_SIZE ?? 100_000);
const PROOFS = 1_000;

/**
 * The Merkle logs' cost and speed on PostgreSQL: appends with the log's trigger on vs off (same run,
 * alternating, best of each), proof generation at 10^5 spans, and what a client spends verifying.
 */
export async function proofsBench(url: string): Promise<void> {
  await withBenchDatabase(url, 8, async ({ db, url: dbUrl }) => {
    const ledger: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    console.log(`\n# proofs on PostgreSQL: ${SPANS.toLocaleString('en-US')} appends per round, a log of ${LOG_SIZE.toLocaleString('en-US')} spans`);

    const admin = new pg.Client({ connectionString: dbUrl });
    await admin.connect();
    const setMerkle = (on: boolean) => admin.query(`alter table ledger.universal_registry ${on ? 'enable' : 'disable'} trigger registry_merkle`);
    const best = { on: Number.POSITIVE_INFINITY, off: Number.POSITIVE_INFINITY };
    for (const [round, on] of [false, true, false, true].entries()) {
      await setMerkle(on);
      const seconds = await appendRound(ledger, `r${round}`);
      best[on ? 'on' : 'off'] = Math.min(best[on ? 'on' : 'off'], seconds);
    }
    await setMerkle(true);
    line('appends, 8 tenants × 2 writers, Merkle log off', rate(SPANS, best.off));
    line('appends, 8 tenants × 2 writers, Merkle log on', rate(SPANS, best.on));
    ratio('appends with the Merkle log ÷ without', best.off / best.on, '≥ 0.8');

    // A log of LOG_SIZE spans, filled by one statement through the same triggers.
    const filled = await timed(() =>
      admin.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, visibility, curr_hash)
         select gen_random_uuid(), 0, 'note', 'bench', 'filled', 'filler ' || g, now(), 'reader', 'big', 'tenant', encode(sha256(int8send(g)), 'hex')
           from generate_series(1, $1::int) g`,
        [LOG_SIZE],
      ),
    );
    line(`fill a log to ${LOG_SIZE.toLocaleString('en-US')} spans (one statement)`, rate(LOG_SIZE, filled.seconds));
    const reader = { userId: 'reader', tenantId: 'big' };
    const ids = (await admin.query<{ id: string }>('select id from ledger.universal_registry where chain_key = $1 order by random() limit $2', ['big', PROOFS])).rows.map((row) => row.id);
    await admin.end();

    const answers: Awaited<ReturnType<typeof spanInclusionProof>>[] = [];
    const inclusion = await latencies(ids.length, async (i) => answers.push(await spanInclusionProof(ledger, reader, ids[i]!)));
    line('inclusionProof at 10^5 (span read, proof, signed checkpoint) p50', `${percentile(inclusion, 50).toFixed(2)} ms`);
    line('inclusionProof at 10^5 p99', `${percentile(inclusion, 99).toFixed(2)} ms`);
    const consistency = await latencies(200, (i) => logConsistencyProof(ledger, reader, 'big', 1 + ((i * 7919) % (LOG_SIZE - 1))));
    line('consistencyProof at 10^5 p50', `${percentile(consistency, 50).toFixed(2)} ms`);
    line('consistencyProof at 10^5 p99', `${percentile(consistency, 99).toFixed(2)} ms`);

    // What a client does with each answer: open the signed note, hash the leaf, walk the path.
    const publicKey = new Uint8Array(Buffer.from(ledger.signer!.publicKeyHex, 'hex'));
    const leaves = new Map((await db.withLedger((tx) => tx.query<{ id: string; curr_hash: string }>('select id, curr_hash from ledger.universal_registry where id = any($1::uuid[])', [ids])))
      .map((row) => [row.id, new Uint8Array(Buffer.from(row.curr_hash, 'hex'))]));
    let verified = 0;
    const client = await timed(async () => {
      for (const answer of answers) {
        const checkpoint = openCheckpoint(answer.checkpoint.note, answer.checkpoint.keyName, publicKey);
        const path = answer.hashes.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
        if (verifyInclusion(leafHash(leaves.get(answer.spanId)!), answer.leafIndex, checkpoint.size, path, checkpoint.rootHash)) verified += 1;
      }
    });
    if (verified !== answers.length) throw new Error(`only ${verified} of ${answers.length} proofs verified`);
    line('client: verify one inclusion proof + signed note', `${((client.seconds * 1e6) / answers.length).toFixed(0)} µs`);
    const sample = await logConsistencyProof(ledger, reader, 'big', 12_345, LOG_SIZE);
    const from = await logConsistencyProof(ledger, reader, 'big', 1, 12_345);
    const path = sample.hashes.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
    const roots = [from.checkpoint.rootHash, sample.checkpoint.rootHash].map((h) => new Uint8Array(Buffer.from(h, 'hex')));
    const consistencyCheck = await timed(async () => {
      for (let i = 0; i < 1000; i += 1) if (!verifyConsistency(12_345, LOG_SIZE, roots[0]!, roots[1]!, path)) throw new Error('consistency proof failed');
    });
    line('client: verify one consistency proof', `${((consistencyCheck.seconds * 1e6) / 1000).toFixed(0)} µs`);
  });
}

/** 16 writers over 8 tenants, each span a fresh one. */
async function appendRound(ledger: Ledger, label: string): Promise<number> {
  const writers = 16;
  const per = Math.ceil(SPANS / writers);
  const { seconds } = await timed(() =>
    Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        const identity = { userId: `user-${writer}`, tenantId: `${label}-tenant-${writer % 8}` };
        for (let i = 0; i < per; i += 1) await appendSpan(ledger, identity, { ...sampleInput(writer * per + i), traceId: randomUUID() });
      }),
    ),
  );
  return seconds;
}
