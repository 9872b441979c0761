/**
 * Progress of a long command (verify, migrate, benchmarks, bulk loads) on stderr, so stdout stays
 * the command's answer. On a terminal: one line redrawn at most every 100 ms. Elsewhere (CI logs,
 * pipes, tests): a plain count line at most every 10 s, so a short run prints nothing at all.
 * LOGLINEOS_PROGRESS=off silences it; =on draws the bar even when stderr is not a terminal.
 */

export interface Progress {
  /** `done` units finished so far (of `total`, when known). */
  update(done: number, total?: number): void;
  /** Adds `n` (default 1) to the units finished. */
  tick(n?: number): void;
  /** Ends the line; a non-terminal run that printed nothing stays silent. */
  finish(): void;
}

export interface ProgressOptions {
  readonly total?: number;
  readonly unit?: string;
  readonly stream?: Pick<NodeJS.WriteStream, 'write'> & { readonly isTTY?: boolean };
  readonly env?: NodeJS.ProcessEnv;
  /** Clock in ms (tests pass their own). */
  readonly now?: () => number;
}

const TTY_REDRAW_MS = 100;
const LINE_EVERY_MS = 10_000;
const BAR_WIDTH = 24;

export function startProgress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const now = options.now ?? (() => performance.now());
  const mode = env.LOGLINEOS_PROGRESS === 'off' ? 'off' : env.LOGLINEOS_PROGRESS === 'on' || stream.isTTY ? 'bar' : 'lines';
  const started = now();
  let total = options.total;
  let done = 0;
  let drawnAt = mode === 'bar' ? -Infinity : started;
  let drawn = false;
  const unit = options.unit ? ` ${options.unit}` : '';

  const describe = () => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? `, ${Math.round(done / seconds).toLocaleString('en-US')}/s` : '';
    const count = total !== undefined ? `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}${unit}` : `${done.toLocaleString('en-US')}${unit}`;
    const share = total ? Math.min(1, done / total) : undefined;
    const bar = share === undefined ? '' : `[${'#'.repeat(Math.round(share * BAR_WIDTH)).padEnd(BAR_WIDTH, '-')}] ${(share * 100).toFixed(0).padStart(3)}% `;
    return `${label} ${bar}${count} (${seconds.toFixed(1)} s${rate})`;
  };
  const draw = (force: boolean) => {
    if (mode === 'off') return;
    const at = now();
    if (!force && at - drawnAt < (mode === 'bar' ? TTY_REDRAW_MS : LINE_EVERY_MS)) return;
    drawnAt = at;
    drawn = true;
    // \r and erase-to-end-of-line redraw in place on a terminal.
    stream.write(mode === 'bar' ? `\r${describe()}\x1b[K` : `${describe()}\n`);
  };
  return {
    update(value, newTotal) {
      done = value;
      if (newTotal !== undefined) total = newTotal;
      draw(false);
    },
    tick(n = 1) {
      done += n;
      draw(false);
    },
    finish() {
      if (mode === 'bar') {
        draw(true);
        stream.write('\n');
      } else if (mode === 'lines' && drawn) draw(true);
    },
  };
}
