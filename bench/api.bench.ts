import { Worker } from 'node:worker_threads';
import { appendSpan, signerFromSeed, type Ledger } from '../functions/ledger/index.ts';
import { authenticate } from '../local/auth.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, rate, ratio, timed } from './report.ts';
import { sampleInput } from './spans.ts';

const CLIENTS = 8;
const SPANS = Number(process.env.BENCH_SPANS ?? 8_000);

/**
 * appendSpan over HTTP on the local server (8 concurrent clients, 8 tenants, real PostgreSQL)
 * against the ledger core's own append rate, measured in the same run on the same database.
 */
export async function apiBench(url: string): Promise<void> {
  await withBenchDatabase(url, CLIENTS, async ({ db, issuer }) => {
    const ledger: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    const server = await createLocalServer({ ledger, apiKey: 'da2-bench', issuer });
    const endpoint = await server.listen(0);
    console.log(`\n# API: appendSpan, ${SPANS.toLocaleString('en-US')} spans, ${CLIENTS} clients, ${CLIENTS} tenants, PostgreSQL`);

    const per = Math.ceil(SPANS / CLIENTS);
    const core = await timed(() =>
      Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < per; i += 1) await appendSpan(ledger, { userId: `core-${c}`, tenantId: `core-t${c}` }, sampleInput(c * per + i));
      })),
    );
    const tokens = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => issuer.issue({ user: `http-${c}`, tenant: `http-t${c}` })));
    const clients = Array.from({ length: CLIENTS }, (_, c) => ({
      token: tokens[c],
      inputs: Array.from({ length: per }, (_, i) => {
        const input = sampleInput(c * per + i);
        return { ...input, output: JSON.stringify(input.output), metadata: JSON.stringify(input.metadata) };
      }),
    }));
    // The same requests through the server's GraphQL executor in process (the caller authenticated from
    // the same token, resolvers, the Lambda boundary's copies, the handler), without HTTP: it splits
    // what HTTP adds over the core into the API layer and the transport.
    const mutation = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq cursor } }';
    const executor = await timed(() =>
      Promise.all(clients.map(async ({ token }, c) => {
        const caller = await authenticate({ authorization: token }, '127.0.0.1', { apiKey: 'da2-bench', issuer });
        for (let i = 0; i < per; i += 1) {
          const input = sampleInput(c * per + i);
          const body = await server.execute(caller, { query: mutation, variables: { input: { ...input, output: JSON.stringify(input.output), metadata: JSON.stringify(input.metadata) } } });
          if (body.errors) throw new Error(`appendSpan failed: ${JSON.stringify(body.errors)}`);
        }
      })),
    );
    const loopBefore = performance.eventLoopUtilization();
    const http = await timed(() => {
      const worker = new Worker(new URL('./http-client.worker.mjs', import.meta.url), { workerData: { endpoint, clients } });
      return new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      }).finally(() => worker.terminate());
    });
    line('ledger core appendSpan (in process)', rate(per * CLIENTS, core.seconds));
    line('appendSpan through the GraphQL executor (in process, no HTTP)', rate(per * CLIENTS, executor.seconds));
    const loop = performance.eventLoopUtilization(loopBefore);
    line('appendSpan over HTTP (local AppSync)', rate(per * CLIENTS, http.seconds));
    line('server event loop busy during the HTTP appends', `${Math.round(loop.utilization * 100)} %`, `${((loop.active / (per * CLIENTS)) * 1000).toFixed(0)} µs per request`);
    ratio('HTTP ÷ ledger core', core.seconds / http.seconds, '≥ 0.7');
    ratio('GraphQL executor ÷ ledger core', core.seconds / executor.seconds);
    ratio('HTTP ÷ GraphQL executor', executor.seconds / http.seconds);
    await server.close();
  });
}
