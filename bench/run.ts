/**
 * `npm run bench [-- name…]`: every benchmark prints absolute figures and ratios against a baseline
 * measured in the same run, because these machines are noisy. Names: hashing, ledger, api, realtime, access, kernels, proofs, …
 * The ledger benchmark needs PostgreSQL: DATABASE_URL, default the local server.
 */
import { accessBench } from './access.bench.ts';
import { apiBench } from './api.bench.ts';
import { hashingBench } from './hashing.bench.ts';
import { ledgerBench } from './ledger.bench.ts';
import { memoryBench } from './memory.bench.ts';
import { realtimeBench } from './realtime.bench.ts';
import { promptsBench } from './prompts.bench.ts';
import { sandboxBench } from './sandbox.bench.ts';
import { kernelsBench } from './kernels.bench.ts';
import { proofsBench } from './proofs.bench.ts';
import { poolBench } from './pool.bench.ts';
import { logger } from '../functions/commons/observability.ts';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const benches: Record<string, () => Promise<void>> = {
  hashing: hashingBench,
  ledger: () => ledgerBench(url),
  api: () => apiBench(url),
  realtime: () => realtimeBench(url),
  prompts: () => promptsBench(url),
  access: () => accessBench(url),
  memory: memoryBench,
  sandbox: sandboxBench,
  kernels: () => kernelsBench(url),
  proofs: () => proofsBench(url),
  pool: () => poolBench(url),
};

// The benchmarks drive the API hard: a log line per request would be measured too (and drown the figures).
if (!process.env.LOGLINEOS_LOG_LEVEL && !process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');

const wanted = process.argv.slice(2).filter((arg) => arg !== '--');
const names = wanted.length ? wanted : Object.keys(benches);
const unknown = names.find((name) => !benches[name]);
if (unknown) throw new Error(`unknown benchmark ${JSON.stringify(unknown)}; choose from ${Object.keys(benches).join(', ')}`);
// A running count between benchmarks, not a redrawn bar: each benchmark prints its own lines meanwhile.
const counting = process.stderr.isTTY && process.env.LOGLINEOS_PROGRESS !== 'off';
for (const [index, name] of names.entries()) {
  if (counting) process.stderr.write(`\x1b[2mbenchmark ${index + 1}/${names.length}: ${name}\x1b[0m\n`);
  await benches[name]!();
}
