import { describe, expect, test } from 'vitest';
import { createSandbox, type RunResult } from '../../functions/kernels/sandbox/index.ts';

const env = { user: 'user:alice', tenant: 'acme' };
const kernel = (body: string) => `globalThis.default = async function main(ctx) {\n${body}\n};`;

/** A worker script as a data: URL: speaks the protocol just far enough to misbehave on a run. */
const fakeWorker = (onRun: string) =>
  new URL(
    `data:text/javascript,${encodeURIComponent(`import { parentPort } from 'node:worker_threads';
      parentPort.postMessage({ type: 'ready' });
      parentPort.on('message', (message) => { if (message.type === 'run') { ${onRun} } });`)}`,
  );

function expectFailure(result: RunResult, code: string, message: RegExp): void {
  expect(result.ok ? result : result.error).toMatchObject({ code, message: expect.stringMatching(message) });
}

describe('the boundary itself failing never takes the host down', () => {
  test('a worker that throws during a run ends the run with SandboxFailure', async () => {
    // given a sandbox whose worker throws when given a run
    const sandbox = createSandbox({ poolSize: 1, workerScript: fakeWorker("throw new Error('engine exploded');") });
    // when two runs go through it
    const first = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {} });
    const second = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {} });
    await sandbox.close();
    // then each ended with SandboxFailure naming the cause (the second on a replacement worker)
    expectFailure(first, 'SandboxFailure', /engine exploded/);
    expectFailure(second, 'SandboxFailure', /engine exploded/);
  });

  test('a worker that dies before it is ready fails the run once, without a restart loop', async () => {
    const sandbox = createSandbox({ poolSize: 2, workerScript: new URL(`data:text/javascript,${encodeURIComponent('process.exit(2);')}`) });
    const result = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {} });
    await sandbox.close();
    expectFailure(result, 'SandboxFailure', /could not start.*code 2/);
  });

  test('a worker script the Worker constructor refuses fails the run, not the host', async () => {
    const sandbox = createSandbox({ poolSize: 1, workerScript: new URL('https://example.com/kernel-worker.js') });
    const result = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {} });
    await sandbox.close();
    expectFailure(result, 'SandboxFailure', /could not start/);
  });

  test('a worker that exits during a run ends the run with SandboxFailure', async () => {
    const sandbox = createSandbox({ poolSize: 1, workerScript: fakeWorker('process.exit(3);') });
    const result = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {} });
    await sandbox.close();
    expectFailure(result, 'SandboxFailure', /exited \(code 3\)/);
  });

  test('a worker that never answers is killed at the deadline with a Timeout', async () => {
    const sandbox = createSandbox({ poolSize: 1, workerScript: fakeWorker('/* silence */') });
    const result = await sandbox.run({ code: kernel('return 1;'), input: null, env, host: {}, limits: { timeoutMs: 200 } });
    await sandbox.close();
    expectFailure(result, 'Timeout', /time limit of 200 ms/);
  });

  test('a host function that never settles ends the run with a Timeout', async () => {
    // given the real worker and a host call that hangs
    const sandbox = createSandbox({ poolSize: 1 });
    const host = { hang: () => new Promise<never>(() => {}) };
    // when a kernel awaits it, and another kernel runs after
    const hung = await sandbox.run({ code: kernel('return await ctx.hang();'), input: null, env, host, limits: { timeoutMs: 300 } });
    const next = await sandbox.run({ code: kernel('return ctx.input;'), input: 'fine', env, host: {} });
    await sandbox.close();
    // then the first timed out, with its one host call counted, and the pool still works
    expectFailure(hung, 'Timeout', /time limit of 300 ms/);
    expect(hung.hostCalls).toBe(1);
    expect(next).toMatchObject({ ok: true, output: 'fine' });
  });
});
