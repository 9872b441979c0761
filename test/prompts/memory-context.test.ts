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
    // a colleague's private one, a colleague's secret shared with the tenant, another tenant's private
    // one, and another tenant's public one
    const own = await remember('alice', `The launch code word is pelican ${suffix}.`);
    const shared = await remember('carol', `The launch code word for the whole team is heron ${suffix}.`, { visibility: 'tenant' });
    const privateToBob = await remember('bob', `The launch code word is osprey ${suffix}.`);
    const secret = await remember('carol', `The launch code word vault key is kestrel ${suffix}.`, { visibility: 'tenant', sensitivity: 'secret' });
    const otherTenant = await remember('gary', `The launch code word is condor ${suffix}.`);
    const otherTenantPublic = await remember('gary', `The launch code word published by globex is albatross ${suffix}.`, { visibility: 'public' });
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
    // and another tenant's public memory may be context too, found by her search with scope public
    expect(used).toContain(otherTenantPublic);
    const search = await gql<{ searchMemories: { spanId: string; scope: string }[] }>(api, auth.alice!, `query Q($q: String!) { searchMemories(query: $q, topK: 20) { spanId scope } }`, {
      q: `What is the launch code word ${suffix}?`,
    });
    expect(search.searchMemories.find((hit) => hit.spanId === otherTenantPublic)?.scope).toBe('public');
    // and nothing she may not read in clear reached the model
    for (const hidden of [privateToBob, secret, otherTenant]) expect(used).not.toContain(hidden);
    for (const word of ['osprey', 'kestrel', 'condor']) expect(result.answer.text).not.toContain(word);
    // and the run span names the cited memories
    const span = await gql<{ span: { relatedTo: string[] } }>(api, auth.alice!, `query S($id: ID!) { span(id: $id) { relatedTo } }`, { id: runId });
    expect(span.span.relatedTo).toEqual(expect.arrayContaining([own, shared]));
  });

  test("the caller's own secret memory matching the question is not context by default: not cited, not quoted, not in the run span", async () => {
    // given alice's own secret memory that answers the question, embedded so that search finds it
    const secret = await remember('alice', `The safe combination ${suffix} is 31-17-42.`, { sensitivity: 'secret', embedSensitive: true });
    const question = `What is the safe combination ${suffix}?`;
    // when she runs a prompt with memory, without opting in
    const runId = randomUUID();
    const subscriber = await subscribeRun(api, auth.alice!, runId);
    await gql(api, auth.alice!, RUN, { input: { runId, family: 'assistant', userInput: question } });
    const final = await subscriber.final();
    subscriber.close();
    // then the secret was neither context nor cited nor quoted, in the event or in the span
    const result = JSON.parse(final.result!) as { status: string; context: { spanId: string }[]; citations: string[] };
    expect(result.context.map((piece) => piece.spanId)).not.toContain(secret);
    expect(result.citations).not.toContain(secret);
    expect(final.result).not.toContain('31-17-42');
    const span = await gql<{ span: { output: unknown; input: unknown; metadata: unknown } }>(api, auth.alice!, `query S($id: ID!) { span(id: $id) { input output metadata } }`, { id: runId });
    expect(JSON.stringify(span.span)).not.toContain('31-17-42');
    expect(JSON.stringify(span.span.metadata)).not.toContain('includeSensitiveMemory');

    // when she opts in with includeSensitiveMemory
    const optedId = randomUUID();
    const opted = await subscribeRun(api, auth.alice!, optedId);
    await gql(api, auth.alice!, RUN, { input: { runId: optedId, family: 'assistant', userInput: question, includeSensitiveMemory: true } });
    const optedFinal = JSON.parse((await opted.final()).result!) as { citations: string[] };
    opted.close();
    // then it is used, and the run span says sensitive memory was included
    expect(optedFinal.citations).toContain(secret);
    const optedSpan = await gql<{ span: { metadata: string } }>(api, auth.alice!, `query S($id: ID!) { span(id: $id) { metadata } }`, { id: optedId });
    const metadata = (typeof optedSpan.span.metadata === 'string' ? JSON.parse(optedSpan.span.metadata) : optedSpan.span.metadata) as Record<string, unknown>;
    expect(metadata).toMatchObject({ includeSensitiveMemory: true, sensitiveContext: [secret] });
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
