import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../functions/commons/db/index.ts';
import { observeMetric, countMetric } from '../../functions/commons/observability-metrics.ts';
import { createMetricSpanRecorder, METRICS_WRITER } from '../../functions/commons/observability-spans.ts';
import { appendSpan, type Ledger } from '../../functions/ledger/index.ts';
import { persona, testSigner } from '../support/ledger.ts';
import { ledgerHome, type LedgerHome } from './support.ts';

/*
 * The ledger's health as metric spans: counted in memory, written one span per figure per interval
 * (never per event), and read back by `loglineos stats` through the real CLI on the same data.
 */

const run = promisify(execFile);
const cli = (args: string[], env: Record<string, string>) =>
  run(process.execPath, ['bin/loglineos.mjs', ...args], { env: { ...process.env, LOGLINEOS_PROGRESS: '', ...env }, timeout: 90_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

let home: LedgerHome;
let db: Database;
let ledger: Ledger;

beforeAll(async () => {
  home = await ledgerHome();
  db = await home.open();
  ledger = { db, signer: testSigner };
});
afterAll(async () => {
  await db.close().catch(() => undefined);
  await home.close();
});

const metricSpans = () =>
  db.withLedger((tx) => tx.query<{ this: string; duration_ms: number; metadata: { count: number; sum: number; p50?: number; p99?: number; source: string } }>(
    "select this, duration_ms, metadata from ledger.universal_registry where entity_type = 'metric' and owner_id = $1 order by chain_seq", [METRICS_WRITER.userId]));

describe('metric spans', () => {
  test('are written once per figure per flush however many events were counted, and never count themselves', async () => {
    // given a recorder flushed by hand, and three rounds of 25 appends, 2 prompt runs and 4 cache lookups each
    const recorder = createMetricSpanRecorder(ledger, { intervalMs: 0, source: 'test' });
    const writer = persona('writer', 'stats');
    const written: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => appendSpan(ledger, writer, { entityType: 'note', who: 'user:test', did: 'wrote', this: `round ${round} note ${i}` })));
      observeMetric('PromptLatency', 100 + round);
      observeMetric('PromptLatency', 400);
      observeMetric('PromptTokens', 50);
      observeMetric('PromptTokens', 70);
      for (const hit of [true, true, true, false]) countMetric(hit ? 'MemoryCacheHits' : 'MemoryCacheMisses');
      // when the interval ends
      written.push(await recorder.flush());
    }
    await recorder.close();
    // then each flush wrote one span per figure that moved: appends, latency, tokens, hits, misses
    expect(written).toEqual([5, 5, 5]);
    const spans = await metricSpans();
    const appends = spans.filter((span) => span.this === 'SpansAppended');
    // and each appends span counted exactly its round's 25 (the metric spans of the round before are not appends)
    expect(appends.map((span) => span.metadata.sum)).toEqual([25, 25, 25]);
    expect(spans.filter((span) => span.this === 'PromptLatency').map((span) => [span.metadata.count, span.metadata.p50, span.metadata.p99])).toEqual([[2, 100, 400], [2, 101, 400], [2, 102, 400]]);
    expect(spans.every((span) => span.metadata.source === 'test' && span.duration_ms >= 0)).toBe(true);
  });

  test('a started recorder writes on its own timer', async () => {
    // given a recorder on a short interval, and one more append
    const recorder = createMetricSpanRecorder(ledger, { intervalMs: 20, source: 'timer' });
    recorder.start();
    await appendSpan(ledger, persona('writer', 'stats'), { entityType: 'note', who: 'user:test', did: 'wrote', this: 'timed' });
    // when its timer has fired (waited for, not timed)
    let timed: Awaited<ReturnType<typeof metricSpans>> = [];
    while (timed.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      timed = (await metricSpans()).filter((span) => span.metadata.source === 'timer');
    }
    await recorder.close();
    // then it wrote that append, once
    expect(timed).toMatchObject([{ this: 'SpansAppended', metadata: { sum: 1 } }]);
  });

  test('`loglineos stats` prints the same figures from the ledger, over a window', async () => {
    // given the spans above, in a ledger the CLI opens from its environment (the test lets go of PGlite's folder)
    if (db.backend === 'pglite') await db.close();
    // when the CLI reads the last hour
    const stats = await cli(['stats', '--window', '1h'], home.env);
    // then it answers with every figure, added up over the metric spans
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/^health from \S+ to \S+: 16 metric span\(s\) over [\d.]+ s measured$/m);
    expect(stats.stdout).toMatch(/^ {2}appends +76 \([\d.]+\/s\)$/m);
    expect(stats.stdout).toMatch(/^ {2}verification failures +0$/m);
    expect(stats.stdout).toMatch(/^ {2}kernel runs +0$/m);
    expect(stats.stdout).toMatch(/^ {2}prompt runs +6$/m);
    expect(stats.stdout).toMatch(/^ {2}prompt latency p50 \/ p99 +102 ms \/ 400 ms$/m);
    expect(stats.stdout).toMatch(/^ {2}prompt tokens +360$/m);
    expect(stats.stdout).toMatch(/^ {2}memory cache hit rate +75\.0% \(9 of 12\)$/m);
    // and a window it cannot read is refused with the fix
    const bad = await cli(['stats', '--window', 'soon'], home.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--window must be a number and a unit (s, m, h, d), e.g. 15m or 1h, got "soon"');
  });

  test('`loglineos verify` draws its progress on stderr and keeps stdout to the verdicts', async () => {
    // when the chains above are verified with the bar forced on (stderr here is a pipe, where it is off by default)
    const verify = await cli(['verify'], { ...home.env, LOGLINEOS_PROGRESS: 'on' });
    // then every chain passed, stdout holds one verdict per chain, and the bar went to stderr
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout.trim().split('\n').every((line) => line.startsWith('ok '))).toBe(true);
    expect(verify.stdout).toMatch(/^ok {4}\(tenantless\): \d+ spans/m);
    expect(verify.stderr).toMatch(/\rverifying \(tenantless\) \[#+\] 100% [\d,]+\/[\d,]+ spans/);
  });
});
