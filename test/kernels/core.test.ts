import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CORE_KERNELS } from '../../functions/kernels/ids.ts';
import { settled } from '../support/ledger.ts';
import { RealtimeTestClient } from '../support/realtime.ts';
import { startKernelApi, type KernelTestApi } from './support.ts';

/* The five core kernels end to end, booted through stage-0 as a signed-in user. */

let api: KernelTestApi;
let frank: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  frank = await api.user('frank', 'coreco');
});
afterAll(() => api.close());

const ECHO = 'globalThis.default = async function main(ctx) { return { echoed: ctx.input, user: ctx.env.user }; };';

async function append(headers: Record<string, string>, input: Record<string, unknown>): Promise<{ id: string; txId: string }> {
  const { data, errors } = await api.gql<{ appendSpan: { id: string; txId: string } }>(headers, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id txId } }', { input });
  if (!data) throw new Error(JSON.stringify(errors));
  return data.appendSpan;
}

async function boot(name: keyof typeof CORE_KERNELS, input: unknown = {}) {
  const run = await api.run(frank, CORE_KERNELS[name], input, 'bootKernel');
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

describe('policy_agent', () => {
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
