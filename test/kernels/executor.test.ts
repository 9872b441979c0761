import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CORE_KERNELS } from '../../functions/kernels/ids.ts';
import { appendSpan, signerFromSeed } from '../../functions/ledger/index.ts';
import { backend } from '../support/ledger.ts';
import { startKernelApi, type KernelTestApi } from './support.ts';

/*
 * The executor on the configured backend (on PostgreSQL runs really overlap; PGlite is one session, so
 * they queue): one run of a function at a time, a daily quota that concurrent runs cannot overrun,
 * slow runs marked, and a quota override only for requests signed by the manifest's key.
 */

let api: KernelTestApi;
let admin: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  admin = await api.user('root', null, ['admin']);
});
afterAll(() => api.close());

const BUSY = (ms: number) => `globalThis.default = async function main(ctx) { const start = Date.now(); while (Date.now() - start < ${ms}) {} return ctx.input; };`;

async function publish(input: string): Promise<void> {
  const { errors } = await api.gql(admin, `mutation { publishManifest(input: { ${input} }) { seq } }`);
  expect(errors).toBeUndefined();
}

async function count(entityType: string, tenant: string): Promise<number> {
  const [row] = await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>('select count(*)::int as n from ledger.universal_registry where entity_type = $1 and tenant_id = $2', [entityType, tenant]));
  return Number(row?.n);
}

describe('one run of a function at a time', () => {
  test('20 concurrent runs: the ones that ran never overlapped, the others were told it is busy', async () => {
    const carol = await api.user('carol', 'lockco');
    const { id } = await api.define(carol, 'one_at_a_time', BUSY(150));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => api.run(carol, id, { i })));
    const ran = results.filter((r) => r.data?.status === 'complete');
    const busy = results.filter((r) => r.errors?.[0]?.errorType === 'KernelBusy');
    expect(ran.length + busy.length).toBe(20);
    expect(ran.length).toBeGreaterThanOrEqual(1);
    if (backend === 'postgres') expect(busy.length).toBeGreaterThan(0);
    for (const refused of busy) expect(refused.errors?.[0]?.message).toMatch(/already running/);
    const intervals = await api.ledger.db.withOwner((tx) =>
      tx.query<{ started_at: Date; finished_at: Date }>("select started_at, finished_at from ledger.universal_registry where entity_type = 'execution' and parent_id = $1 order by started_at", [id]),
    );
    expect(intervals.length).toBe(ran.length);
    for (let i = 1; i < intervals.length; i += 1) {
      expect(intervals[i]!.started_at.getTime()).toBeGreaterThanOrEqual(intervals[i - 1]!.finished_at.getTime());
    }
  });
});

describe('slow runs', () => {
  test('a run past slow_ms gets a status_patch marking its execution slow; one within it does not', async () => {
    const dave = await api.user('dave', 'slowco');
    const patches = async (executionId: string | undefined) =>
      api.ledger.db.withOwner((tx) => tx.query<{ status: string; metadata: { slow_ms: number } }>("select status, metadata from ledger.universal_registry where entity_type = 'status_patch' and parent_id = $1", [executionId]));
    await publish('slowMs: 50');
    let slowRun;
    try {
      slowRun = await api.run(dave, (await api.define(dave, 'slow', BUSY(120))).id);
    } finally {
      await publish('slowMs: 60000');
    }
    expect(slowRun.data?.status).toBe('complete');
    expect(await patches(slowRun.data?.execution?.id)).toEqual([{ status: 'slow', metadata: expect.objectContaining({ slow_ms: 50 }) }]);
    const fast = await api.run(dave, (await api.define(dave, 'fast', BUSY(0))).id);
    expect(fast.data?.status).toBe('complete');
    expect(await patches(fast.data?.execution?.id)).toEqual([]);
    await publish('slowMs: 5000');
  });
});

describe('the daily quota', () => {
  // PGlite is a single session: nothing else can hold the quota lock while a run waits for it.
  if (backend === 'postgres') {
    test("a run that cannot get its tenant's quota lock in time is told it is busy, not left holding a connection", async () => {
      const kate = await api.user('kate', 'waitco');
      const { id } = await api.define(kate, 'patient', BUSY(0));
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let held: () => void = () => undefined;
      const heldYet = new Promise<void>((resolve) => (held = resolve));
      // Given another session holds the tenant's quota lock, and runs may wait 2 × 200 ms for it
      const holder = api.ledger.db.withOwner(async (tx) => {
        await tx.query("select pg_advisory_xact_lock(hashtextextended('kernels.quota:' || $1, 0))", [`waitco-${api.suffix}`]);
        held();
        await gate;
      });
      let run: Awaited<ReturnType<KernelTestApi['run']>> | undefined;
      try {
        await heldYet;
        await publish('timeoutMs: 200');
        // When a run of that tenant comes in
        run = await api.run(kate, id);
      } finally {
        release();
        await holder;
        // The short limit only shortens the wait: the run that must succeed gets the usual one
        await publish('timeoutMs: 10000');
      }
      // Then it gives up after twice the run timeout, and runs normally afterwards
      expect(run?.errors?.[0]?.errorType).toBe('KernelBusy');
      expect(run?.errors?.[0]?.message).toMatch(/queue for its daily quota/);
      expect((await api.run(kate, id)).data?.status).toBe('complete');
    });
  }

  test('a tenant limited to 10 sending 30 concurrent runs gets exactly 10 executions and 20 policy violations', async () => {
    await publish('perTenantDailyExecLimit: 10');
    const tenant = `quota-${api.suffix}`;
    const users = await Promise.all(Array.from({ length: 3 }, (_, i) => api.user(`q${i}`, 'quota')));
    const kernels: { headers: Record<string, string>; id: string }[] = [];
    for (let i = 0; i < 30; i += 1) {
      const headers = users[i % 3]!;
      kernels.push({ headers, id: (await api.define(headers, `quota_${i}`, BUSY(5))).id });
    }
    const results = await Promise.all(kernels.map(({ headers, id }) => api.run(headers, id)));
    expect(results.filter((r) => r.data?.status === 'complete')).toHaveLength(10);
    const refused = results.filter((r) => r.errors?.[0]?.errorType === 'QuotaExceeded');
    expect(refused).toHaveLength(20);
    expect(refused[0]?.errors?.[0]?.message).toMatch(/used its 10 kernel executions for today/);
    expect(await count('execution', tenant)).toBe(10);
    expect(await count('policy_violation', tenant)).toBe(20);
  });

  test('a function with an id in the reserved range cannot be defined, and one written there anyway is counted', async () => {
    const fay = await api.user('fay', 'freeco');
    const reserved = `00000000-0000-4000-8000-0000000000${randomBytes(1).toString('hex').replace(/^0/, 'a')}`;
    // defineKernel refuses the system's id range to anyone else
    const defined = await api.gql(fay, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id } }', { input: { id: reserved, name: 'free_runs', code: BUSY(0) } });
    expect(defined.errors?.[0]?.errorType).toBe('ValidationError');
    expect(defined.errors?.[0]?.message).toMatch(/reserved for the system/);
    // Given such a function appended straight through the ledger, and a limit of one run a day
    await appendSpan(api.ledger, api.identity('fay', 'freeco'), { id: reserved, entityType: 'function', who: 'user:fay', did: 'defined', this: 'kernel free_runs', name: 'free_runs', code: BUSY(0), status: 'active' });
    await publish('perTenantDailyExecLimit: 1');
    try {
      // Then its runs are counted like any other function's
      expect((await api.run(fay, reserved)).data?.status).toBe('complete');
      expect((await api.run(fay, reserved)).errors?.[0]?.errorType).toBe('QuotaExceeded');
    } finally {
      await publish('perTenantDailyExecLimit: 100');
    }
  });

  test("a request with metadata.force passes the quota only when signed by the manifest's override key", async () => {
    const overrideSeed = randomBytes(32).toString('hex');
    const override = signerFromSeed(overrideSeed, 'override');
    await publish(`perTenantDailyExecLimit: 0, overridePubkeyHex: "${override.publicKeyHex}"`);
    try {
      const erin = await api.user('erin', 'forceco');
      const identity = api.identity('erin', 'forceco');
      const { id } = await api.define(erin, 'urgent', BUSY(0));
      const request = (signer: typeof override | undefined) =>
        appendSpan({ db: api.ledger.db, ...(signer ? { signer } : {}) }, identity, {
          entityType: 'request', who: 'user:erin', did: 'scheduled', this: 'urgent', parentId: id, status: 'scheduled', input: { go: true }, metadata: { force: true },
        });
      const forged = await request(api.ledger.signer); // force, but signed by the deployment key
      const forced = await request(override);
      for (const req of [forged, forced]) {
        const run = await api.run(erin, CORE_KERNELS.request_worker, { request_id: req.id }, 'bootKernel');
        expect(run.data?.status).toBe('complete');
      }
      const statuses = await api.ledger.db.withOwner((tx) =>
        tx.query<{ id: string; status: string; error: { code: string } | null }>('select distinct on (id) id, status, error from ledger.universal_registry where id = any($1::uuid[]) order by id, seq desc', [[forged.id, forced.id]]),
      );
      const byId = new Map(statuses.map((row) => [row.id, row]));
      expect(byId.get(forced.id)?.status).toBe('complete');
      expect(byId.get(forged.id)).toMatchObject({ status: 'error', error: { code: 'QuotaExceeded' } });

      // When erin schedules the completed forced request again (a new version, status scheduled)
      const [latest] = await api.ledger.db.withOwner((tx) => tx.query<{ seq: number }>('select max(seq)::int as seq from ledger.universal_registry where id = $1', [forced.id]));
      await appendSpan(api.ledger, identity, {
        id: forced.id, seq: Number(latest?.seq) + 1, entityType: 'request', who: 'user:erin', did: 'scheduled', this: 'urgent again', parentId: id, status: 'scheduled', input: { go: true }, metadata: { force: true },
      });
      expect((await api.run(erin, CORE_KERNELS.request_worker, { request_id: forced.id }, 'bootKernel')).data?.status).toBe('complete');
      // Then the override is spent: the replay pays the quota and is refused
      const [replayed] = await api.ledger.db.withOwner((tx) =>
        tx.query<{ status: string; error: { code: string } | null }>('select status, error from ledger.universal_registry where id = $1 order by seq desc limit 1', [forced.id]),
      );
      expect(replayed).toMatchObject({ status: 'error', error: { code: 'QuotaExceeded' } });
      const [runs] = await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type = 'execution' and parent_id = $1", [id]));
      expect(runs?.n).toBe(1);
    } finally {
      await publish('perTenantDailyExecLimit: 100, overridePubkeyHex: null');
    }
  });
});
