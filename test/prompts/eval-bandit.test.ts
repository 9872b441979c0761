import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SEED_PROMPT_IDS } from '../../functions/prompts/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { gql, RUN } from './helpers.ts';

let api: TestApi;
const suffix = randomBytes(3).toString('hex');
let alice: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  alice = { Authorization: await api.token(`alice-${suffix}`, `acme-${suffix}`) };
});
afterAll(async () => api.close());

const EVALUATE = `mutation E($evalId: ID, $variantId: ID) { evaluatePrompt(evalId: $evalId, variantId: $variantId) { id variant passed total results { name type passed status reasons } } }`;
const APPEND = `mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }`;
const SELECT = `mutation S($family: String!, $windowDays: Int) { selectVariant(family: $family, windowDays: $windowDays) { id winner { id name } scores { variant runs avgConfidence errorRate score } } }`;

interface Evaluation {
  id: string;
  passed: number;
  total: number;
  results: { name: string; type: string; passed: boolean; status: string; reasons: string[] }[];
}

describe('evaluatePrompt', () => {
  test('the default fixtures, one of each type, pass on the seeded variant', async () => {
    // when the default variant is evaluated with the default fixtures (offline model)
    const { evaluatePrompt } = await gql<{ evaluatePrompt: Evaluation }>(api, alice, EVALUATE, { variantId: SEED_PROMPT_IDS.variant });
    // then each type ran and passed, and the result is a prompt_eval_result span
    expect(evaluatePrompt.results.map((r) => [r.type, r.passed, r.status])).toEqual([
      ['happy', true, 'complete'],
      ['ambiguous', true, 'insufficient_evidence'],
      ['overlong_context', true, 'complete'],
      ['conflicting', true, 'complete'],
      ['tool_unavailable', true, 'error'],
    ]);
    const span = await gql<{ span: { entityType: string; status: string; variant: string } }>(api, alice, `query Q($id: ID!) { span(id: $id) { entityType status variant } }`, { id: evaluatePrompt.id });
    expect(span.span).toEqual({ entityType: 'prompt_eval_result', status: 'passed', variant: 'assistant@v1' });
  });

  test("a prompt_eval span's fixtures pass or fail on their own expectations", async () => {
    // given fixtures of each type, some whose expectations the answer cannot meet
    const fixtures = [
      { name: 'happy ok', type: 'happy', userInput: 'Due date?', context: [{ id: 'c1', text: 'Invoices are due in 30 days.' }], must_contain: ['30 days'] },
      { name: 'happy wrong', type: 'happy', userInput: 'Due date?', context: [{ id: 'c1', text: 'Invoices are due in 30 days.' }], must_contain: ['60 days'] },
      { name: 'ambiguous answered', type: 'ambiguous', userInput: 'That one?', context: [{ id: 'c2', text: 'Two plans exist.' }], must_error: true },
      { name: 'overlong ok', type: 'overlong_context', userInput: 'Hours?', context: [{ id: 'c3', text: 'Open at 9:00.' }, ...Array.from({ length: 80 }, (_, i) => ({ id: `f${i}`, text: 'filler '.repeat(60) }))], must_contain: ['9:00'] },
      { name: 'conflicting missing side', type: 'conflicting', userInput: 'Window?', context: [{ id: 'a', text: 'Window is 14 days.' }], must_contain: ['14 days', '30 days'] },
      { name: 'unavailable wrong text', type: 'tool_unavailable', userInput: 'Tickets?', context: [], must_error: 'Insufficient evidence.' },
      { name: 'unavailable ok', type: 'tool_unavailable', userInput: 'Tickets?', context: [], must_error: 'ServiceUnavailable' },
    ];
    const evalSpan = await gql<{ appendSpan: { id: string } }>(api, alice, APPEND, {
      input: { entityType: 'prompt_eval', who: 'user:alice', did: 'defined', this: 'billing checks', content: JSON.stringify({ variantId: SEED_PROMPT_IDS.variant, fixtures }) },
    });
    // when it is evaluated
    const { evaluatePrompt } = await gql<{ evaluatePrompt: Evaluation }>(api, alice, EVALUATE, { evalId: evalSpan.appendSpan.id });
    // then each fixture has its verdict, with the reason when it failed
    expect(evaluatePrompt.results.map((r) => [r.name, r.passed])).toEqual([
      ['happy ok', true],
      ['happy wrong', false],
      ['ambiguous answered', false],
      ['overlong ok', true],
      ['conflicting missing side', false],
      ['unavailable wrong text', false],
      ['unavailable ok', true],
    ]);
    expect(evaluatePrompt).toMatchObject({ passed: 3, total: 7 });
    expect(evaluatePrompt.results[1]!.reasons).toEqual(['the answer lacks "60 days"']);
    expect(evaluatePrompt.results[2]!.reasons[0]).toContain('expected an error');
  });
});

describe('selectVariant', () => {
  test("the bandit scores the tenant's runs (every user's, by variant id), picks the better history, and runs by family use it", async () => {
    // given a family of three variants: v1 and v2 with a history, v3 new
    const family = `bandit-${suffix}`;
    const block = await gql<{ createPromptBlock: { id: string } }>(api, alice, `mutation { createPromptBlock(input: { name: "b", text: "Be exact." }) { id } }`);
    const variants: Record<string, string> = {};
    for (const version of ['v1', 'v2', 'v3']) {
      const made = await gql<{ createPromptVariant: { id: string } }>(api, alice, `mutation V($input: PromptVariantInput!) { createPromptVariant(input: $input) { id } }`, { input: { family, version, blockIds: [block.createPromptBlock.id] } });
      variants[version] = made.createPromptVariant.id;
    }
    // and, before any selection, a run by family uses the newest variant
    const before = await gql<{ runPrompt: { variant: string } }>(api, alice, RUN, { input: { family, userInput: 'x', useMemory: false } });
    expect(before.runPrompt.variant).toBe(`${family}@v3`);
    // and a crafted history of private runs: v1 confident and clean (run by bob, alice's colleague),
    // v2 unsure and often failing (run by alice)
    const bob = { Authorization: await api.token(`bob-${suffix}`, `acme-${suffix}`) };
    const gary = { Authorization: await api.token(`gary-${suffix}`, `globex-${suffix}`) };
    const runs = [
      ...Array.from({ length: 6 }, () => ({ by: bob, variant: 'v1', status: 'complete', confidence: 0.9 })),
      ...Array.from({ length: 3 }, () => ({ by: alice, variant: 'v2', status: 'complete', confidence: 0.5 })),
      ...Array.from({ length: 3 }, () => ({ by: alice, variant: 'v2', status: 'error', confidence: null })),
    ];
    const append = (by: Record<string, string>, input: Record<string, unknown>) =>
      gql(api, by, APPEND, { input: { entityType: 'prompt_run', who: 'user:x', did: 'ran', promptFamily: family, visibility: 'private', ...input } });
    for (const r of runs) await append(r.by, { this: `${family}@${r.variant}`, variant: `${family}@${r.variant}`, parentId: variants[r.variant], status: r.status, confidence: r.confidence });
    // and runs that must not count: another tenant's perfect runs of v2 (even public), and a run that
    // names v1 without its id
    for (let i = 0; i < 5; i++) await append(gary, { this: `${family}@v2`, variant: `${family}@v2`, parentId: variants.v2, status: 'complete', confidence: 1, visibility: 'public' });
    await append(alice, { this: `${family}@v1`, variant: `${family}@v1`, status: 'error', confidence: null });
    // when the family's variant is selected
    const { selectVariant } = await gql<{ selectVariant: { winner: { id: string; name: string }; scores: { variant: string; runs: number; avgConfidence: number; errorRate: number; score: number }[] } }>(api, alice, SELECT, { family, windowDays: 7 });
    // then v1 wins on the SPEC's score over the tenant's runs by variant id, and v3 keeps its exploration bonus
    expect(selectVariant.winner).toEqual({ id: variants.v1, name: `${family}@v1` });
    const score = Object.fromEntries(selectVariant.scores.map((s) => [s.variant.split('@')[1], s]));
    expect(score.v1).toMatchObject({ runs: 6, errorRate: 0 });
    expect(score.v1!.score).toBeCloseTo(0.9 * 0.7 + 0.3 / 6, 6);
    expect(score.v2).toMatchObject({ runs: 6, errorRate: 0.5 });
    expect(score.v2!.score).toBeCloseTo(0.25 * 0.5 * 0.7 + 0.3 / 6, 6);
    expect(score.v3!.score).toBeCloseTo(0.3, 6);
    // and a run by family now uses the winner
    const after = await gql<{ runPrompt: { variant: string; variantId: string } }>(api, alice, RUN, { input: { family, userInput: 'x', useMemory: false } });
    expect(after.runPrompt).toEqual({ ...after.runPrompt, variant: `${family}@v1`, variantId: variants.v1 });
  });

  test("a caller without a tenant is scored on their own runs only, never on other tenantless users' runs", async () => {
    // given dave (no tenant) with a family of two variants, and his runs: v2 good
    const family = `solo-${suffix}`;
    const dave = { Authorization: await api.token(`dave-${suffix}`, null) };
    const erin = { Authorization: await api.token(`erin-${suffix}`, null) };
    const block = await gql<{ createPromptBlock: { id: string } }>(api, dave, `mutation { createPromptBlock(input: { name: "b", text: "Be brief." }) { id } }`);
    const variants: Record<string, string> = {};
    for (const version of ['v1', 'v2']) {
      const made = await gql<{ createPromptVariant: { id: string } }>(api, dave, `mutation V($input: PromptVariantInput!) { createPromptVariant(input: $input) { id } }`, { input: { family, version, blockIds: [block.createPromptBlock.id] } });
      variants[version] = made.createPromptVariant.id;
    }
    const append = (by: Record<string, string>, version: string, confidence: number) =>
      gql(api, by, APPEND, { input: { entityType: 'prompt_run', who: 'user:x', did: 'ran', this: `${family}@${version}`, variant: `${family}@${version}`, parentId: variants[version], promptFamily: family, status: 'complete', confidence } });
    for (let i = 0; i < 3; i++) await append(dave, 'v2', 0.9);
    // and erin, another user without a tenant, with perfect runs naming dave's v1
    for (let i = 0; i < 5; i++) await append(erin, 'v1', 1);
    // when dave selects
    const { selectVariant } = await gql<{ selectVariant: { winner: { id: string }; scores: { variant: string; runs: number }[] } }>(api, dave, SELECT, { family, windowDays: 7 });
    // then only his runs count
    expect(Object.fromEntries(selectVariant.scores.map((s) => [s.variant.split('@')[1], s.runs]))).toEqual({ v1: 0, v2: 3 });
    expect(selectVariant.winner.id).toBe(variants.v2);
  });
});
