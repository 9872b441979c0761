/**
 * The ledger's own health figures, counted in memory. Recording one is a few additions on the
 * windows that are open (none in tests and tools, so nothing at all): the append path is benchmarked
 * and must not pay for being watched. Readers (EMF per Lambda invocation, metric spans per interval)
 * each open a window and drain it on their own schedule.
 */

/** The CloudWatch namespace of every EMF metric; the dashboard and alarms read it (infra/lib/operations-stack.ts). */
export const METRICS_NAMESPACE = 'LogLineOS';
/** The `service` dimension of every metric: one per deployment, so figures add up across functions. */
export const METRICS_SERVICE = 'loglineos';
/** Names the deployment's environment in the `environment` dimension (set by the CDK app on every function). */
export const ENVIRONMENT_VARIABLE = 'LOGLINEOS_ENVIRONMENT';

/** Every health figure, by the name it has as an EMF metric and as a metric span's `this`. */
export const HEALTH_METRICS = {
  SpansAppended: { unit: 'Count', distribution: false },
  VerificationFailures: { unit: 'Count', distribution: false },
  KernelRuns: { unit: 'Count', distribution: false },
  KernelRefusals: { unit: 'Count', distribution: false },
  PromptLatency: { unit: 'Milliseconds', distribution: true },
  PromptTokens: { unit: 'Count', distribution: true },
  MemoryCacheHits: { unit: 'Count', distribution: false },
  MemoryCacheMisses: { unit: 'Count', distribution: false },
  InternalErrors: { unit: 'Count', distribution: false },
} as const satisfies Record<string, { unit: 'Count' | 'Milliseconds'; distribution: boolean }>;

export type HealthMetric = keyof typeof HEALTH_METRICS;
export const HEALTH_METRIC_NAMES = Object.keys(HEALTH_METRICS) as HealthMetric[];

/** Values kept per distribution and window for percentiles; beyond it a uniform sample is kept. */
export const MAX_SAMPLES = 100;

/** One metric over one window. `sum` is the figure of a counter; distributions also keep samples. */
export interface MetricAggregate {
  readonly name: HealthMetric;
  readonly unit: 'Count' | 'Milliseconds';
  count: number;
  sum: number;
  min: number;
  max: number;
  readonly samples: number[];
}

/** What a window held when it was drained: the aggregates that saw at least one value. */
export interface MetricWindowSnapshot {
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly metrics: readonly MetricAggregate[];
}

export class MetricWindow {
  #aggregates = new Map<HealthMetric, MetricAggregate>();
  #startedAt = new Date();

  record(name: HealthMetric, value: number): void {
    let aggregate = this.#aggregates.get(name);
    if (!aggregate) {
      aggregate = { name, unit: HEALTH_METRICS[name].unit, count: 0, sum: 0, min: value, max: value, samples: [] };
      this.#aggregates.set(name, aggregate);
    }
    aggregate.count += 1;
    aggregate.sum += value;
    if (value < aggregate.min) aggregate.min = value;
    if (value > aggregate.max) aggregate.max = value;
    if (HEALTH_METRICS[name].distribution) keepSample(aggregate, value);
  }

  /** Hands over what was recorded since the last drain and starts a new window. */
  drain(now = new Date()): MetricWindowSnapshot {
    const snapshot = { startedAt: this.#startedAt, endedAt: now, metrics: [...this.#aggregates.values()] };
    this.#aggregates = new Map();
    this.#startedAt = now;
    return snapshot;
  }

  get empty(): boolean {
    return this.#aggregates.size === 0;
  }
}

// Reservoir sampling keeps every value equally likely to be in the sample however many arrive.
function keepSample(aggregate: MetricAggregate, value: number): void {
  if (aggregate.samples.length < MAX_SAMPLES) aggregate.samples.push(value);
  else {
    const slot = Math.floor(Math.random() * aggregate.count);
    if (slot < MAX_SAMPLES) aggregate.samples[slot] = value;
  }
}

const windows: MetricWindow[] = [];

/** Counts `value` (default 1) of a health figure in every open window. */
export function countMetric(name: HealthMetric, value = 1): void {
  for (let i = 0; i < windows.length; i += 1) windows[i]!.record(name, value);
}

/** Records one observation of a distribution (a latency, a token count). */
export const observeMetric: (name: HealthMetric, value: number) => void = countMetric;

/** A window that receives every figure from now on, until closed. */
export function openMetricWindow(): MetricWindow {
  const window = new MetricWindow();
  windows.push(window);
  return window;
}

export function closeMetricWindow(window: MetricWindow): void {
  const index = windows.indexOf(window);
  if (index >= 0) windows.splice(index, 1);
}

/** The value below which `p` percent of the sorted values fall (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? null;
}
