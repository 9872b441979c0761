import { randomBytes } from 'node:crypto';
import { registerApp } from '../functions/access/apps.ts';
import { decide } from '../functions/access/authorizer.ts';
import { signerFromSeed } from '../functions/ledger/index.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { latencies, line, percentile } from './report.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);

const show = (name: string, sorted: number[], baseline?: number[]) =>
  line(name, `p50 ${percentile(sorted, 50).toFixed(2)} ms`, `p99 ${percentile(sorted, 99).toFixed(2)} ms${baseline ? `  (p50 ${(percentile(sorted, 50) / percentile(baseline, 50)).toFixed(2)}× the API key's)` : ''}`);

/**
 * The Lambda authorizer for API tokens: its decision alone (uncached, a ledger lookup), and a bare
 * `{ __typename }` over HTTP with a token whose decision is cached, with one whose decision is not,
 * against the same request with the API key, all in one run on PostgreSQL.
 */
export async function accessBench(url: string): Promise<void> {
  await withBenchDatabase(url, 4, async ({ db, issuer }) => {
    const tokenSecret = randomBytes(32);
    const ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    const access = { ...ledger, tokenSecret };
    const { token } = await registerApp(access, { userId: 'bench-owner', tenantId: 'bench', groups: [] }, { name: 'bench-app', scopes: ['span.read'] });
    const cachedServer = await createLocalServer({ ledger, apiKey: 'da2-bench', issuer, tokenSecret });
    const uncachedServer = await createLocalServer({ ledger, apiKey: 'da2-bench', issuer, tokenSecret, authorizerCacheSeconds: 0 });
    const cachedUrl = await cachedServer.listen(0);
    const uncachedUrl = await uncachedServer.listen(0);
    const ask = (endpoint: string, headers: Record<string, string>) => async () => {
      const response = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"query":"{ __typename }"}' });
      if (response.status !== 200) throw new Error(`request failed: ${response.status}`);
      await response.arrayBuffer();
    };
    console.log(`\n# authorizer: ${REQUESTS} requests each, PostgreSQL`);
    await latencies(50, ask(cachedUrl, { 'x-api-key': 'da2-bench' })); // warm up
    const apiKey = await latencies(REQUESTS, ask(cachedUrl, { 'x-api-key': 'da2-bench' }));
    const decision = await latencies(REQUESTS, () => decide(access, token.token));
    const cached = await latencies(REQUESTS, ask(cachedUrl, { authorization: token.token }));
    const uncached = await latencies(REQUESTS, ask(uncachedUrl, { authorization: token.token }));
    show('{ __typename } with the API key (baseline)', apiKey);
    show('authorizer decision alone, uncached', decision);
    show('{ __typename } with a token, decision cached', cached, apiKey);
    show('{ __typename } with a token, decision not cached', uncached, apiKey);
    await cachedServer.close();
    await uncachedServer.close();
  });
}
