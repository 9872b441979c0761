/**
 * The fault suite runs in two sizes: a bounded one inside `npm test` (and so in `.ci/run`, both
 * backends), and the full one with `npm run reliability` (LOGLINEOS_RELIABILITY=full). Each test
 * picks its sizes here so the same code runs both ways; the figures in docs/reliability.md are from
 * the full run.
 */
export const FULL_RUN = process.env.LOGLINEOS_RELIABILITY === 'full';

/** `bounded` in `npm test`, `full` under `npm run reliability`. */
export function scale<T>(bounded: T, full: T): T {
  return FULL_RUN ? full : bounded;
}
