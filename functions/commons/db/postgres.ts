import pg from 'pg';
import {
  API_ROLE,
  APPLY_IDENTITY_SQL,
  LEDGER_ROLE,
  identityParams,
  type Database,
  type Identity,
  type OwnerSession,
  type Queryable,
  type Row,
  type TransactionOptions,
} from './database.ts';

export interface PostgresOptions {
  readonly connectionString: string;
  /** Pool size; RDS Proxy multiplexes these further. */
  readonly max?: number;
}

/**
 * PostgreSQL through a `pg` pool. Each transaction holds one pooled connection from `begin` to
 * `commit`; everything it set is transaction-local, so the next user of the connection starts clean.
 * Nothing here survives a transaction (no session-level SET, no session advisory lock), which is what
 * lets RDS Proxy multiplex without pinning.
 */
export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    // bigint columns come back as strings by default; the ledger's counters fit in a double.
    types: {
      getTypeParser: (oid: number, format?: unknown) =>
        oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'),
    },
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);

  const run = async <T>(begin: string, setup: readonly [string, readonly unknown[]] | null, fn: (tx: OwnerSession) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    const tx: OwnerSession = {
      async query<R extends Row>(text: string, params: readonly unknown[] = []) {
        const result = await client.query<R>(text, params as unknown[]);
        return result.rows;
      },
      async exec(script: string) {
        await client.query(script);
      },
    };
    let broken = false;
    try {
      await client.query(begin);
      if (setup) await client.query(setup[0], setup[1] as unknown[]);
      const result = await fn(tx);
      await client.query('commit');
      return result;
    } catch (error) {
      try {
        await client.query('rollback');
      } catch {
        broken = true; // the connection is gone; do not hand it to the next caller
      }
      throw error;
    } finally {
      client.release(broken);
    }
  };

  const beginFor = (options?: TransactionOptions) =>
    options?.snapshot ? 'begin isolation level repeatable read read only' : 'begin';

  const inRole = <T>(role: string, identity: Identity | null, fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) =>
    run(beginFor(options), [APPLY_IDENTITY_SQL, identityParams(role, identity)], fn);

  return {
    backend: 'postgres',
    withSession: (identity, fn, options) => inRole(API_ROLE, identity, fn, options),
    withLedger: (fn, options) => inRole(LEDGER_ROLE, null, fn, options),
    withOwner: (fn) => run('begin', null, fn),
    close: () => pool.end(),
  };
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
