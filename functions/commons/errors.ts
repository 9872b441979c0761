/**
 * Errors with a stable `errorType` (AppSync's field of that name). Their `name` is the errorType, so
 * a direct-Lambda resolver forwards it unchanged. Messages of these classes are written for clients:
 * what went wrong, the value received and the fix. Anything else that escapes is masked by the API.
 */
export interface ErrorInfo {
  readonly [key: string]: unknown;
}

export class LogLineError extends Error {
  readonly errorType: string;
  readonly errorInfo: ErrorInfo;

  constructor(errorType: string, message: string, errorInfo: ErrorInfo = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = errorType;
    this.errorType = errorType;
    this.errorInfo = errorInfo;
  }
}

/** Bad input: names the field, the value received and the fix. Nothing was written. */
export class ValidationError extends LogLineError {
  constructor(field: string, value: unknown, problem: string, fix: string) {
    super('ValidationError', `${field}: ${problem} (got ${describe(value)}). ${fix}`, { field, value: describe(value), fix });
  }
}

/** A signature or hash that does not match what it claims. Nothing was written. */
export class SignatureError extends LogLineError {
  constructor(message: string, info: ErrorInfo = {}) {
    super('SignatureInvalid', message, info);
  }
}

/** The caller may not do this, whatever the input. */
export class ForbiddenError extends LogLineError {
  constructor(message: string, info: ErrorInfo = {}) {
    super('Forbidden', message, info);
  }
}

/** The write collides with what the ledger already holds. */
export class ConflictError extends LogLineError {
  constructor(message: string, info: ErrorInfo = {}) {
    super('Conflict', message, info);
  }
}

/**
 * Something the request needs (the ledger database) cannot be reached right now. Retryable: the same
 * request sent again later may succeed; an append retried with the same id and seq is stored once.
 */
export class ServiceUnavailableError extends LogLineError {
  constructor(message: string, info: ErrorInfo = {}, options?: ErrorOptions) {
    super('ServiceUnavailable', message, { retryable: true, ...info }, options);
  }
}

export class NotFoundError extends LogLineError {
  constructor(message: string, info: ErrorInfo = {}) {
    super('NotFound', message, info);
  }
}

/** Short, log-safe rendering of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) return `a ${value.constructor?.name ?? 'non-plain'} object`;
    return 'an object';
  }
  return `a ${typeof value}`;
}
