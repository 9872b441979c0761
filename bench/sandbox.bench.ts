import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { JsonValue } from '../functions/ledger/index.ts';
import { createSandbox, type HostFunctions } from '../functions/kernels/sandbox/index.ts';
import { latencies, line, percentile } from './report.ts';

const RUNS = Number(process.env.BENCH_SANDBOX_RUNS ?? 2000);
const WARMUP = 200;

const show = (name: string, sorted: number[]) =>
  line(name, `p50 ${percentile(sorted, 50).toFixed(3)} ms`, `p99 ${percentile(sorted, 99).toFixed(3)} ms`);

/**
 * The kernel sandbox, warm: a trivial kernel (new QuickJS runtime + context, prelude, run, result back
 * across the worker boundary) and the same kernel with one host call, against calling the same
 * function directly in Node. Also the cold costs: the first run of a new pool, and a worker replaced
 * after a run that hit a limit.
 */
export async function sandboxBench(): Promise<void> {
  console.log(`\n# sandbox: ${RUNS} warm runs each, after ${WARMUP} warm-up runs`);
  const env = { user: 'user:bench', tenant: 'bench' };
  const trivial = 'globalThis.default = async function main(ctx) { return { n: ctx.input + 1, user: ctx.env.user }; };';
  const withSql = 'globalThis.default = async function main(ctx) { const rows = await ctx.sql("select $1", [ctx.input]); return rows.length; };';
  const host: HostFunctions = { sql: async (_text, params) => [{ n: (params as JsonValue[] | undefined)?.[0] ?? null }] };

  const coldStart = performance.now();
  const sandbox = createSandbox({ poolSize: 1 });
  try {
    const first = await sandbox.run({ code: trivial, input: 0, env, host: {} });
    if (!first.ok) throw new Error(`the sandbox failed a trivial kernel: ${first.error.code}: ${first.error.message}`);
    line('cold: createSandbox + first run (worker start via tsx)', `${(performance.now() - coldStart).toFixed(1)} ms`);

    const direct = async (ctx: { input: number; env: typeof env }) => ({ n: ctx.input + 1, user: ctx.env.user });
    await latencies(WARMUP, (i) => sandbox.run({ code: trivial, input: i, env, host: {} }));
    await latencies(WARMUP, (i) => direct({ input: i, env }));

    const inSandbox = await latencies(RUNS, (i) => sandbox.run({ code: trivial, input: i, env, host: {} }));
    const inNode = await latencies(RUNS, (i) => direct({ input: i, env }));
    const inSandboxSql = await latencies(RUNS, (i) => sandbox.run({ code: withSql, input: i, env, host }));
    show('trivial kernel, direct call in Node (baseline)', inNode);
    show('trivial kernel, warm sandbox (context + run + round trip)', inSandbox);
    show('kernel with 1 ctx.sql host call, warm sandbox', inSandboxSql);
    const overhead = percentile(inSandbox, 50) - percentile(inNode, 50);
    line('sandbox overhead p50 (sandbox − direct)', `${overhead.toFixed(3)} ms`, 'goal ≤ 2 ms');
    line('sandbox overhead p99 (sandbox − direct)', `${(percentile(inSandbox, 99) - percentile(inNode, 99)).toFixed(3)} ms`);
    line('ratio p50 sandbox ÷ direct', `${(percentile(inSandbox, 50) / percentile(inNode, 50)).toFixed(0)}×`, 'direct is sub-microsecond: read the overhead');

    const recycle = await latencies(5, async () => {
      await sandbox.run({ code: 'globalThis.default = async () => { while (true) {} };', input: null, env, host: {}, limits: { timeoutMs: 50 } });
      await sandbox.run({ code: trivial, input: 1, env, host: {} });
    });
    show('timeout (50 ms) + next run on the replacement worker', recycle);
  } finally {
    await sandbox.close();
  }
  await bundledColdStart(trivial, env);
}

/** The cold start a Lambda sees: the worker bundled to plain JS (no tsx), QuickJS compiled by the host. */
async function bundledColdStart(code: string, env: { user: string; tenant: string }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-bench-'));
  try {
    const workerScript = join(dir, 'kernel-worker.mjs');
    await build({
      entryPoints: [new URL('../functions/kernels/sandbox/kernel-worker.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: workerScript,
      logLevel: 'silent',
    });
    const starts: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const start = performance.now();
      const sandbox = createSandbox({ poolSize: 1, workerScript });
      const result = await sandbox.run({ code, input: i, env, host: {} });
      starts.push(performance.now() - start);
      await sandbox.close();
      if (!result.ok) throw new Error(`the bundled worker failed: ${result.error.message}`);
    }
    show('cold: createSandbox + first run, bundled JS worker', starts.sort((a, b) => a - b));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
