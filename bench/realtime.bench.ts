import { Worker } from 'node:worker_threads';
import { signerFromSeed } from '../functions/ledger/index.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, percentile, rate, timed } from './report.ts';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);

/**
 * One publisher appending public spans over HTTP, 1,000 subscribers on the real-time endpoint over
 * loopback (in their own thread): latency from the span's insert (recordedAt, inside the committing
 * transaction) to each delivery, and deliveries per second. Baseline for the ratio: the same
 * appends with nobody subscribed.
 */
export async function realtimeBench(url: string): Promise<void> {
  await withBenchDatabase(url, 8, async ({ db, issuer }) => {
    const server = await createLocalServer({ ledger: { db, signer: signerFromSeed('42'.repeat(32)) }, apiKey: 'da2-bench', issuer });
    const endpoint = await server.listen(0);
    const token = await issuer.issue({ user: 'publisher', tenant: 'bench' });
    const entityType = 'live_bench';
    const append = async (i: number, type: string) => {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', variables: { input: { entityType: type, who: 'bench', did: 'wrote', this: `event ${i}`, visibility: 'public' } } }),
      });
      if (!response.ok) throw new Error(`append failed: ${response.status}`);
    };
    console.log(`\n# real-time: 1 publisher, ${SUBSCRIBERS} subscribers, ${EVENTS} spans, PostgreSQL`);
    const alone = await timed(async () => {
      for (let i = 0; i < EVENTS; i += 1) await append(i, 'nobody_listens');
    });

    const worker = new Worker(new URL('./realtime-subscribers.worker.mjs', import.meta.url), {
      workerData: { realtimeUrl: endpoint.replace('http', 'ws').replace(/\/graphql$/, '/graphql/realtime'), host: new URL(endpoint).host, apiKey: 'da2-bench', count: SUBSCRIBERS, entityType },
    });
    await new Promise((resolve) => worker.once('message', resolve));
    const watched = await timed(async () => {
      for (let i = 0; i < EVENTS; i += 1) await append(i, entityType);
    });
    const expected = SUBSCRIBERS * EVENTS;
    let report: { latencies: number[]; delivered: number } = { latencies: [], delivered: 0 };
    const start = Date.now();
    while (report.delivered < expected && Date.now() - start < 60_000) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      report = await new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage('report');
      });
    }
    const drained = (Date.now() - start) / 1000;
    worker.postMessage('close');
    await worker.terminate();
    const sorted = [...report.latencies].sort((a, b) => a - b);
    line('deliveries', `${report.delivered.toLocaleString('en-US')} / ${expected.toLocaleString('en-US')}`);
    line('insert → delivery p50', `${percentile(sorted, 50)} ms`);
    line('insert → delivery p99', `${percentile(sorted, 99)} ms`, 'goal ≤ 50 ms');
    line('deliveries per second (while publishing)', rate(report.delivered, watched.seconds + drained));
    line('appends/s with nobody subscribed (baseline)', rate(EVENTS, alone.seconds));
    line('appends/s with 1,000 subscribers', rate(EVENTS, watched.seconds));
    line('ratio: appends with ÷ without subscribers', (alone.seconds / watched.seconds).toFixed(2));
    await server.close();
  });
}
