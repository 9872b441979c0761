import { openPostgres } from '../functions/commons/db/index.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, percentile, ratio } from './report.ts';

const ROUNDS = Number(process.env.BENCH_POOL_ROUNDS ?? 40);
const IDLE_TIMEOUT_MS = 50;
const PAUSE_MS = 150;
const who = { userId: 'bench-pool', tenantId: 'bench' };

/**
 * The first transaction after a pause longer than the pool's idle timeout, as a warm Lambda or a
 * quiet server meets it: with `min: 0` (pg-pool's default) the pause closed the connection and the
 * request opens one; with `min: 1` (the default here) it finds one open. Rounds alternate between
 * the two pools, so drift on the machine falls on both alike. Locally the opening is loopback TCP
 * with trust authentication; through RDS Proxy it adds TLS and SCRAM, so the gap only grows there.
 */
export async function poolBench(url: string): Promise<void> {
  await withBenchDatabase(url, 2, async ({ url: databaseUrl }) => {
    const cold = openPostgres({ connectionString: databaseUrl, max: 2, min: 0, idleTimeoutMs: IDLE_TIMEOUT_MS });
    const warm = openPostgres({ connectionString: databaseUrl, max: 2, min: 1, idleTimeoutMs: IDLE_TIMEOUT_MS });
    try {
      const request = (pool: typeof cold) => pool.withSession(who, (tx) => tx.query('select 1'));
      const coldMs: number[] = [];
      const warmMs: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const [pool, out] of round % 2 === 0 ? ([[cold, coldMs], [warm, warmMs]] as const) : ([[warm, warmMs], [cold, coldMs]] as const)) {
          await request(pool);
          await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
          const start = performance.now();
          await request(pool);
          out.push(performance.now() - start);
        }
      }
      coldMs.sort((a, b) => a - b);
      warmMs.sort((a, b) => a - b);
      console.log(`\n# first transaction after a ${PAUSE_MS} ms pause (idle timeout ${IDLE_TIMEOUT_MS} ms), ${ROUNDS} rounds, PostgreSQL`);
      line('min 0: the pause closed the connection (baseline)', `p50 ${percentile(coldMs, 50).toFixed(2)} ms`, `p99 ${percentile(coldMs, 99).toFixed(2)} ms`);
      line('min 1: a connection kept open', `p50 ${percentile(warmMs, 50).toFixed(2)} ms`, `p99 ${percentile(warmMs, 99).toFixed(2)} ms`);
      ratio('min 1 ÷ min 0, p50 (lower is better)', percentile(warmMs, 50) / percentile(coldMs, 50), '< 1');
    } finally {
      await cold.close();
      await warm.close();
    }
  });
}
