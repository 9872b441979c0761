import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CORE_KERNELS } from '../../functions/kernels/ids.ts';
import { settled } from '../support/ledger.ts';
import { RealtimeTestClient } from '../support/realtime.ts';
import { startKernelApi, type KernelTestApi } from './support.ts';

/* The five core kernels end to end, booted through stage-0 as a signed-in user. */

let api: KernelTestApi;
let frank: Record<string, string>;
let admin: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  frank = await api.user('frank', 'coreco');
  admin = await api.user('root', null, ['admin']);
  // Generous limits for a loaded machine: 20 s a run, so 5 s for each policy's on(span).
  await publish('timeoutMs: 20000');
});
afterAll(() => api.close());

async function publish(input: string): Promise<void> {
  const { errors } = await api.gql(admin, `mutation { publishManifest(input: { ${input} }) { seq } }`);
  expect(errors).toBeUndefined();
}

const ECHO = 'globalThis.default = async function main(ctx) { return { echoed: ctx.input, user: ctx.env.user }; };';

async function append(headers: Record<string, string>, input: Record<string, unknown>): Promise<{ id: string; txId: string }> {
  const { data, errors } = await api.gql<{ appendSpan: { id: string; txId: string } }>(headers, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id txId } }', { input });
  if (!data) throw new Error(JSON.stringify(errors));
  return data.appendSpan;
}

async function boot(name: keyof typeof CORE_KERNELS, input: unknown = {}, headers = frank) {
  const run = await api.run(headers, CORE_KERNELS[name], input, 'bootKernel');
  expect(run.errors).toBeUndefined();
  expect(run.data?.status).toBe('complete');
  return JSON.parse(run.data?.output ?? 'null') as Record<string, unknown>;
}

async function latest(id: string) {
  const [row] = await api.ledger.db.withOwner((tx) => tx.query<{ seq: number; status: string; output: unknown; related_to: string[] }>('select seq, status, output, related_to from ledger.universal_registry where id = $1 order by seq desc limit 1', [id]));
  return row;
}

describe('run_code', () => {
  test('runs a function span as the caller and records its execution', async () => {
    const { id } = await api.define(frank, 'echo', ECHO);
    const output = await boot('run_code', { span_id: id, input: { n: 1 } });
    expect(output).toMatchObject({ span_id: id, status: 'complete', output: { echoed: { n: 1 }, user: `frank-${api.suffix}` } });
    const execution = await latest(String(output.executionId));
    expect(execution?.status).toBe('complete');
  });

  test("cannot run a function the caller cannot read", async () => {
    const other = await api.user('gina', 'otherco');
    const { id } = await api.define(other, 'hidden', ECHO);
    const output = await boot('run_code', { span_id: id });
    expect(output).toMatchObject({ status: 'refused', error: { code: 'KernelNotFound' } });
  });
});

describe('observer and request_worker', () => {
  test('a scheduled function becomes one request, which the worker runs and completes as a new version', async () => {
    const { id } = await api.define(frank, 'nightly', ECHO, { status: 'scheduled' });
    const observed = await boot('observer');
    expect(observed.scheduled).toBe(1);
    const [requestId] = observed.requests as string[];
    expect((await boot('observer')).scheduled).toBe(0); // idempotent
    const worked = await boot('request_worker');
    expect(worked).toMatchObject({ processed: 1, requests: [{ request: requestId, status: 'complete' }] });
    const request = await latest(requestId!);
    expect(request).toMatchObject({ seq: 1, status: 'complete', output: { echoed: null } });
    expect(request?.related_to).toContain(id);
    expect((await boot('request_worker')).processed).toBe(0); // nothing left scheduled
  });

  test('scheduleKernel answers with the request at once; the completion arrives on the timeline subscription', async () => {
    const { id } = await api.define(frank, 'later', ECHO);
    const client = await RealtimeTestClient.open(api.url, frank);
    try {
      await client.init();
      client.start('done', 'subscription { onTimeline(entityTypes: ["request"]) { id seq span } }', {}, frank, new URL(api.url).host);
      await client.next((f) => f.type === 'start_ack');
      const { data, errors } = await api.gql<{ scheduleKernel: { id: string; status: string; seq: number } }>(frank, 'mutation S($id: ID!) { scheduleKernel(id: $id, input: "{\\"x\\":2}") { id seq status } }', { id });
      expect(errors).toBeUndefined();
      expect(data?.scheduleKernel).toMatchObject({ seq: 0, status: 'scheduled' });
      const completion = await client.next((f) => f.type === 'data' && (f.payload as { data: { onTimeline: { id: string; seq: number } } }).data.onTimeline.id === data?.scheduleKernel.id && (f.payload as { data: { onTimeline: { seq: number } } }).data.onTimeline.seq === 1);
      const span = JSON.parse((completion.payload as { data: { onTimeline: { span: string } } }).data.onTimeline.span) as { status: string; output: unknown };
      expect(span).toMatchObject({ status: 'complete', output: { echoed: { x: 2 } } });
    } finally {
      client.close();
    }
  });
});

describe('observer and the daily quota', () => {
  test('a tenant at its daily limit gets no requests: the output names the skipped functions and why', async () => {
    // Given a tenant that has used its one execution of the day, and a scheduled function
    const olga = await api.user('olga', 'fullco');
    expect((await api.run(olga, (await api.define(olga, 'spent', ECHO)).id)).data?.status).toBe('complete');
    const { id } = await api.define(olga, 'nightly_full', ECHO, { status: 'scheduled' });
    await publish('perTenantDailyExecLimit: 1');
    let full: Record<string, unknown>;
    try {
      // When the observer runs for it
      full = await boot('observer', {}, olga);
    } finally {
      await publish('perTenantDailyExecLimit: 100');
    }
    // Then it requests nothing and says why
    expect(full).toEqual({ scheduled: 0, requests: [], skipped: [id], reason: expect.stringMatching(/^QuotaExceeded: your tenant has used 1 of its 1 kernel executions today/) });
    const [row] = await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type = 'request' and parent_id = $1", [id]));
    expect(row?.n).toBe(0);
    // And with room again, the next pass requests it
    expect(await boot('observer', {}, olga)).toMatchObject({ scheduled: 1, skipped: [] });
  });
});

describe('request_worker and requests served meanwhile', () => {
  const executions = async (fn: string) =>
    Number((await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type = 'execution' and parent_id = $1", [fn])))[0]?.n);

  test('a request cancelled earlier in the same pass is skipped, not run again, and the pass completes', async () => {
    // Given two scheduled requests whose function cancels the other one
    const rita = await api.user('rita', 'cancelco');
    const { id: fn } = await api.define(rita, 'cancel_other', `globalThis.default = async function main(ctx) {
      await ctx.insertSpan({ id: ctx.input.other, seq: 1, entityType: 'request', did: 'cancelled', this: 'cancelled by its sibling', parentId: ctx.env.kernel_id, status: 'cancelled' });
      return ctx.input.other;
    };`);
    const [a, b] = [randomUUID(), randomUUID()];
    for (const [id, other] of [[a, b], [b, a]] as const) {
      await append(rita, { id, entityType: 'request', who: 'user:rita', did: 'scheduled', this: 'sibling', parentId: fn, status: 'scheduled', input: JSON.stringify({ other }) });
    }
    // When one request_worker pass takes both
    const worked = await boot('request_worker', {}, rita);
    // Then the first ran and cancelled the second, which was skipped (re-read under the function's lock)
    expect(worked.processed).toBe(2);
    expect((worked.requests as { status: string }[]).map((r) => r.status)).toEqual(['complete', 'skipped']);
    expect(await executions(fn)).toBe(1);
    const statuses = await Promise.all([a, b].map(async (id) => (await latest(id))?.status));
    expect(statuses.sort()).toEqual(['cancelled', 'complete']);
  });

  test('two request_worker runs racing for one request run it once, and neither fails', async () => {
    const sam = await api.user('sam', 'raceco');
    const { id: fn } = await api.define(sam, 'once', ECHO);
    const request = await append(sam, { entityType: 'request', who: 'user:sam', did: 'scheduled', this: 'once', parentId: fn, status: 'scheduled', input: '{"n":1}' });
    const runs = await Promise.all([1, 2].map(() => api.run(sam, CORE_KERNELS.request_worker, { request_id: request.id }, 'bootKernel')));
    for (const run of runs) {
      if (run.errors) expect(run.errors.map((e) => e.errorType)).toEqual(['KernelBusy']);
      else expect(run.data?.status).toBe('complete');
    }
    expect(await executions(fn)).toBe(1);
    expect(await latest(request.id)).toMatchObject({ seq: 1, status: 'complete', output: { echoed: { n: 1 } } });
  });
});

describe('policy_agent', () => {
  test("each policy's on(span) gets a quarter of the manifest's run limit", async () => {
    // Given a policy that never returns for one span
    const pia = await api.user('pia', 'spinco');
    const policy = await append(pia, { entityType: 'policy', who: 'user:pia', did: 'defined', this: 'spinner', name: 'spinner', status: 'active', code: "function on(span) { if (span.this === 'spin') { for (;;) {} } return null; }" });
    const spin = await append(pia, { entityType: 'note', who: 'user:pia', did: 'wrote', this: 'spin' });
    await settled(api.ledger.db, spin.txId);
    // When policy_agent runs under an 8 s run limit
    await publish('timeoutMs: 8000');
    let pass: Record<string, unknown>;
    try {
      pass = await boot('policy_agent', {}, pia);
    } finally {
      await publish('timeoutMs: 20000');
    }
    // Then that evaluation stopped at 2 s and became a policy_error; the pass itself completed
    expect(pass.report).toEqual([expect.objectContaining({ policy: policy.id, errors: 1 })]);
    const errors = await api.ledger.db.withOwner((tx) => tx.query<{ error: { message: string } }>("select error from ledger.universal_registry where entity_type = 'policy_error' and parent_id = $1", [policy.id]));
    expect(errors.map((row) => row.error.message)).toEqual([expect.stringMatching(/^Timeout: .*time limit of 2000 ms/)]);
  });

  test('evaluates on(span) over new spans: actions, policy_error on failure, and a cursor that advances', async () => {
    const { id: follow } = await api.define(frank, 'follow_up', ECHO);
    const policy = await append(frank, {
      entityType: 'policy', who: 'user:frank', did: 'defined', this: 'alarms', name: 'alarms', status: 'active',
      code: `function on(span) {
        if (span.entity_type !== 'note') return null;
        if (span.this === 'alarm') return { emit_span: { entityType: 'alert', did: 'raised', this: 'alarm seen' } };
        if (span.this === 'work') return { run: 'run_code', span_id: '${follow}' };
        if (span.this === 'boom') throw new Error('cannot handle boom');
        return null;
      }`,
    });
    for (const text of ['alarm', 'work', 'boom']) await append(frank, { entityType: 'note', who: 'user:frank', did: 'wrote', this: text });
    const last = await append(frank, { entityType: 'note', who: 'user:frank', did: 'wrote', this: 'quiet' });
    await settled(api.ledger.db, last.txId);
    const first = await boot('policy_agent');
    expect(first.report).toEqual([expect.objectContaining({ policy: policy.id, actions: 2, errors: 1 })]);
    const rows = await api.ledger.db.withOwner((tx) =>
      tx.query<{ entity_type: string; this: string; error: { message: string } | null; metadata: { tx_id: string; position: string } | null; related_to: string[] | null }>(
        "select entity_type, \"this\", error, metadata, related_to from ledger.universal_registry where (entity_type in ('alert', 'policy_error', 'policy_cursor') and $1 = any(related_to)) or (entity_type = 'policy_cursor' and parent_id = $1) or (entity_type = 'execution' and parent_id = $2) order by position",
        [policy.id, follow],
      ),
    );
    expect(rows.map((row) => row.entity_type)).toEqual(['alert', 'execution', 'policy_error', 'policy_cursor']);
    expect(rows[2]?.error?.message).toMatch(/cannot handle boom/);
    const cursor1 = rows[3]!.metadata!;
    // What the pass wrote reaches the policy feed once every transaction older than it has finished
    const [pass1] = await api.ledger.db.withOwner((tx) => tx.query<{ tx: string }>("select max(tx_id::text::numeric)::text as tx from ledger.universal_registry where entity_type = 'policy_cursor' and parent_id = $1", [policy.id]));
    await settled(api.ledger.db, pass1!.tx);

    // The next pass sees what the first one emitted (the alert), never the agent's own bookkeeping
    const second = await boot('policy_agent');
    expect(second.report).toEqual([expect.objectContaining({ evaluated: 1, actions: 0, errors: 0 })]);
    const cursor2 = (second.report as { cursor: unknown }[])[0]!.cursor;
    // Nothing new: the cursor stays where it is
    const idle = await boot('policy_agent');
    expect(idle.report).toEqual([expect.objectContaining({ evaluated: 0, cursor: cursor2 })]);
    // A new span moves it past that span
    const next = await append(frank, { entityType: 'note', who: 'user:frank', did: 'wrote', this: 'alarm' });
    await settled(api.ledger.db, next.txId);
    const third = await boot('policy_agent');
    const cursor3 = (third.report as { cursor: { tx_id: string; position: string }; evaluated: number; actions: number }[])[0]!;
    expect(cursor3).toMatchObject({ evaluated: 1, actions: 1 });
    expect(BigInt(cursor3.cursor.position)).toBeGreaterThan(BigInt((cursor2 as { position: string }).position));
    expect(BigInt((cursor2 as { position: string }).position)).toBeGreaterThan(BigInt(cursor1.position));
  });
});

describe('provider_exec', () => {
  test('calls the model a provider span names (offline here) and records a provider_execution', async () => {
    const provider = await append(frank, { entityType: 'provider', who: 'user:frank', did: 'defined', this: 'haiku', name: 'haiku', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', metadata: '{"max_tokens": 64}' });
    const output = await boot('provider_exec', { provider_id: provider.id, prompt: 'Say hello.' });
    expect(output).toMatchObject({ offline: true });
    expect(typeof output.text).toBe('string');
    const execution = await latest(String(output.provider_execution_id));
    const [row] = await api.ledger.db.withOwner((tx) => tx.query<{ entity_type: string; parent_id: string; model: string; provider: string }>('select entity_type, parent_id, model, provider from ledger.universal_registry where id = $1', [output.provider_execution_id]));
    expect(execution?.status).toBe('complete');
    expect(row).toMatchObject({ entity_type: 'provider_execution', parent_id: provider.id, model: 'anthropic.claude-3-5-haiku-20241022-v1:0', provider: 'offline' });
  });

  test('a user kernel is not granted the model or runFunction', async () => {
    const { id } = await api.define(frank, 'greedy', 'globalThis.default = async function main(ctx) { return [typeof ctx.invokeModel, typeof ctx.runFunction, typeof ctx.evaluatePolicy]; };');
    const run = await api.run(frank, id);
    expect(JSON.parse(run.data?.output ?? 'null')).toEqual(['undefined', 'undefined', 'undefined']);
  });
});
