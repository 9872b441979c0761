import { randomUUID } from 'node:crypto';

/*
 * The parts of AppSync's APPSYNC_JS runtime that our resolvers use, for running them locally.
 * `@aws-appsync/utils` ships types only, so resolver bundles built for the local server have their
 * import of it replaced by this module's objects (see resolvers.ts). State that belongs to one field's
 * resolution (appended errors, filters, invalidations) lives in a scope set around each call of a
 * request or response handler. Those handlers are synchronous (APPSYNC_JS has no async functions), so
 * a variable set for the call's length is enough: no AsyncLocalStorage, whose promise hooks would tax
 * every promise the server makes (measured: bench/api.bench.ts).
 */

/** What `util.error` throws: it ends the resolver and becomes one GraphQL error. */
export class ResolverError extends Error {
  constructor(
    message: string,
    readonly errorType: string | undefined,
    readonly data: unknown,
    readonly errorInfo: unknown,
  ) {
    super(message);
    this.name = 'ResolverError';
  }
}

/** What `runtime.earlyReturn` throws: the request handler skips the data source. */
export class EarlyReturn extends Error {
  constructor(readonly value: unknown, readonly skipTo: 'END' | 'NEXT') {
    super('early return');
  }
}

export interface ResolverScope {
  readonly appended: { message: string; errorType?: string; data?: unknown; errorInfo?: unknown }[];
  /** What a subscription's response handler asked for with extensions.* (see realtime.ts). */
  subscriptionFilter?: unknown;
  invalidationFilter?: unknown;
  readonly invalidations?: { subscriptionField: string; payload: Record<string, unknown> }[];
}

let currentScope: ResolverScope | undefined;

/** Runs one request or response handler with its field's scope. */
export function inResolverScope<T>(scope: ResolverScope, handler: () => T): T {
  const outer = currentScope;
  currentScope = scope;
  try {
    const result = handler();
    if (result instanceof Promise) throw new Error('a resolver handler returned a Promise; APPSYNC_JS handlers are synchronous');
    return result;
  } finally {
    currentScope = outer;
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export const util = {
  error(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): never {
    throw new ResolverError(message, errorType, data ?? null, errorInfo ?? null);
  },
  appendError(message: string, errorType?: string, data?: unknown, errorInfo?: unknown): void {
    const scope = currentScope;
    if (!scope) throw new Error('util.appendError was called outside a resolver');
    scope.appended.push({ message, ...(errorType ? { errorType } : {}), data: data ?? null, errorInfo: errorInfo ?? null });
  },
  autoId: (): string => randomUUID(),
  autoUlid: (): string => {
    throw new Error('util.autoUlid is not available in the local runtime');
  },
  isNull: (value: unknown): boolean => value === null || value === undefined,
  isNullOrEmpty: (value: unknown): boolean => value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0),
  defaultIfNull: <T>(value: T | null | undefined, fallback: T): T => value ?? fallback,
  time: {
    nowISO8601: (): string => new Date().toISOString(),
    nowEpochSeconds: (): number => Math.floor(Date.now() / 1000),
    nowEpochMilliSeconds: (): number => Date.now(),
    nowFormatted(format: string): string {
      const now = new Date();
      return format
        .replace('yyyy', String(now.getUTCFullYear()))
        .replace('MM', pad(now.getUTCMonth() + 1))
        .replace('dd', pad(now.getUTCDate()))
        .replace('HH', pad(now.getUTCHours()))
        .replace('mm', pad(now.getUTCMinutes()))
        .replace('ss', pad(now.getUTCSeconds()));
    },
  },
  str: {
    toUpper: (value: string) => value.toUpperCase(),
    toLower: (value: string) => value.toLowerCase(),
  },
};

export const runtime = {
  earlyReturn(value?: unknown, options?: { skipTo?: 'END' | 'NEXT' }): never {
    throw new EarlyReturn(value ?? null, options?.skipTo ?? 'END');
  },
};

const scopeFor = (call: string): ResolverScope => {
  const scope = currentScope;
  if (!scope) throw new Error(`extensions.${call} was called outside a resolver`);
  return scope;
};

export const extensions = {
  setSubscriptionFilter(filter: unknown): void {
    scopeFor('setSubscriptionFilter').subscriptionFilter = filter;
  },
  setSubscriptionInvalidationFilter(filter: unknown): void {
    scopeFor('setSubscriptionInvalidationFilter').invalidationFilter = filter;
  },
  invalidateSubscriptions(request: { subscriptionField: string; payload: Record<string, unknown> }): void {
    const scope = scopeFor('invalidateSubscriptions');
    if (!scope.invalidations) throw new Error('extensions.invalidateSubscriptions is for mutation resolvers');
    scope.invalidations.push(request);
  },
};
