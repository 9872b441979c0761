import { executeKernel, type KernelServices } from '../functions/kernels/executor.ts';
import { createSandbox, type Sandbox } from '../functions/kernels/sandbox/index.ts';
import { SEEDS } from '../functions/deploy/seeds.ts';
import { noPublisher } from '../functions/commons/publisher.ts';
import { applySeeds, signerFromSeed, type Ledger } from '../functions/ledger/index.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { latencies, line, percentile } from './report.ts';

const RUNS = Number(process.env.BENCH_KERNEL_RUNS ?? 500);
const WARMUP = 50;
const CODE = 'globalThis.default = async function main(ctx) { return { n: ctx.input.n + 1, user: ctx.env.user }; };';
const direct = async (ctx: { input: { n: number }; env: { user: string } }) => ({ n: ctx.input.n + 1, user: ctx.env.user });

const show = (name: string, sorted: number[], note = '') => line(name, `p50 ${percentile(sorted, 50).toFixed(3)} ms`, `p99 ${percentile(sorted, 99).toFixed(3)} ms ${note}`);

/** A sandbox that records how long each run took (create + run, as the executor sees it). */
function timedSandbox(inner: Sandbox, samples: number[]): Sandbox {
  return {
    async run(request) {
      const start = performance.now();
      try {
        return await inner.run(request);
      } finally {
        samples.push(performance.now() - start);
      }
    },
    close: () => inner.close(),
  };
}

/**
 * A trivial kernel through runKernel: over HTTP on the local server (total), in process through the
 * executor (one transaction: quota, lock, sandbox, execution span), the part of that spent in the
 * sandbox, and the same function called directly in Node. Real PostgreSQL, sequential calls, warm.
 */
export async function kernelsBench(url: string): Promise<void> {
  await withBenchDatabase(url, 4, async ({ db, issuer }) => {
    const ledger: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    await applySeeds(ledger, SEEDS);
    const server = await createLocalServer({ ledger, apiKey: 'da2-bench', issuer, env: { ...process.env, LOGLINEOS_KERNEL_INTERVAL_MS: '0' } });
    const endpoint = await server.listen(0);
    console.log(`\n# kernels: a trivial kernel, ${RUNS} sequential warm runs each after ${WARMUP} warm-up runs, PostgreSQL`);
    // Enough quota for the whole benchmark.
    const admin = await issuer.issue({ user: 'bench-admin', tenant: null, groups: ['admin'] });
    const token = await issuer.issue({ user: 'bench-user', tenant: 'bench' });
    const post = async (auth: string, query: string, variables: Record<string, unknown>) => {
      const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ query, variables }) });
      const body = (await response.json()) as { data?: Record<string, { id?: string; status?: string }>; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data ?? {};
    };
    await post(admin, 'mutation { publishManifest(input: { perTenantDailyExecLimit: 1000000 }) { seq } }', {});
    const defined = await post(token, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id } }', { input: { name: 'bench_trivial', code: CODE } });
    const id = String(defined.defineKernel?.id);
    const run = (i: number) => post(token, 'mutation R($id: ID!, $input: AWSJSON) { runKernel(id: $id, input: $input) { status } }', { id, input: JSON.stringify({ n: i }) });

    await latencies(WARMUP, run);
    const http = await latencies(RUNS, run);

    const sandboxSamples: number[] = [];
    const sandbox = timedSandbox(createSandbox({ poolSize: 2 }), sandboxSamples);
    const services: KernelServices = { ledger, publisher: noPublisher, sandbox };
    const caller = { userId: 'bench-user', tenantId: 'bench' };
    const inProcess = (i: number) => executeKernel(services, caller, id, { n: i });
    await latencies(WARMUP, inProcess);
    sandboxSamples.length = 0;
    const executor = await latencies(RUNS, inProcess);
    const inSandbox = [...sandboxSamples].sort((a, b) => a - b);
    await sandbox.close();

    const env = { user: 'bench-user' };
    await latencies(WARMUP, (i) => direct({ input: { n: i }, env }));
    const node = await latencies(RUNS, (i) => direct({ input: { n: i }, env }));

    show('runKernel over HTTP (local AppSync, total)', http);
    show('executor in process (one transaction, total)', executor);
    show('  of which in the sandbox (create + run)', inSandbox);
    show('same function called directly in Node', node);
    const overhead = percentile(inSandbox, 50) - percentile(node, 50);
    line('sandbox overhead, p50', `${overhead.toFixed(3)} ms`, 'goal ≤ 2 ms');
    line('sandbox share of the HTTP total, p50', `${((100 * percentile(inSandbox, 50)) / percentile(http, 50)).toFixed(1)} %`);
    await server.close();
  });
}
