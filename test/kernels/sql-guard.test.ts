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
  ])('refuses %j', (sql, message) => {
    expect(() => checkKernelSql(sql)).toThrow(message);
  });
});
