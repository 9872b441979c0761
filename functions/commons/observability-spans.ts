import { intSetting } from './config.ts';
import type { Identity } from './db/database.ts';
import { HEALTH_METRIC_NAMES, HEALTH_METRICS, closeMetricWindow, openMetricWindow, percentile, type HealthMetric, type MetricAggregate, type MetricWindow } from './observability-metrics.ts';
import { appendSpan } from '../ledger/append.ts';
import type { Ledger } from '../ledger/ledger.ts';

/**
 * The ledger's health written into the ledger itself (SPEC: `metric` spans): per interval, one span
 * per figure that moved, however many events it counted, so watching never becomes the load.
 * `loglineos stats` reads them back.
 */

/** The writer of every metric span; `stats` reads only its spans (a user may write `metric` spans too). */
export const METRICS_WRITER: Identity = { userId: 'system:observability', tenantId: null };
export const DEFAULT_METRIC_SPAN_INTERVAL_MS = 60_000;

/** LOGLINEOS_METRICS_INTERVAL_MS: how often metric spans are written; 0 writes none. */
export function metricSpanIntervalMs(env: NodeJS.ProcessEnv): number {
  return intSetting(env, 'LOGLINEOS_METRICS_INTERVAL_MS', DEFAULT_METRIC_SPAN_INTERVAL_MS, 0);
}

export interface MetricSpanRecorder {
  /** Writes the figures counted since the last write (one span each); answers how many spans. */
  flush(): Promise<number>;
  /** Flushes when an interval has passed since the last write (Lambda: at the end of an invocation). */
  flushIfDue(): Promise<number>;
  /** Flushes every interval until closed (a long-running server). */
  start(): void;
  /** Stops the timer and writes what is left. */
  close(): Promise<void>;
}

export interface MetricSpanRecorderOptions {
  readonly intervalMs: number;
  /** Who counted: `local`, `lambda:<function>`; kept in each span's metadata. */
  readonly source: string;
  /** Failures to write (the figures of that interval are dropped); default: ignored. */
  readonly onError?: (error: unknown) => void;
  /** A window opened earlier (so nothing counted before the ledger was open is lost); default: a new one. */
  readonly window?: MetricWindow;
}

export function createMetricSpanRecorder(ledger: Ledger, options: MetricSpanRecorderOptions): MetricSpanRecorder {
  const window: MetricWindow = options.window ?? openMetricWindow();
  let lastFlush = Date.now();
  let timer: NodeJS.Timeout | undefined;
  // One write at a time, so a slow database never sees two intervals' spans race.
  let writing: Promise<number> = Promise.resolve(0);

  const flush = (): Promise<number> => {
    writing = writing.then(async () => {
      lastFlush = Date.now();
      const snapshot = window.drain();
      if (snapshot.metrics.length === 0) return 0;
      const spans = snapshot.metrics.map((aggregate) => metricSpan(aggregate, snapshot.startedAt, snapshot.endedAt, options.source));
      // Written side by side, they share one group commit of the tenantless chain.
      await Promise.all(spans.map((span) => appendSpan(ledger, METRICS_WRITER, span)));
      return spans.length;
    }).catch((error: unknown) => {
      options.onError?.(error);
      return 0;
    });
    return writing;
  };
  return {
    flush,
    flushIfDue: () => (Date.now() - lastFlush >= options.intervalMs ? flush() : Promise.resolve(0)),
    start() {
      if (timer || options.intervalMs <= 0) return;
      timer = setInterval(() => void flush(), options.intervalMs);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
      closeMetricWindow(window);
    },
  };
}

function metricSpan(aggregate: MetricAggregate, startedAt: Date, endedAt: Date, source: string) {
  const distribution = HEALTH_METRICS[aggregate.name].distribution;
  const sorted = distribution ? [...aggregate.samples].sort((a, b) => a - b) : [];
  return {
    entityType: 'metric',
    who: METRICS_WRITER.userId,
    did: 'measured',
    this: aggregate.name,
    name: aggregate.name,
    status: 'complete',
    at: endedAt.toISOString(),
    durationMs: Math.max(0, endedAt.getTime() - startedAt.getTime()),
    metadata: {
      unit: aggregate.unit,
      count: aggregate.count,
      sum: aggregate.sum,
      min: aggregate.min,
      max: aggregate.max,
      ...(distribution ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99), samples: sorted } : {}),
      window_start: startedAt.toISOString(),
      window_end: endedAt.toISOString(),
      source,
    },
  };
}

/** One figure over the window asked for: the metric spans added up. */
export interface HealthFigure {
  readonly count: number;
  readonly sum: number;
  /** Distributions: every window's sample, merged, sorted. */
  readonly samples: readonly number[];
}

export interface HealthStats {
  readonly since: Date;
  readonly until: Date;
  /** Metric spans read. */
  readonly spans: number;
  /** From the first counted window's start to the last one's end (0 when none). */
  readonly measuredMs: number;
  readonly figures: Readonly<Record<HealthMetric, HealthFigure>>;
}

const READ_SQL = `select this, metadata from ledger.universal_registry
  where entity_type = 'metric' and owner_id = $1 and at > $2 and at <= $3 order by at`;

/** The metric spans of the last `windowMs`, added up per figure. */
export async function readHealthStats(ledger: Ledger, windowMs: number, until = new Date()): Promise<HealthStats> {
  const since = new Date(until.getTime() - windowMs);
  const rows = await ledger.db.withLedger((tx) => tx.query<{ this: string; metadata: Record<string, unknown> | string }>(READ_SQL, [METRICS_WRITER.userId, since.toISOString(), until.toISOString()]), { snapshot: true });
  const figures = Object.fromEntries(HEALTH_METRIC_NAMES.map((name) => [name, { count: 0, sum: 0, samples: [] as number[] }])) as Record<HealthMetric, { count: number; sum: number; samples: number[] }>;
  let first = Infinity;
  let last = -Infinity;
  for (const row of rows) {
    const figure = figures[row.this as HealthMetric];
    if (!figure) continue;
    const metadata = (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata) as { count?: number; sum?: number; samples?: number[]; window_start?: string; window_end?: string };
    figure.count += Number(metadata.count ?? 0);
    figure.sum += Number(metadata.sum ?? 0);
    if (Array.isArray(metadata.samples)) figure.samples.push(...metadata.samples.map(Number));
    first = Math.min(first, Date.parse(metadata.window_start ?? ''));
    last = Math.max(last, Date.parse(metadata.window_end ?? ''));
  }
  for (const figure of Object.values(figures)) figure.samples.sort((a, b) => a - b);
  return { since, until, spans: rows.length, measuredMs: Number.isFinite(first) && Number.isFinite(last) ? Math.max(0, last - first) : 0, figures };
}

/** The figures as `loglineos stats` prints them. */
export function formatHealthStats(stats: HealthStats): string {
  const f = stats.figures;
  const seconds = stats.measuredMs / 1000;
  const perSecond = (n: number) => (seconds > 0 ? (n / seconds).toFixed(2) : '0.00');
  const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
  const lookups = f.MemoryCacheHits.sum + f.MemoryCacheMisses.sum;
  const rows: [string, string][] = [
    ['appends', `${f.SpansAppended.sum} (${perSecond(f.SpansAppended.sum)}/s)`],
    ['verification failures', String(f.VerificationFailures.sum)],
    ['kernel runs', String(f.KernelRuns.sum)],
    ['kernel refusals', String(f.KernelRefusals.sum)],
    ['prompt runs', String(f.PromptLatency.count)],
    ['prompt latency p50 / p99', `${ms(percentile(f.PromptLatency.samples, 50))} / ${ms(percentile(f.PromptLatency.samples, 99))}`],
    ['prompt tokens', String(f.PromptTokens.sum)],
    ['memory cache hit rate', lookups === 0 ? '-' : `${((100 * f.MemoryCacheHits.sum) / lookups).toFixed(1)}% (${f.MemoryCacheHits.sum} of ${lookups})`],
    ['internal errors', String(f.InternalErrors.sum)],
  ];
  const header = `health from ${stats.since.toISOString()} to ${stats.until.toISOString()}: ${stats.spans} metric span(s) over ${seconds.toFixed(1)} s measured`;
  return [header, ...rows.map(([name, value]) => `  ${name.padEnd(26)} ${value}`)].join('\n');
}
