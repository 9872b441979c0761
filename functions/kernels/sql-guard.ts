import type { Queryable } from '../commons/db/index.ts';
import { LogLineError } from '../commons/errors.ts';

/*
 * ctx.sql runs on the caller's own transaction (its role and RLS identity), so the kernel reads
 * exactly what its caller could. Three layers keep kernel SQL from changing that session:
 * 1. the text must be one SELECT / WITH / VALUES / TABLE statement (comments and literals skipped, no
 *    second statement), naming none of the functions that change settings or run SQL of their own
 *    (set_config, query_to_xml, ts_stat, …) or take advisory locks;
 * 2. it runs inside a savepoint made read-only (`set local transaction_read_only`), so DML, DDL,
 *    SELECT … INTO and row locks fail;
 * 3. the savepoint is always rolled back after the rows are read, which also undoes any setting the
 *    statement changed (role, app.user_id), whatever got past layer 1.
 */

export class KernelSqlRefused extends LogLineError {
  constructor(message: string, text: string) {
    super('KernelSqlRefused', message, { sql: text.length > 200 ? `${text.slice(0, 197)}...` : text });
  }
}

const STATEMENT_START = new Set(['select', 'with', 'values', 'table']);

// Functions that change the session or run a query text of their own, and lock functions.
const FORBIDDEN = /(set_config|_to_xml|to_xmlschema|ts_stat|ts_rewrite|dblink|pg_advisory|pg_try_advisory|lo_import|lo_export|lo_from|pg_read|pg_ls|pg_stat_file|pg_terminate|pg_cancel|pg_reload|pg_sleep|pg_notify|pg_logical|pg_replication|pg_create|pg_drop|current_setting|set_role|xact)/;

export const MAX_SQL_TEXT = 20_000;

/** The statement's words with comments, string literals and quotes removed, or a refusal. */
export function checkKernelSql(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') throw new KernelSqlRefused('ctx.sql needs the statement text as its first argument', String(text));
  if (text.length > MAX_SQL_TEXT) throw new KernelSqlRefused(`ctx.sql statements are limited to ${MAX_SQL_TEXT} characters`, text);
  if (/\bu&/i.test(text)) throw new KernelSqlRefused('ctx.sql refuses Unicode-escaped identifiers and strings (U&…)', text);
  let code = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    const next = text[i + 1] ?? '';
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
      code += ' ';
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') { depth += 1; i += 2; }
        else if (text[i] === '*' && text[i + 1] === '/') { depth -= 1; i += 2; }
        else i += 1;
      }
      code += ' ';
    } else if (c === "'") {
      // A literal's content is data, never a name: skip it ('' is an escaped quote).
      i += 1;
      while (i < text.length) {
        if (text[i] === "'" && text[i + 1] === "'") i += 2;
        else if (text[i] === "'") { i += 1; break; }
        else i += 1;
      }
      code += " '' ";
    } else if (c === '$' && /[A-Za-z_$]/.test(next)) {
      // Dollar-quoted literal $tag$…$tag$ (a parameter $1 starts with a digit).
      const tag = /^\$[A-Za-z_0-9]*\$/.exec(text.slice(i))?.[0];
      if (!tag) { code += c; i += 1; continue; }
      const end = text.indexOf(tag, i + tag.length);
      i = end < 0 ? text.length : end + tag.length;
      code += " '' ";
    } else if (c === '"') {
      // A quoted identifier is still a name: keep its letters so the checks below see it.
      const end = text.indexOf('"', i + 1);
      code += (end < 0 ? text.slice(i + 1) : text.slice(i + 1, end)).replace(/""/g, '"');
      i = end < 0 ? text.length : end + 1;
    } else {
      code += c;
      i += 1;
    }
  }
  const words = code.toLowerCase().trim();
  if (/;\s*\S/.test(words) || /;/.test(words.replace(/;\s*$/, ''))) throw new KernelSqlRefused('ctx.sql runs exactly one statement; remove the semicolons between statements', text);
  const first = /^[\s(]*([a-z]+)/.exec(words)?.[1] ?? '';
  if (!STATEMENT_START.has(first)) {
    throw new KernelSqlRefused(`ctx.sql runs read-only queries (SELECT, WITH, VALUES, TABLE), got ${JSON.stringify(first.toUpperCase())}; write spans with ctx.insertSpan`, text);
  }
  const forbidden = FORBIDDEN.exec(words.replace(/\s+/g, ''));
  if (forbidden) throw new KernelSqlRefused(`ctx.sql may not call ${forbidden[1]}…: kernels cannot change their session, run SQL text of their own or take locks`, text);
  return words;
}

/** Rows as plain JSON (timestamps as ISO strings, big integers as strings). */
function toJsonRows(rows: readonly Record<string, unknown>[]): unknown {
  return JSON.parse(JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
}

/** Runs one checked statement in a read-only savepoint of the caller's transaction, then undoes it. */
export async function runKernelSql(tx: Queryable, text: unknown, params: unknown, statementTimeoutMs: number): Promise<unknown> {
  checkKernelSql(text);
  if (params !== undefined && params !== null && !Array.isArray(params)) {
    throw new KernelSqlRefused('ctx.sql parameters must be an array ($1, $2, …)', String(text));
  }
  return readInSavepoint(tx, String(text), (params ?? []) as unknown[], statementTimeoutMs);
}

/** Layers 2 and 3 on their own: a read-only savepoint that is always rolled back. */
export async function readInSavepoint(tx: Queryable, text: string, params: readonly unknown[], statementTimeoutMs: number): Promise<unknown> {
  await tx.query('savepoint kernel_sql');
  try {
    await tx.query("select set_config('transaction_read_only', 'on', true), set_config('statement_timeout', $1, true)", [String(Math.max(1, Math.floor(statementTimeoutMs)))]);
    const rows = await tx.query(text, params);
    return toJsonRows(rows);
  } finally {
    await tx.query('rollback to savepoint kernel_sql');
    await tx.query('release savepoint kernel_sql');
  }
}
