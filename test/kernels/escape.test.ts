import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKernelApi, type KernelTestApi } from './support.ts';

/*
 * The escape and abuse suite, end to end through runKernel: every attempt ends as an execution span
 * with a clear error, nothing the run wrote stays behind, and the server keeps serving.
 */

let api: KernelTestApi;
let alice: Record<string, string>;
let mallory: Record<string, string>;
let admin: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  alice = await api.user('alice', 'acme');
  mallory = await api.user('mallory', 'evil');
  admin = await api.user('root', null, ['admin']);
});
afterAll(() => api.close());

async function publishTimeout(timeoutMs: number): Promise<void> {
  const published = await api.gql(admin, `mutation { publishManifest(input: { timeoutMs: ${timeoutMs} }) { timeoutMs } }`);
  expect(published.errors).toBeUndefined();
}

/**
 * Runs that must succeed get the manifest's usual limit (10 s: a loaded machine is slow); a runaway
 * that can only end at the deadline gets a short one of its own, for that run alone.
 */
async function withShortTimeout<T>(fn: () => Promise<T>): Promise<T> {
  await publishTimeout(1500);
  try {
    return await fn();
  } finally {
    await publishTimeout(10_000);
  }
}

const kernel = (body: string) => `globalThis.default = async function main(ctx) { ${body} };`;

async function runAs(headers: Record<string, string>, name: string, body: string, input: unknown = null) {
  const { id } = await api.define(headers, name, kernel(body));
  const result = await api.run(headers, id, input);
  expect(result.errors).toBeUndefined();
  return { id, ...result.data! };
}

async function expectHostIntact(): Promise<void> {
  const { status, output } = await runAs(alice, 'still_alive', 'return 6 * 7;');
  expect(status).toBe('complete');
  expect(JSON.parse(output ?? 'null')).toBe(42);
}

const errorOf = (run: { execution: { error: string | null } | null }) => JSON.parse(run.execution?.error ?? 'null') as { code: string; message: string };

describe('a kernel cannot reach the host', () => {
  test.each([
    ['process', 'return process.pid;', /'?process'? is not defined/],
    ['require', "return require('node:fs').readFileSync('/etc/passwd', 'utf8');", /'?require'? is not defined/],
    ['dynamic import', "const fs = await import('node:fs'); return String(fs);", /^ReferenceError: could not load module 'node:fs'$/],
    ['globalThis host objects', 'return globalThis.process.mainModule.require("child_process");', /undefined|cannot read/i],
    ['the Function constructor', "return (function () {}).constructor('return process')().pid;", /constructor is disabled/],
    ['Function via an async function', "return (async function () {}).constructor('return 1')();", /constructor is disabled/],
    ['eval', "return eval('1 + 1');", /'?eval'? is not defined|not a function/],
  ])('%s ends as a kernel error', async (_case, body, message) => {
    // Given a kernel that reaches for the host
    // When it runs
    const run = await runAs(alice, 'escape', body);
    // Then the execution span records the failure and the host is untouched
    expect(run.status).toBe('error');
    expect(run.execution?.status).toBe('error');
    expect(errorOf(run).code).toBe('KernelError');
    expect(errorOf(run).message).toMatch(message);
    await expectHostIntact();
  });

  test('host prototypes cannot be polluted', async () => {
    const run = await runAs(alice, 'pollute', "Object.prototype.polluted = 'yes'; Array.prototype.map = null; JSON.parse = null; await ctx.sql('select 1 as one'); return ({}).polluted;");
    expect(run.status).toBe('complete');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect([1].map((x) => x + 1)).toEqual([2]);
    await expectHostIntact();
  });
});

describe('limits stop runaways', () => {
  test.each([
    // only the deadline stops it: a short limit for this run
    ['an infinite loop', 'while (true) {}', ['Timeout'], true],
    // the others hit their own limit long before the usual deadline
    ['an infinite async loop on the host', "for (;;) await ctx.sql('select 1 as one');", ['Timeout', 'HostCallLimit'], false],
    ['a memory bomb', "const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length);", ['MemoryLimit', 'Timeout'], false],
    ['deep recursion', 'function f(n) { return f(n + 1) + 1; } return f(0);', ['StackOverflow'], false],
    ['a huge return value', "return 'x'.repeat(8 * 1024 * 1024);", ['OutputTooLarge', 'MemoryLimit'], false],
  ])('%s', async (_case, body, codes, short) => {
    const run = short ? await withShortTimeout(() => runAs(alice, 'runaway', body)) : await runAs(alice, 'runaway', body);
    expect(run.status).toBe('error');
    expect(codes).toContain(errorOf(run).code);
    expect(errorOf(run).message).not.toBe('');
    await expectHostIntact();
  });

  test('a flood of insertSpan is cut off and none of it stays', async () => {
    const run = await runAs(alice, 'flood', "for (let i = 0; ; i++) await ctx.insertSpan({ entityType: 'flood', did: 'wrote', this: 'row ' + i });");
    expect(run.status).toBe('error');
    expect(['HostCallLimit', 'Timeout']).toContain(errorOf(run).code);
    const [row] = await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type = 'flood'"));
    expect(row?.n).toBe(0);
    await expectHostIntact();
  });
});

describe('ctx.sql reads only what the caller could', () => {
  test("another tenant's private span is invisible, as through the API", async () => {
    const { data } = await api.gql<{ appendSpan: { id: string } }>(alice, 'mutation { appendSpan(input: { entityType: "note", who: "user:alice", did: "wrote", this: "secret" }) { id } }');
    const secret = data!.appendSpan.id;
    const run = await runAs(mallory, 'peek', 'return await ctx.sql("select id, \\"this\\" from ledger.universal_registry where id = $1", [ctx.input]);', secret);
    expect(run.status).toBe('complete');
    expect(JSON.parse(run.output ?? 'null')).toEqual([]);
  });

  test.each([
    ['set_config on the identity', "select set_config('app.user_id', $1, true)"],
    ['set_config on the role', "select set_config('role', 'postgres', false)"],
    ['a quoted set_config', `select "set_config"('app.tenant_id', $1, true)`],
    ['a schema-qualified set_config behind a comment', "select pg_catalog.set_config/* hi */('app.user_id', $1, true)"],
    ['reset role', 'reset role'],
    ['set local role', 'set local role postgres'],
    ['set session authorization', 'set session authorization postgres'],
    ['a second statement', "select 1; select set_config('app.user_id', 'x', true)"],
    ['a write', "insert into ledger.universal_registry (id, seq) values ('00000000-0000-4000-8000-0000000000aa', 0)"],
    ['a write inside WITH', "with x as (delete from ledger.universal_registry returning id) select * from x"],
    ['transaction control', 'commit'],
    ['DDL', 'create table stolen as select * from ledger.universal_registry'],
    ['SQL text run by a function', "select query_to_xml('select * from ledger.universal_registry', true, false, '')"],
    ['an advisory lock', 'select pg_advisory_xact_lock(1)'],
    ['row locks', 'select id from ledger.universal_registry for update'],
  ])('%s is refused and the session keeps its identity', async (_case, sql) => {
    const { data } = await api.gql<{ appendSpan: { id: string } }>(alice, 'mutation { appendSpan(input: { entityType: "note", who: "user:alice", did: "wrote", this: "private" }) { id } }');
    const target = data!.appendSpan.id;
    const run = await runAs(mallory, 'escalate', `
      let refused = null;
      try { await ctx.sql(ctx.input.sql, ctx.input.sql.includes('$1') ? [ctx.input.victim] : []); } catch (e) { refused = e.message; }
      const who = await ctx.sql("select current_user as role, ledger.current_user_id() as uid, ledger.current_tenant_id() as tid");
      const seen = await ctx.sql('select id from ledger.universal_registry where id = $1', [ctx.input.target]);
      if (refused === null) throw new Error('the statement was not refused');
      return { refused, who: who[0], seen: seen.length };`, { sql, victim: 'alice', target });
    expect(run.status).toBe('complete');
    const output = JSON.parse(run.output ?? 'null') as { refused: string; who: { role: string; uid: string; tid: string }; seen: number };
    expect(output.refused).not.toBe('');
    expect(output.who.role).toBe('loglineos_api');
    expect(output.who.uid).toMatch(/^mallory-/);
    expect(output.who.tid).toMatch(/^evil-/);
    expect(output.seen).toBe(0);
  });

  test('a failed statement does not break the run: the kernel can catch it and go on', async () => {
    const run = await runAs(alice, 'recover', "try { await ctx.sql('select * from no_such_table'); } catch (e) { } const r = await ctx.sql('select 2 as two'); return r[0].two;");
    expect(run.status).toBe('complete');
    expect(JSON.parse(run.output ?? 'null')).toBe(2);
  });
});
