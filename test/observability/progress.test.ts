import { describe, expect, test } from 'vitest';
import { startProgress } from '../../functions/commons/observability-progress.ts';

/* Progress goes to stderr only: redrawn on a terminal, a rare count line elsewhere, nothing when off. */

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, write: (text: string) => written.push(text) > 0 }, written };
}
function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('progress', () => {
  test('on a terminal: a bar redrawn in place, at most every 100 ms, ended by a newline', () => {
    const { stream, written } = fakeStream(true);
    const time = clock();
    const progress = startProgress('verifying acme', { total: 1000, unit: 'spans', stream, env: {}, now: time.now });
    progress.update(10);
    time.advance(50);
    progress.update(20);
    time.advance(1000);
    progress.update(500);
    progress.finish();
    expect(written).toHaveLength(4);
    expect(written[0]).toMatch(/^\rverifying acme \[-{24}\] {3}1% 10\/1,000 spans \(0\.0 s\)\x1b\[K$/);
    expect(written[1]).toBe('\rverifying acme [############------------]  50% 500/1,000 spans (1.1 s, 476/s)\x1b[K');
    expect(written.at(-1)).toBe('\n');
  });

  test('in a pipe: silent for a short run, a count line every 10 s for a long one', () => {
    const short = fakeStream(false);
    const time = clock();
    const quick = startProgress('bulk load', { total: 100, stream: short.stream, env: {}, now: time.now });
    quick.update(50);
    time.advance(2000);
    quick.update(100);
    quick.finish();
    expect(short.written).toEqual([]);

    const long = fakeStream(false);
    const slow = startProgress('bulk load', { stream: long.stream, env: {}, now: time.now });
    time.advance(10_000);
    slow.tick(30_000);
    slow.finish();
    expect(long.written).toEqual(['bulk load 30,000 (10.0 s, 3,000/s)\n', 'bulk load 30,000 (10.0 s, 3,000/s)\n']);
  });

  test('LOGLINEOS_PROGRESS=off silences even a terminal; =on draws in a pipe', () => {
    const off = fakeStream(true);
    const on = fakeStream(false);
    for (const [target, value] of [[off, 'off'], [on, 'on']] as const) {
      const progress = startProgress('migrating', { total: 3, stream: target.stream, env: { LOGLINEOS_PROGRESS: value }, now: () => 0 });
      progress.update(3);
      progress.finish();
    }
    expect(off.written).toEqual([]);
    expect(on.written).toEqual(['\rmigrating [########################] 100% 3/3 (0.0 s)\x1b[K', '\rmigrating [########################] 100% 3/3 (0.0 s)\x1b[K', '\n']);
  });
});
