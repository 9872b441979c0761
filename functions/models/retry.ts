/**
 * Which model failures are worth another attempt, and how long to wait before it. Only failures
 * before the first streamed text are retried: once a caller has seen part of an answer, a second
 * attempt would stream a different answer after it.
 */

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'InternalServerException',
  'ModelNotReadyException',
  'ModelTimeoutException',
  'ModelStreamErrorException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

export interface RetrySettings {
  /** Attempts in all, the first included (default 4). */
  readonly maxAttempts?: number;
  /** The first backoff's ceiling in ms, doubled on each retry (default 250). */
  readonly baseDelayMs?: number;
  /** No backoff waits longer than this (default 8000). */
  readonly maxDelayMs?: number;
  /** For tests: how to wait, and where the jitter comes from. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export function isTransientModelError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}

/** "Full jitter" exponential backoff: a uniform wait in [0, min(max, base × 2^retry)). */
export function backoffDelay(retry: number, settings: RetrySettings = {}): number {
  const base = settings.baseDelayMs ?? 250;
  const max = settings.maxDelayMs ?? 8000;
  const ceiling = Math.min(max, base * 2 ** retry);
  return Math.floor((settings.random ?? Math.random)() * ceiling);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
