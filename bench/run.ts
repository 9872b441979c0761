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
};

const wanted = process.argv.slice(2).filter((arg) => arg !== '--');
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) throw new Error(`unknown benchmark ${JSON.stringify(name)}; choose from ${Object.keys(benches).join(', ')}`);
  await bench();
}
