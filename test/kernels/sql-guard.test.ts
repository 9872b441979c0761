import { describe, expect, test } from 'vitest';
import { checkKernelSql } from '../../functions/kernels/sql-guard.ts';

describe('the ctx.sql statement check', () => {
  test.each([
    'select 1',
    '  ( select 1 )',
    "with x as (select 1 as a) select a from x",
    "select 'set_config(1)' as text_mentions_it_only, $1::text",
    'select $tag$ reset role; $tag$ as literal',
    'select 1; ',
    '-- a comment\nselect 1 /* nested /* comment */ */',
    'select 1 as a$b, a$1 from (select 2 as a$1) s',
    "select E'it\\'s' as escaped, 'C:\\dir' as path",
    'select $1::int + 2.5e3 as n',
  ])('allows the read %j', (sql) => {
    expect(() => checkKernelSql(sql)).not.toThrow();
  });

  test.each([
    ['update ledger.universal_registry set code = null', /read-only queries/],
    ["select set_config('role', 'postgres', true)", /set_config/],
    ['select "SET_CONFIG"(\'role\', \'x\', true)', /set_config/],
    ["select pg_catalog . set_config ('role', 'x', true)", /set_config/],
    ['select U&"set\\005fconfig"(\'role\', \'x\', true)', /Unicode/],
    ['select 1; select 2', /exactly one statement/],
    ["select 1 /* ; */ ; reset role", /exactly one statement/],
    ["select ts_stat('select 1')", /ts_stat/],
    ["select cursor_to_xml('c', 1, true, false, '')", /_to_xml/],
    ['select pg_try_advisory_xact_lock(1)', /advisory/],
    ['select pg_sleep(10)', /pg_sleep/],
    ['', /statement text/],
    // `x$q$` is one identifier to PostgreSQL, not a name and a dollar quote: set_config is code here
    ["select r.owner_id, r.content from ledger.universal_registry r where (select 1 as x$q$ from (select set_config('app.user_id','victim',true)) s)=1 and 'y$q$'<>''", /set_config/],
    ['select 1 as a$q$; rollback to savepoint kernel_sql; reset role; alter table ledger.universal_registry disable trigger registry_append_only; create table ledger.pwned as select current_user; commit; select 1 as b$q$', /exactly one statement/],
    // E'' strings end where PostgreSQL ends them: \' does not close one
    ["select E'\\'', set_config('app.user_id', 'victim', true), ''", /set_config/],
    ["select '\\'', set_config('app.user_id', 'victim', true), ''", /cannot read with certainty/],
    ['select 1$q$ x $q$', /cannot read with certainty/],
    ['select $1$q$ x $q$', /cannot read with certainty/],
    ['select $q$ never closed', /cannot read with certainty/],
    ['select $ 1', /cannot read with certainty/],
    ["select 'open", /cannot read with certainty/],
    ['select 1 /* open', /cannot read with certainty/],
    ['select "open', /cannot read with certainty/],
  ])('refuses %j', (sql, message) => {
    expect(() => checkKernelSql(sql)).toThrow(message);
  });
});
