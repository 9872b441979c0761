import { describe, expect, test } from 'vitest';
import { lazySandbox } from '../../functions/api/kernels/data-source.ts';
import type { RunRequest, Sandbox } from '../../functions/kernels/sandbox/index.ts';

/* The kernels data source's pool starts with the first run: a server that never runs a kernel starts no worker. */

function counting() {
  const made = { pools: 0, runs: 0, closed: 0 };
  const create = (): Sandbox => {
    made.pools += 1;
    return {
      run: async () => {
        made.runs += 1;
        return { ok: true, output: made.runs, durationMs: 0, hostCalls: 0 };
      },
      close: async () => {
        made.closed += 1;
      },
    };
  };
  return { made, create };
}

const request: RunRequest = { code: 'globalThis.default = async () => 1;', input: null, env: { user: 'user:lazy', tenant: null }, host: {} };

describe('the lazy sandbox', () => {
  test('makes no pool until the first run, then one pool for every run', async () => {
    const { made, create } = counting();
    const sandbox = lazySandbox(create);
    expect(made.pools).toBe(0);
    expect(await sandbox.run(request)).toMatchObject({ ok: true, output: 1 });
    expect(await sandbox.run(request)).toMatchObject({ ok: true, output: 2 });
    expect(made.pools).toBe(1);
    await sandbox.close();
    expect(made.closed).toBe(1);
  });

  test('closing one that never ran starts nothing, and a run after close fails without starting a pool', async () => {
    const { made, create } = counting();
    const sandbox = lazySandbox(create);
    await sandbox.close();
    expect(await sandbox.run(request)).toMatchObject({ ok: false, error: { code: 'SandboxFailure', message: expect.stringMatching(/closed/) } });
    expect(made).toEqual({ pools: 0, runs: 0, closed: 0 });
  });
});
