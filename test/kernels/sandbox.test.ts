import { blake3 } from '@noble/hashes/blake3.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { afterAll, describe, expect, test } from 'vitest';
import type { JsonValue } from '../../functions/ledger/index.ts';
import { createSandbox, type HostFunctions, type RunRequest, type RunResult, type SandboxLimits } from '../../functions/kernels/sandbox/index.ts';

const sandbox = createSandbox({ poolSize: 2 });
afterAll(() => sandbox.close());

const env = { user: 'user:alice', tenant: 'acme' };
/** A kernel whose main has `body` as its body. */
const kernel = (body: string) => `globalThis.default = async function main(ctx) {\n${body}\n};`;

interface FakeHost {
  readonly host: HostFunctions;
  readonly calls: { name: string; args: JsonValue[] }[];
}

function fakeHost(): FakeHost {
  const calls: FakeHost['calls'] = [];
  const record = (name: string, answer: (args: JsonValue[]) => JsonValue) => async (...args: JsonValue[]) => {
    calls.push({ name, args });
    return answer(args);
  };
  return {
    calls,
    host: {
      sql: record('sql', ([text, params]) => ({ rows: [{ text: text ?? null, params: params ?? null }] })),
      insertSpan: record('insertSpan', ([span]) => ({ id: `span-${calls.length}`, span: span ?? null })),
      boom: record('boom', () => {
        throw new TypeError('the host refused');
      }),
    },
  };
}

function run(code: string, limits: Partial<SandboxLimits> = {}, input: JsonValue = null, fake = fakeHost()): Promise<RunResult> {
  const request: RunRequest = { code, input, env, host: fake.host, limits };
  return sandbox.run(request);
}

function expectFailure(result: RunResult, code: string, message: RegExp): void {
  expect(result.ok ? result : result.error).toMatchObject({ code, message: expect.stringMatching(message) });
}

/** then: the host process and the pool still run a normal kernel correctly. */
async function expectHostIntact(): Promise<void> {
  const result = await run(kernel('return { doubled: ctx.input * 2, polluted: ({}).polluted ?? null };'), {}, 21);
  expect(result).toMatchObject({ ok: true, output: { doubled: 42, polluted: null } });
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('normal kernels', () => {
  test('the output is computed from ctx.input and ctx.env', async () => {
    // given a kernel that reads its input and environment
    const code = kernel('return { sum: ctx.input.a + ctx.input.b, who: ctx.env.user, tenant: ctx.env.tenant };');
    // when it runs
    const result = await run(code, {}, { a: 2, b: 3 });
    // then its return value is the output
    expect(result).toMatchObject({ ok: true, output: { sum: 5, who: 'user:alice', tenant: 'acme' }, hostCalls: 0 });
  });

  test('host functions are called with JSON arguments and their results come back', async () => {
    // given a kernel that queries and appends through ctx
    const fake = fakeHost();
    const code = kernel(`
      const { rows } = await ctx.sql('select $1::int as n', [7]);
      const appended = await ctx.insertSpan({ entityType: 'note', this: rows[0].text });
      return { rows, appended: appended.id };`);
    // when it runs
    const result = await run(code, {}, null, fake);
    // then the host saw both calls in order and the kernel got their answers
    expect(fake.calls).toEqual([
      { name: 'sql', args: ['select $1::int as n', [7]] },
      { name: 'insertSpan', args: [{ entityType: 'note', this: 'select $1::int as n' }] },
    ]);
    expect(result).toMatchObject({ ok: true, output: { rows: [{ text: 'select $1::int as n', params: [7] }], appended: 'span-2' }, hostCalls: 2 });
  });

  test('a host call the kernel did not await has ended when the run ends', async () => {
    // given a host call that takes a while, and a kernel that fires it and returns
    let ended = false;
    const host: HostFunctions = {
      slow: () => new Promise((resolve) => setTimeout(() => { ended = true; resolve(null); }, 100)),
    };
    // when the run ends
    const result = await sandbox.run({ code: kernel('ctx.slow(); return "returned";'), input: null, env, host });
    // then its output is there and the caller's session is free again
    expect(result).toMatchObject({ ok: true, output: 'returned', hostCalls: 1 });
    expect(ended).toBe(true);
    await expectHostIntact();
  });

  test('a kernel that returns nothing outputs null', async () => {
    expect(await run(kernel('await ctx.sql("select 1");'))).toMatchObject({ ok: true, output: null });
  });

  test('ctx.crypto and ctx.now agree with the host', async () => {
    // given a kernel using every helper
    const code = kernel(`return {
      blake3: ctx.crypto.blake3(ctx.input), hex: ctx.crypto.hex(ctx.input),
      uuid: ctx.crypto.randomUUID(), now: ctx.now() };`);
    // when it runs on a non-ASCII text
    const before = Date.now();
    const result = await run(code, {}, 'olá, kernel ✓');
    // then BLAKE3 matches @noble/hashes in the host, hex is the UTF-8, the rest are well formed
    expect(result.ok).toBe(true);
    const output = (result.ok ? result.output : {}) as Record<string, string>;
    expect(output.blake3).toBe(bytesToHex(blake3(utf8ToBytes('olá, kernel ✓'))));
    expect(output.hex).toBe(Buffer.from('olá, kernel ✓', 'utf8').toString('hex'));
    expect(output.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(output.now ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  test('ctx.crypto refuses what is not text', async () => {
    expectFailure(await run(kernel('return ctx.crypto.blake3({ not: "text" });')), 'KernelError', /TypeError: ctx\.crypto\.blake3\(text\) takes a string, got object/);
  });

  test('ctx and its env are frozen, and the prelude leaves nothing in kernel scope', async () => {
    const code = kernel(`
      try { ctx.env.user = 'user:mallory'; ctx.sql = async () => 'forged'; } catch {}
      return { frozen: [ctx, ctx.env, ctx.crypto].every(Object.isFrozen), user: ctx.env.user, sql: ctx.sql.name,
        leaked: ['bridge', 'call', 'ctx', 'parse', 'GUEST_PRELUDE'].filter((name) => name in globalThis) };`);
    expect(await run(code)).toMatchObject({ ok: true, output: { frozen: true, user: 'user:alice', sql: 'sql', leaked: [] } });
  });
});

describe('escape and abuse: each stops with a clear error and the host stays intact', () => {
  test('process, require, timers, fetch and WebAssembly do not exist in the guest', async () => {
    // given a kernel that looks for the host's globals
    const code = kernel(`return Object.fromEntries(['process', 'require', 'module', 'Buffer', 'global', 'setTimeout', 'setInterval',
      'fetch', 'WebAssembly', 'XMLHttpRequest', 'Deno', 'Bun'].map((name) => [name, typeof globalThis[name]]));`);
    // when it runs
    const result = await run(code);
    // then none is there
    expect(result.ok).toBe(true);
    expect(Object.values(result.ok ? (result.output as Record<string, string>) : {})).toEqual(Array(12).fill('undefined'));
    await expectHostIntact();
  });

  test('reaching process ends in a KernelError', async () => {
    expectFailure(await run(kernel('process.exit(1);')), 'KernelError', /ReferenceError: 'process' is not defined/);
    await expectHostIntact();
  });

  test('require ends in a KernelError', async () => {
    expectFailure(await run(kernel('return require("node:fs").readFileSync("/etc/passwd", "utf8");')), 'KernelError', /'require' is not defined/);
    await expectHostIntact();
  });

  test('import() of a host module fails', async () => {
    expectFailure(await run(kernel('const fs = await import("node:fs"); return Object.keys(fs);')), 'KernelError', /could not load module 'node:fs'/);
    await expectHostIntact();
  });

  test('globalThis holds only the language, no host object', async () => {
    // given a kernel listing every global name
    const result = await run(kernel('return Object.getOwnPropertyNames(globalThis);'));
    // then they are ECMAScript built-ins (and the kernel's own `default`)
    expect(result.ok).toBe(true);
    const names = result.ok ? (result.output as string[]) : [];
    expect(names).toEqual(expect.arrayContaining(['Object', 'Array', 'JSON', 'Promise', 'default']));
    for (const name of names) expect(name).toMatch(/^([A-Z]\w*|globalThis|default|parseInt|parseFloat|isNaN|isFinite|decodeURI|decodeURIComponent|encodeURI|encodeURIComponent|escape|unescape|undefined|NaN|Infinity)$/);
    expect(names).not.toContain('eval');
    await expectHostIntact();
  });

  test.each([
    ['Function("…")', 'return Function("return globalThis")();', /Function constructor is disabled/],
    ['new Function("…")', 'return new Function("return 1")();', /Function constructor is disabled/],
    ['(function(){}).constructor', 'return (function () {}).constructor("return process")();', /Function constructor is disabled/],
    ['(async function(){}).constructor', 'return await (async function () {}).constructor("return 1")();', /AsyncFunction constructor is disabled/],
    ['(function*(){}).constructor', 'return (function* () {}).constructor("yield 1")().next();', /GeneratorFunction constructor is disabled/],
    ['(async function*(){}).constructor', 'return (async function* () {}).constructor("yield 1");', /AsyncGeneratorFunction constructor is disabled/],
    ['eval', 'return eval("1 + 1");', /'eval' is not defined/],
    ['indirect eval', 'return (0, globalThis["ev" + "al"])("1");', /not a function/],
  ])('code generation through %s is refused', async (_name, body, message) => {
    expectFailure(await run(kernel(body)), 'KernelError', message);
    await expectHostIntact();
  });

  test('prototype pollution stays in the run that did it', async () => {
    // given a kernel that pollutes Object.prototype and breaks JSON
    const code = `Object.prototype.polluted = 'yes'; Array.prototype.map = () => 'hacked';
      globalThis.default = async function main(ctx) { JSON.stringify = () => '"hacked"'; return ({}).polluted; };`;
    // when it runs
    const result = await run(code);
    // then it saw its own pollution, but neither the host nor the next run does
    expect(result).toMatchObject({ ok: true, output: 'yes' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect([1].map((n) => n + 1)).toEqual([2]);
    await expectHostIntact();
  });

  test('while (true) {} ends in a Timeout', async () => {
    expectFailure(await run(kernel('while (true) {}'), { timeoutMs: 300 }), 'Timeout', /time limit of 300 ms/);
    await expectHostIntact();
  });

  test('an endless loop of awaited host calls ends in a Timeout', async () => {
    const fake = fakeHost();
    const result = await run(kernel('while (true) await ctx.sql("select 1");'), { timeoutMs: 300, maxHostCalls: 1_000_000 }, null, fake);
    expectFailure(result, 'Timeout', /time limit of 300 ms/);
    expect(fake.calls.length).toBeGreaterThan(0);
    await expectHostIntact();
  });

  test('a promise that never settles ends at once, not at the deadline', async () => {
    expectFailure(await run(kernel('await new Promise(() => {});')), 'KernelError', /never settles/);
    await expectHostIntact();
  });

  test("a doubling 'x'.repeat string bomb ends in a MemoryLimit", async () => {
    const result = await run(kernel('let s = ""; for (let n = 1e6; ; n *= 2) s = "x".repeat(n);'));
    expectFailure(result, 'MemoryLimit', /memory limit of 32 MiB/);
    await expectHostIntact();
  });

  test('a string concatenation bomb ends in a MemoryLimit', async () => {
    expectFailure(await run(kernel('let s = "x".repeat(1e6); while (true) s = s + s;')), 'MemoryLimit', /memory limit of 32 MiB/);
    await expectHostIntact();
  });

  test('an object array bomb ends in a MemoryLimit', async () => {
    const result = await run(kernel('const a = []; while (true) a.push({ i: a.length, s: "item " + a.length });'), { memoryBytes: 8 * 1024 * 1024 });
    expectFailure(result, 'MemoryLimit', /memory limit of 8 MiB/);
    await expectHostIntact();
  });

  test('a host result larger than the memory limit ends in a MemoryLimit', async () => {
    const host: HostFunctions = { huge: async () => 'y'.repeat(3_000_000) };
    const result = await sandbox.run({ code: kernel('return (await ctx.huge()).length;'), input: null, env, host, limits: { memoryBytes: 2 * 1024 * 1024 } });
    expectFailure(result, 'MemoryLimit', /memory limit of 2 MiB.*a host call returned 3000002 characters/);
    await expectHostIntact();
  });

  test('deep recursion ends in a StackOverflow', async () => {
    expectFailure(await run(kernel('function down(n) { return down(n + 1) + 1; } return down(0);')), 'StackOverflow', /stack/);
    await expectHostIntact();
  });

  test('a huge return value ends in OutputTooLarge', async () => {
    const result = await run(kernel('return "x".repeat(2e6);'), { maxOutputBytes: 64 * 1024 });
    expectFailure(result, 'OutputTooLarge', /2000002 bytes of JSON, more than the limit of 64 KiB/);
    await expectHostIntact();
  });

  test('a value with no JSON form ends in OutputNotJson', async () => {
    expectFailure(await run(kernel('return { big: 10n };')), 'OutputNotJson', /BigInt/);
    expectFailure(await run(kernel('const a = {}; a.self = a; return a;')), 'OutputNotJson', /circular/);
    await expectHostIntact();
  });

  test('a flood of insertSpan calls stops at maxHostCalls', async () => {
    // given a kernel appending spans in a loop, with a limit of 25 host calls
    const fake = fakeHost();
    const code = kernel('for (let i = 0; i < 10000; i += 1) await ctx.insertSpan({ i });');
    // when it runs
    const result = await run(code, { maxHostCalls: 25 }, null, fake);
    // then the host served exactly 25 calls and the run failed naming the limit
    expectFailure(result, 'HostCallLimit', /more than 25 host calls \(maxHostCalls\)/);
    expect(result.hostCalls).toBe(25);
    expect(fake.calls).toHaveLength(25);
    await expectHostIntact();
  });

  test('a kernel that catches the host-call limit error still fails with it', async () => {
    const fake = fakeHost();
    const code = kernel('for (let i = 0; i < 100; i += 1) { try { await ctx.insertSpan({ i }); } catch {} } return "escaped";');
    const result = await run(code, { maxHostCalls: 10 }, null, fake);
    expectFailure(result, 'HostCallLimit', /more than 10 host calls/);
    expect(fake.calls).toHaveLength(10);
    await expectHostIntact();
  });

  test('an oversized host-call argument is refused before the host sees it', async () => {
    const fake = fakeHost();
    const result = await run(kernel('return ctx.insertSpan({ this: "x".repeat(100000) });'), { maxHostArgumentBytes: 1024 }, null, fake);
    expectFailure(result, 'HostCallLimit', /arguments of ctx\.insertSpan are \d+ bytes of JSON, more than the limit of 1 KiB/);
    expect(fake.calls).toHaveLength(0);
    await expectHostIntact();
  });

  test('a host function that throws: caught by the kernel, or a KernelError', async () => {
    // when the kernel catches the host's error, it sees its name and message
    const caught = await run(kernel('try { await ctx.boom(); } catch (e) { return [e.name, e.message]; }'));
    expect(caught).toMatchObject({ ok: true, output: ['TypeError', 'the host refused'] });
    // when it does not, the run fails with it
    expectFailure(await run(kernel('await ctx.boom();')), 'KernelError', /TypeError: the host refused/);
    await expectHostIntact();
  });

  test('a kernel that throws ends in a KernelError with its message', async () => {
    expectFailure(await run(kernel('throw new RangeError("bad input " + ctx.input);'), {}, 7), 'KernelError', /^RangeError: bad input 7$/);
    await expectHostIntact();
  });

  test('a syntax error ends in SyntaxError', async () => {
    expectFailure(await run('globalThis.default = async function main(ctx) { return {;'), 'SyntaxError', /does not parse/);
    await expectHostIntact();
  });

  test('code without an entry point ends in NoEntryPoint', async () => {
    expectFailure(await run('const main = async () => 1;'), 'NoEntryPoint', /must set globalThis\.default.*not set/);
    expectFailure(await run('globalThis.default = 42;'), 'NoEntryPoint', /it is a number/);
    const throwingGetter = "Object.defineProperty(globalThis, 'default', { get() { throw new Error('no main for you'); } });";
    expectFailure(await run(throwingGetter), 'KernelError', /Error: no main for you/);
    await expectHostIntact();
  });
});

describe('the pool', () => {
  test('more concurrent runs than workers all complete with their own results', async () => {
    // given 12 runs on a pool of 2, each awaiting a slow host call
    const slow: HostFunctions = { sql: async (...args) => new Promise((resolve) => setTimeout(() => resolve(args), 10)) };
    const code = kernel('const [n] = await ctx.sql(ctx.input); return { n, square: n * n, user: ctx.env.user };');
    // when they run at once
    const results = await Promise.all(Array.from({ length: 12 }, (_, n) => sandbox.run({ code, input: n, env, host: slow })));
    // then each got its own input back
    expect(results.map((result) => (result.ok ? result.output : result.error))).toEqual(
      Array.from({ length: 12 }, (_, n) => ({ n, square: n * n, user: 'user:alice' })),
    );
  });

  test('runs waiting for a worker start in arrival order', async () => {
    // given a pool of one worker and a host function recording who ran
    const own = createSandbox({ poolSize: 1 });
    const order: JsonValue[] = [];
    const host: HostFunctions = {
      mark: async (who) => {
        order.push(who ?? null);
        return null;
      },
    };
    // when five runs are submitted at once
    const code = kernel('await ctx.mark(ctx.input); return ctx.input;');
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((input) => own.run({ code, input, env, host })));
    await own.close();
    // then they ran one after another, first come first served
    expect(results.map((result) => result.ok && result.output)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('a run started from a host call does not wait for the worker its caller holds', async () => {
    // given a pool of one worker, and a host function that runs another kernel (as evaluatePolicy does)
    const own = createSandbox({ poolSize: 1 });
    const host: HostFunctions = {
      evaluate: async (n) => {
        const inner = await own.run({ code: kernel('return ctx.input * 10;'), input: n ?? null, env, host: {}, limits: { maxHostCalls: 0 } });
        return inner.ok ? inner.output : inner.error.code;
      },
    };
    // when the outer kernel calls it twice (each inner run may wait for a worker to start: the outer
    // run's deadline covers those starts, so it gets a generous one)
    const outer = await own.run({ code: kernel('return [await ctx.evaluate(1), await ctx.evaluate(2)];'), input: null, env, host, limits: { timeoutMs: 30_000 } });
    await own.close();
    // then both inner runs completed inside the outer one
    expect(outer).toMatchObject({ ok: true, output: [10, 20], hostCalls: 2 });
  });

  test('close() ends a run in flight with SandboxFailure, and later runs too', async () => {
    // given a separate sandbox running an endless kernel
    const own = createSandbox({ poolSize: 1 });
    const inFlight = own.run({ code: kernel('while (true) await ctx.sql("x");'), input: null, env, host: fakeHost().host, limits: { maxHostCalls: 1e9 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // when it is closed
    await own.close();
    // then the run ended with SandboxFailure, and so does a new one
    expectFailure(await inFlight, 'SandboxFailure', /closed/);
    expectFailure(await own.run({ code: kernel('return 1;'), input: null, env, host: {} }), 'SandboxFailure', /closed/);
  });

  test('a worker script that cannot start fails the run instead of hanging', async () => {
    const broken = createSandbox({ poolSize: 1, workerScript: '/nonexistent/kernel-worker.js' });
    expectFailure(await broken.run({ code: kernel('return 1;'), input: null, env, host: {} }), 'SandboxFailure', /could not start/);
    await broken.close();
  });

  test('a time limit beyond what a timer can hold does not fire at once', async () => {
    expect(await run(kernel('await ctx.sql("select 1"); return "done";'), { timeoutMs: 3_000_000_000 })).toMatchObject({ ok: true, output: 'done' });
  });

  test('bad limits and host names are refused before anything runs', async () => {
    expectFailure(await run(kernel('return 1;'), { timeoutMs: -1 }), 'SandboxFailure', /limits\.timeoutMs must be an integer of at least 1, got -1/);
    const reserved = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: { env: async () => null } });
    expectFailure(reserved, 'SandboxFailure', /"env" cannot be a ctx member/);
  });
});
