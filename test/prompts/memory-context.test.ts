import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';
import { gql, RUN, subscribeRun } from './helpers.ts';

/* A run's context comes from a memory search as the caller: cited by span id, never more than the caller may read. */

let api: TestApi;
const suffix = randomBytes(3).toString('hex');
const auth: Record<string, Record<string, string>> = {};
const UPSERT = `mutation M($input: MemoryInput!) { upsertMemory(input: $input) { id } }`;

beforeAll(async () => {
  api = await startTestApi();
  for (const [name, tenant] of [['alice', 'acme'], ['bob', 'acme'], ['carol', 'acme'], ['gary', 'globex']] as const) {
    auth[name] = { Authorization: await api.token(`${name}-${suffix}`, `${tenant}-${suffix}`) };
  }
});
afterAll(async () => api.close());

async function remember(who: string, text: string, extra: Record<string, unknown> = {}): Promise<string> {
  const data = await gql<{ upsertMemory: { id: string } }>(api, { ...auth[who]!, 'x-logline-memory': 'on' }, UPSERT, { input: { content: JSON.stringify({ text }), layer: 'permanent', ...extra } });
  return data.upsertMemory.id;
}

describe('memory context', () => {
  test('cites the memories the caller may read, and only those', async () => {
    // given memories about the launch code word: alice's own, a colleague's shared with the tenant,
    // a colleague's private one, a colleague's secret shared with the tenant, and another tenant's public one
    const own = await remember('alice', `The launch code word is pelican ${suffix}.`);
    const shared = await remember('carol', `The launch code word for the whole team is heron ${suffix}.`, { visibility: 'tenant' });
    const privateToBob = await remember('bob', `The launch code word is osprey ${suffix}.`);
    const secret = await remember('carol', `The launch code word vault key is kestrel ${suffix}.`, { visibility: 'tenant', sensitivity: 'secret' });
    const otherTenant = await remember('gary', `The launch code word is condor ${suffix}.`);
    // when alice runs a prompt with memory
    const runId = randomUUID();
    const subscriber = await subscribeRun(api, auth.alice!, runId);
    await gql(api, auth.alice!, RUN, { input: { runId, family: 'assistant', userInput: `What is the launch code word ${suffix}?`, useMemory: true } });
    const final = await subscriber.final();
    subscriber.close();
    const result = JSON.parse(final.result!) as { status: string; context: { spanId: string }[]; citations: string[]; answer: { text: string } };
    // then the context holds her own and the tenant's readable memory, cited by span id
    const used = result.context.map((piece) => piece.spanId);
    expect(used).toEqual(expect.arrayContaining([own, shared]));
    expect(result.status).toBe('complete');
    expect(result.citations).toEqual(expect.arrayContaining([own, shared]));
    expect(result.answer.text).toContain(`[${own}]`);
    // and nothing she may not read in clear reached the model
    for (const hidden of [privateToBob, secret, otherTenant]) expect(used).not.toContain(hidden);
    for (const word of ['osprey', 'kestrel', 'condor']) expect(result.answer.text).not.toContain(word);
    // and the run span names the cited memories
    const span = await gql<{ span: { relatedTo: string[] } }>(api, auth.alice!, `query S($id: ID!) { span(id: $id) { relatedTo } }`, { id: runId });
    expect(span.span.relatedTo).toEqual(expect.arrayContaining([own, shared]));
  });

  test('useMemory false sends no context', async () => {
    await remember('alice', `Invoices are due in 45 days ${suffix}.`);
    const runId = randomUUID();
    const subscriber = await subscribeRun(api, auth.alice!, runId);
    await gql(api, auth.alice!, RUN, { input: { runId, family: 'assistant', userInput: `When are invoices due ${suffix}?`, useMemory: false } });
    const result = JSON.parse((await subscriber.final()).result!) as { status: string; context: unknown[] };
    subscriber.close();
    expect(result).toMatchObject({ status: 'insufficient_evidence', context: [] });
  });
});
