/** One entry of an AppSync `errors` array, with absent members normalised to null. */
export interface AppSyncError {
  readonly message: string;
  /** AppSync's error class, e.g. `UnauthorizedException`, or the `errorType` a resolver raised. */
  readonly errorType: string | null;
  readonly errorInfo: unknown;
  readonly path: readonly (string | number)[] | null;
  readonly locations: readonly { readonly line: number; readonly column: number }[] | null;
}

/**
 * A GraphQL request that did not succeed: the response carried `errors`, or the HTTP status was not
 * 2xx, or the body was not a GraphQL response. `data` holds what the server did return (AppSync sends
 * partial data next to field errors).
 */
export class GraphQLRequestError<TData = unknown> extends Error {
  override readonly name = 'GraphQLRequestError';
  readonly errors: readonly AppSyncError[];
  readonly data: TData | null;
  /** HTTP status of the response. */
  readonly status: number;
  readonly operationName: string | null;

  constructor(init: {
    errors: readonly AppSyncError[];
    data: TData | null;
    status: number;
    operationName: string | null;
  }) {
    super(describe(init.errors, init.status, init.operationName));
    this.errors = init.errors;
    this.data = init.data;
    this.status = init.status;
    this.operationName = init.operationName;
  }

  /** `errorType` of the first error: what to branch on, e.g. `UnauthorizedException`. */
  get errorType(): string | null {
    return this.errors[0]?.errorType ?? null;
  }
}

function describe(errors: readonly AppSyncError[], status: number, operationName: string | null): string {
  const first = errors[0];
  const head = first ? `${first.errorType ?? 'GraphQL error'}: ${first.message}` : 'GraphQL error';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const where = [`HTTP ${status}`, operationName ? `operation ${operationName}` : null, first?.path ? `path ${first.path.join('.')}` : null]
    .filter((part) => part !== null)
    .join(', ');
  return `${head}${more} [${where}]`;
}

/** Reads one `errors` entry defensively: servers other than AppSync may leave members out. */
export function toAppSyncError(value: unknown): AppSyncError {
  const entry = isRecord(value) ? value : {};
  return {
    message: typeof entry.message === 'string' ? entry.message : `Malformed GraphQL error: ${JSON.stringify(value)}`,
    errorType: typeof entry.errorType === 'string' ? entry.errorType : null,
    errorInfo: entry.errorInfo ?? null,
    path: Array.isArray(entry.path) ? (entry.path as (string | number)[]) : null,
    locations: Array.isArray(entry.locations) ? (entry.locations as { line: number; column: number }[]) : null,
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
