/**
 * The one interface to the ledger's database. Two backends implement it: embedded PGlite (the local
 * default) and a `pg` pool (PostgreSQL, RDS through RDS Proxy). Nothing outside this folder talks to
 * a driver.
 */

export type Row = Record<string, unknown>;

export interface Statement {
  readonly text: string;
  readonly params?: readonly unknown[];
}

export interface Queryable {
  /** One parameterised statement. */
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface OwnerSession extends Queryable {
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** Who is calling. Comes from the authenticated request, never from the request body. */
export interface Identity {
  readonly userId: string;
  readonly tenantId: string | null;
  readonly groups?: readonly string[];
}

export interface TransactionOptions {
  /** One consistent snapshot for the whole transaction, and no writes. */
  readonly snapshot?: boolean;
}

export interface Database {
  readonly backend: 'pglite' | 'postgres';
  /**
   * One transaction as the API role with the caller applied (`set_config(…, true)` right after
   * `begin`), so row-level security decides what it reads and writes. `null` is an anonymous caller:
   * public rows only, no writes.
   */
  withSession<T>(identity: Identity | null, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * The statements as one transaction as the caller, sent together: on PostgreSQL, begin, the caller,
   * every statement and commit travel in one round trip (pipelining). The first failure rolls the
   * whole transaction back and is thrown as a `StatementFailed` naming the statement. Returns each
   * statement's rows.
   */
  runStatements(identity: Identity | null, statements: readonly Statement[]): Promise<Row[][]>;
  /** One transaction as the ledger role: reads every row, writes none (verification, linking). */
  withLedger<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** One transaction as the connecting role (migrations, operator tools). */
  withOwner<T>(fn: (tx: OwnerSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const API_ROLE = 'loglineos_api';
export const LEDGER_ROLE = 'loglineos_ledger';

/** Applies role and caller in one round trip; `true` makes every setting end with the transaction. */
export const APPLY_IDENTITY_SQL =
  "select set_config('role', $1, true), set_config('app.user_id', $2, true), set_config('app.tenant_id', $3, true)";

export function identityParams(role: string, identity: Identity | null): string[] {
  return [role, identity?.userId ?? '', identity?.tenantId ?? ''];
}

/** A statement of `runStatements` failed: which one, and the driver's error as `cause`. */
export class StatementFailed extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`statement ${index} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StatementFailed';
  }
}

/** The SQLSTATE and details of a failed statement, the same shape from both backends. */
export interface DatabaseFailure {
  readonly code?: string;
  readonly hint?: string;
  readonly constraint?: string;
  readonly message: string;
}

export function asDatabaseFailure(failure: unknown): DatabaseFailure | undefined {
  const error = failure instanceof StatementFailed ? failure.cause : failure;
  if (typeof error !== 'object' || error === null || !('message' in error)) return undefined;
  const e = error as { code?: unknown; hint?: unknown; constraint?: unknown; message: unknown };
  if (typeof e.code !== 'string') return undefined;
  return {
    code: e.code,
    message: String(e.message),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    ...(typeof e.constraint === 'string' ? { constraint: e.constraint } : {}),
  };
}
