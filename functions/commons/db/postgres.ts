import pg from 'pg';
import { LogLineError, ServiceUnavailableError } from '../errors.ts';
import { Admission, AdmissionTimeout, type Priority } from './admission.ts';
import {
  API_ROLE,
  APPLY_IDENTITY_SQL,
  LEDGER_ROLE,
  StatementFailed,
  identityParams,
  type Database,
  type Identity,
  type OwnerSession,
  type Queryable,
  type Row,
  type Statement,
  type TransactionOptions,
} from './database.ts';

export interface PostgresOptions {
  readonly connectionString: string;
  /** Pool size; RDS Proxy multiplexes these further. */
  readonly max?: number;
  /**
   * Connections kept open however long they stay idle; default 1. Beyond these, an idle connection
   * is closed after `idleTimeoutMs`. A warm Lambda (one request at a time) or a quiet server then does
   * not open a connection (TCP, TLS, authentication, through RDS Proxy) on its first request after
   * a pause.
   */
  readonly min?: number;
  /** How long a connection above `min` may stay idle before it is closed; default 10 s. */
  readonly idleTimeoutMs?: number;
  /**
   * Longest wait for a new connection to open before the request fails with ServiceUnavailable;
   * default 5 s. Without it a database that does not answer (a failover, a network partition) would
   * hold every request until the OS gives up on TCP, minutes later.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for a turn when every connection is in use (writers are served before snapshot
   * readers); then the request fails with ServiceUnavailable, reason `busy`. Default 10 s.
   */
  readonly queueTimeoutMs?: number;
  /** The password when it can change while the pool lives (a rotated secret); else the URL's. */
  readonly password?: PasswordSource;
}

/**
 * Where a pool's password comes from when it can change under a warm process (a secret that rotates).
 * The pool asks at every new connection; connections already open stay as they are.
 */
export interface PasswordSource {
  /** The password to log in with now (a cached copy while it is fresh). */
  current(): Promise<string>;
  /** The server refused `current()`'s answer: forget it, so the next `current()` reads it again. */
  refresh(): void;
}

/**
 * PostgreSQL through a `pg` pool. Each transaction holds one pooled connection from `begin` to
 * `commit`; everything it set is transaction-local, so the next user of the connection starts clean.
 * Nothing here survives a transaction (no session-level SET, no session advisory lock, no named
 * prepared statement), which is what lets RDS Proxy multiplex without pinning.
 *
 * Connections pipeline: `begin` and the caller's settings are sent without waiting, so they share a
 * round trip with the transaction's first statement; a failure of either still fails that statement,
 * because every later statement of an aborted transaction is refused.
 */
export function openPostgres(options: PostgresOptions): Database {
  const max = options.max ?? 10;
  // pg-pool queues in arrival order and times a queued request out like a failed connect; the
  // admission in front of it holds callers beyond `max`, so pg-pool's timeout only ever measures
  // opening a connection, and a writer never waits behind a crowd of readers.
  const admission = new Admission(max, options.queueTimeoutMs ?? 10_000);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    ...(options.password ? { Client: clientAskingPassword(options.password) } : {}),
    max,
    min: Math.min(options.min ?? 1, max),
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    // The connections kept open must not keep a process alive that has nothing else to do (a CLI
    // that forgot to close its ledger); a server's listener does.
    allowExitOnIdle: true,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // A peer that vanished without closing the socket is noticed within ~30 s instead of hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    pipeline: true,
    // bigint columns come back as strings by default; the ledger's counters fit in a double.
    types: {
      getTypeParser: (oid: number, format?: unknown) =>
        oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
    },
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor may a client in use: when the server goes away (restart, failover), pg fails the client's
  // queries AND emits 'error' on it, and pg-pool listens only while a client is idle, so an
  // unlistened 'error' killed the whole process (found by test/reliability/postgres-restart.test.ts).
  // The failure still reaches the transaction through its queries; the client is then discarded.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const outage = outageLog();
  /** A connection and the turn it was taken in; `done` gives both back (a broken connection is discarded). */
  const connect = async (priority: Priority): Promise<{ client: pg.PoolClient; done: (broken: boolean) => void }> => {
    let release: () => void;
    try {
      release = await admission.acquire(priority);
    } catch (error) {
      if (!(error instanceof AdmissionTimeout)) throw error;
      throw new ServiceUnavailableError(
        `the ledger database is busy: ${error.message}; the request was not started. Retry in a few seconds.`,
        { reason: 'busy' },
        { cause: error },
      );
    }
    try {
      const client = await connectRefreshingPassword(pool, options);
      return {
        client,
        done: (broken) => {
          client.release(broken);
          release();
        },
      };
    } catch (error) {
      release();
      throw unavailable(error, outage) ?? error;
    }
  };

  const run = async <T>(begin: string, setup: Statement | null, fn: (tx: OwnerSession) => Promise<T>, priority: Priority = 'write'): Promise<T> => {
    const { client, done } = await connect(priority);
    const opened = Promise.all([client.query(begin), setup ? client.query(setup.text, setup.params as unknown[]) : null]);
    opened.catch(() => undefined); // observed below, through the first statement or the commit
    const tx: OwnerSession = {
      async query<R extends Row>(text: string, params: readonly unknown[] = []) {
        const [, result] = await Promise.all([opened, client.query<R>(extended(text, params))]);
        return result.rows;
      },
      async exec(script: string) {
        await Promise.all([opened, client.query(script)]);
      },
    };
    let broken = false;
    try {
      const result = await fn(tx);
      await opened;
      await client.query('commit');
      outage.ended();
      return result;
    } catch (error) {
      broken = await rollback(client);
      throw unavailable(error, outage) ?? error;
    } finally {
      done(broken);
    }
  };

  const beginFor = (options?: TransactionOptions) =>
    options?.snapshot ? 'begin isolation level repeatable read read only' : 'begin';
  const callerSetup = (role: string, identity: Identity | null): Statement => ({ text: APPLY_IDENTITY_SQL, params: identityParams(role, identity) });

  const inRole = <T>(role: string, identity: Identity | null, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) =>
    run(beginFor(options), callerSetup(role, identity), fn, options?.snapshot ? 'read' : 'write');

  const runStatements = async (identity: Identity | null, statements: readonly Statement[]): Promise<Row[][]> => {
    const { client, done } = await connect('write');
    const setup = callerSetup(API_ROLE, identity);
    // Pipelined queries are written at once; corking the socket makes them one write, not a dozen.
    const stream = socketOf(client);
    stream?.cork();
    const sent = [
      client.query('begin'),
      client.query(setup.text, setup.params as unknown[]),
      ...statements.map((statement) => client.query(extended(statement.text, statement.params ?? []))),
    ];
    // `commit` of a transaction that failed answers ROLLBACK; the statement's own error is thrown.
    const commit = client.query('commit');
    stream?.uncork();
    const settled = await Promise.allSettled([...sent, commit]);
    const failedAt = settled.findIndex((outcome) => outcome.status === 'rejected');
    let broken = false;
    if (failedAt >= 0) broken = await rollback(client);
    done(broken);
    if (failedAt >= 0) {
      // begin, the caller and commit are not statements of the caller's; their failure is the transaction's.
      const reason = (settled[failedAt] as PromiseRejectedResult).reason;
      // A lost connection is nobody's statement: every span of a group hears ServiceUnavailable.
      const lost = unavailable(reason, outage);
      if (lost) throw lost;
      throw failedAt >= 2 && failedAt < 2 + statements.length ? new StatementFailed(failedAt - 2, reason) : reason;
    }
    outage.ended();
    return settled.slice(2, 2 + statements.length).map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult<Row>>).value.rows);
  };

  return {
    backend: 'postgres',
    withSession: (identity, fn, options) => inRole(API_ROLE, identity, fn, options),
    runStatements,
    withLedger: (fn, options) => inRole(LEDGER_ROLE, null, fn, options),
    withOwner: (fn) => run('begin', null, fn),
    close: () => pool.end(),
  };
}

/**
 * A statement sent with the extended protocol (Parse/Bind/Execute) even without parameters: the
 * server then refuses a text holding more than one statement ("cannot insert multiple commands into
 * a prepared statement"), as PGlite does. Only `exec` (scripts: migrations, seeds) uses the simple
 * protocol, which runs every statement of the text.
 */
function extended(text: string, params: readonly unknown[]): pg.QueryConfig {
  return { text, values: params as unknown[], queryMode: 'extended' } as pg.QueryConfig;
}

/** The client's socket, when pg exposes it (an internal field; without it writes are simply not batched). */
function socketOf(client: pg.PoolClient): { cork(): void; uncork(): void } | undefined {
  const stream = (client as unknown as { connection?: { stream?: { cork?: unknown; uncork?: unknown } } }).connection?.stream;
  return stream && typeof stream.cork === 'function' && typeof stream.uncork === 'function' ? (stream as { cork(): void; uncork(): void }) : undefined;
}

/** Rolls back whatever is open; true when the connection is unusable and must not be reused. */
async function rollback(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query('rollback');
    return false;
  } catch {
    return true;
  }
}

/**
 * A pg client that asks `source` for the password at each login. pg accepts a password function, but
 * a connection string's (absent) password overwrites it, so it is set after the client is built.
 */
function clientAskingPassword(source: PasswordSource): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      (this as unknown as { password: () => Promise<string> }).password = () => source.current();
    }
  };
}

/** SQLSTATE 28P01, invalid_password: the server refused the password it was given. */
const INVALID_PASSWORD = '28P01';

const isInvalidPassword = (error: unknown) => typeof error === 'object' && error !== null && (error as { code?: unknown }).code === INVALID_PASSWORD;

/**
 * A pooled connection. When the server refuses the password (the secret rotated since it was read),
 * the source reads it again and the pool tries once more; a second refusal means the secret and the
 * role disagree, which no further retry fixes, so it fails with DatabaseCredentialsRejected.
 */
async function connectRefreshingPassword(pool: pg.Pool, options: PostgresOptions): Promise<pg.PoolClient> {
  const source = options.password;
  try {
    return await pool.connect();
  } catch (error) {
    if (!source || !isInvalidPassword(error)) throw error;
  }
  source.refresh();
  try {
    return await pool.connect();
  } catch (error) {
    if (!isInvalidPassword(error)) throw error;
    const user = loginUser(options.connectionString);
    throw new LogLineError(
      'DatabaseCredentialsRejected',
      `the ledger database refused the password of ${user} (SQLSTATE ${INVALID_PASSWORD}), also after reading it again from its secret; ` +
        'the secret and the role disagree: finish or re-run the secret\'s rotation, or redeploy (the migration resource sets the role\'s password from the secret)',
      { user, sqlstate: INVALID_PASSWORD, retryable: false },
      { cause: error },
    );
  }
}

function loginUser(connectionString: string): string {
  try {
    return decodeURIComponent(new URL(connectionString).username) || 'the connecting role';
  } catch {
    return 'the connecting role';
  }
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * CREATE DATABASE (optionally from a template) and DROP DATABASE cannot run in a transaction or take
 * parameters, so they run on a bare connection with names checked against a strict pattern.
 */
export async function createDatabase(connectionString: string, name: string, template?: string): Promise<void> {
  await adminStatement(connectionString, (client) =>
    `create database ${client.escapeIdentifier(checkName(name))}${template ? ` template ${client.escapeIdentifier(checkName(template))}` : ''}`,
  );
}

export async function dropDatabase(connectionString: string, name: string): Promise<void> {
  await adminStatement(connectionString, (client) => `drop database if exists ${client.escapeIdentifier(checkName(name))} with (force)`);
}

function checkName(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new Error(`database name ${JSON.stringify(name)} must match ${DATABASE_NAME}`);
  return name;
}

async function adminStatement(connectionString: string, statement: (client: pg.Client) => string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(statement(client));
  } finally {
    await client.end();
  }
}

/** SQLSTATEs of a server that is going away or not there yet: class 08 (connection), 57P01-57P03 (shutdown, crash, starting up), 53300 (too many connections). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
/** Socket errors of a server that cannot be reached. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** What pg and pg-pool say when a connection ends under a query or cannot be had in time. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/;

/**
 * The database could not be reached, or went away during the transaction: a ServiceUnavailable error
 * for the caller (retryable, a stable errorType instead of a masked InternalError), else undefined.
 * The client hears the kind of failure only, never the host or the driver's text. A commit in flight
 * when the connection died may or may not have landed, which is why the message points to retrying
 * with the same id and seq (an append is idempotent on them).
 */
function unavailable(error: unknown, outage: OutageLog): ServiceUnavailableError | undefined {
  if (error instanceof ServiceUnavailableError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const reason = typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code)) ? code : typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message) ? 'connection lost' : undefined;
  if (!reason) return undefined;
  outage.started(reason, error);
  return new ServiceUnavailableError(
    `the ledger database is unavailable (${reason}); the request was not completed. Retry in a few seconds: an append retried with the same id and seq is stored once, whether or not this attempt reached the database.`,
    { reason },
    { cause: error },
  );
}

interface OutageLog {
  started(reason: string, error: unknown): void;
  ended(): void;
}

/** One log line when the database becomes unreachable and one when it answers again, not one per request. */
function outageLog(): OutageLog {
  let since: number | null = null;
  return {
    started(reason, error) {
      if (since !== null) return;
      since = Date.now();
      console.warn(JSON.stringify({ level: 'warn', message: 'ledger database unavailable; requests fail with ServiceUnavailable until it answers', reason, error: error instanceof Error ? error.message : String(error) }));
    },
    ended() {
      if (since === null) return;
      console.warn(JSON.stringify({ level: 'info', message: 'ledger database answers again', unavailableMs: Date.now() - since }));
      since = null;
    },
  };
}
