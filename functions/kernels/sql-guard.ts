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

// PostgreSQL's lexer (scan.l): identifiers start with a letter, `_` or any non-ASCII character and go
// on with those, digits and `$`; a dollar-quote tag is the same without `$`.
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CONT = /[A-Za-z0-9_$\u0080-\uffff]/;
const TAG_CONT = /[A-Za-z0-9_\u0080-\uffff]/;

/**
 * The statement's words with comments, string literals and quotes removed, or a refusal. The text is
 * tokenised the way PostgreSQL does it (identifiers that contain `$`, E'' strings with backslash
 * escapes, nested comments, dollar quotes only where a token starts); anything it cannot tokenise with
 * certainty (an unterminated literal or comment, a `$` that is neither a parameter nor a dollar quote,
 * a number or parameter running into a name) is refused rather than guessed.
 */
export function checkKernelSql(text: unknown): string {
  if (typeof text !== 'string' || text.trim() === '') throw new KernelSqlRefused('ctx.sql needs the statement text as its first argument', String(text));
  if (text.length > MAX_SQL_TEXT) throw new KernelSqlRefused(`ctx.sql statements are limited to ${MAX_SQL_TEXT} characters`, text);
  if (/\bu&/i.test(text)) throw new KernelSqlRefused('ctx.sql refuses Unicode-escaped identifiers and strings (U&…)', text);
  const unclear = (what: string) => new KernelSqlRefused(`ctx.sql refuses text it cannot read with certainty: ${what}`, text);
  let code = '';
  let i = 0;
  const at = (k: number) => text[k] ?? '';
  while (i < text.length) {
    const c = at(i);
    const next = at(i + 1);
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end + 1;
      code += ' ';
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (at(i) === '/' && at(i + 1) === '*') { depth += 1; i += 2; }
        else if (at(i) === '*' && at(i + 1) === '/') { depth -= 1; i += 2; }
        else i += 1;
      }
      if (depth > 0) throw unclear('an unterminated /* comment');
      code += ' ';
    } else if (c === "'") {
      i = skipString(text, i, false, unclear);
      code += " '' ";
    } else if (IDENT_START.test(c)) {
      // A whole name, `$` included: `a$q$` is one identifier, not a name and a dollar quote.
      let end = i + 1;
      while (end < text.length && IDENT_CONT.test(at(end))) end += 1;
      const word = text.slice(i, end);
      if (at(end) === "'" && /^[eE]$/.test(word)) {
        // E'…': backslash escapes, so \' does not end it.
        i = skipString(text, end, true, unclear);
        code += " '' ";
      } else {
        code += word;
        i = end;
      }
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(next))) {
      let end = i + 1;
      while (end < text.length && /[0-9A-Za-z_.]/.test(at(end))) end += 1;
      if (at(end) === '$' || at(end) === "'" || at(end) === '"' || /[\u0080-\uffff]/.test(at(end))) throw unclear(`a number running into ${JSON.stringify(at(end))}`);
      code += text.slice(i, end);
      i = end;
    } else if (c === '$') {
      if (/[0-9]/.test(next)) {
        // A parameter: $ and digits, followed by something that is not part of a name.
        let end = i + 1;
        while (end < text.length && /[0-9]/.test(at(end))) end += 1;
        if (IDENT_CONT.test(at(end))) throw unclear(`a parameter running into ${JSON.stringify(at(end))}`);
        code += text.slice(i, end);
        i = end;
        continue;
      }
      // A dollar quote: $$ or $tag$ where tag is a letter or _ then letters, digits, _ (no $).
      let end = i + 1;
      if (IDENT_START.test(at(end))) {
        end += 1;
        while (end < text.length && TAG_CONT.test(at(end))) end += 1;
      }
      if (at(end) !== '$') throw unclear('a $ that is neither a parameter ($1) nor a dollar quote ($$ or $tag$)');
      const tag = text.slice(i, end + 1);
      const close = text.indexOf(tag, end + 1);
      if (close < 0) throw unclear(`an unterminated dollar-quoted string ${tag}`);
      i = close + tag.length;
      code += " '' ";
    } else if (c === '"') {
      // A quoted identifier is still a name: keep its letters so the checks below see it.
      let end = i + 1;
      let name = '';
      for (;;) {
        if (end >= text.length) throw unclear('an unterminated quoted identifier');
        if (at(end) === '"' && at(end + 1) === '"') { name += '"'; end += 2; }
        else if (at(end) === '"') break;
        else { name += at(end); end += 1; }
      }
      code += name;
      i = end + 1;
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

/**
 * The index after the string literal opening at `start` ('' is an escaped quote; in E'' strings \x is
 * too). A plain literal with a backslash right before a quote is refused: where that quote ends the
 * literal depends on standard_conforming_strings.
 */
function skipString(text: string, start: number, backslashes: boolean, unclear: (what: string) => Error): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (backslashes && c === '\\') i += 2;
    else if (c === "'" && !backslashes && text[i - 1] === '\\') throw unclear("a backslash before a quote in a '…' literal (write E'\\'' or '''')");
    else if (c === "'" && text[i + 1] === "'") i += 2;
    else if (c === "'") return i + 1;
    else i += 1;
  }
  throw unclear('an unterminated string literal');
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
