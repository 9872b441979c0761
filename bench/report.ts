/** Small helpers shared by the benchmarks: timing, percentiles and a uniform printed line. */

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export function timedSync(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))] ?? Number.NaN;
}

export function rate(count: number, seconds: number): string {
  return `${Math.round(count / seconds).toLocaleString('en-US')}/s`;
}

export function line(name: string, value: string, note = ''): void {
  console.log(`${name.padEnd(58)} ${value.padStart(14)}  ${note}`);
}

export function ratio(name: string, value: number, goal?: string): void {
  line(name, value.toFixed(2), goal ? `goal ${goal}` : '');
}

/** `count` calls one after another; each call's time in ms, sorted (for percentile). */
export async function latencies(count: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const start = performance.now();
    await call(i);
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b);
}
