import { randomBytes, randomUUID } from 'node:crypto';
import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { TestApi } from '../support/api.ts';
import { startTestServer } from '../support/api.ts';
import { gql, RUN, subscribeRun } from './helpers.ts';

/* Runs against Bedrock, mocked at the SDK client boundary, through the local server and a real socket. */

const bedrock = mockClient(BedrockRuntimeClient);
let api: TestApi;
let alice: Record<string, string>;
const suffix = randomBytes(3).toString('hex');
const SPAN = `query S($id: ID!) { span(id: $id) { status model provider compiledHash confidence inputTokens outputTokens latencyMs ttftMs traceId error output metadata } }`;

beforeAll(async () => {
  const env = { ...process.env, LOGLINEOS_MODEL_PROVIDER: 'bedrock', LOGLINEOS_MODEL_ID: 'anthropic.claude-test-v1:0', AWS_REGION: 'us-east-1', LOGLINEOS_MODEL_MAX_ATTEMPTS: '3', LOGLINEOS_PROMPT_RUN_TIMEOUT_MS: '15000' };
  const server = await startTestServer({ apiKey: 'da2-test', keepAliveMs: 1000, env });
  api = {
    ...server,
    apiKey: 'da2-test',
    token: (user, tenant, groups = []) => server.issuer.issue({ user, tenant, groups }),
    async request(headers, query, variables) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
      return { status: response.status, body: (await response.json()) as never };
    },
  };
  alice = { Authorization: await api.token(`alice-${suffix}`, `acme-${suffix}`) };
});
afterEach(() => bedrock.reset());
afterAll(async () => api.close());

async function* events(list: ConverseStreamOutput[], failAfter?: Error): AsyncIterable<ConverseStreamOutput> {
  for (const event of list) yield event;
  if (failAfter) throw failAfter;
}
const deltas = (...texts: string[]): ConverseStreamOutput[] => texts.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } }));
const ending: ConverseStreamOutput[] = [{ messageStop: { stopReason: 'end_turn' } }, { metadata: { usage: { inputTokens: 321, outputTokens: 12, totalTokens: 333 }, metrics: { latencyMs: 9 } } }];
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

async function run(userInput: string) {
  const runId = randomUUID();
  const subscriber = await subscribeRun(api, alice, runId);
  await gql(api, alice, RUN, { input: { runId, family: 'assistant', userInput, useMemory: false } });
  const final = await subscriber.final();
  subscriber.close();
  const span = (await gql<{ span: Record<string, unknown> }>(api, alice, SPAN, { id: runId })).span;
  return { runId, final, chunks: subscriber.events().filter((event) => event.kind === 'chunk').map((event) => event.text).join(''), span };
}

describe('runs on Bedrock', () => {
  test('a throttled call is retried, then the streamed answer is the result', async () => {
    // given Bedrock throttles once, then streams a valid answer in three deltas
    const answer = '{"text": "Hello from Bedrock.", "confidence": 0.8, "actions": [], "citations": []}';
    bedrock
      .on(ConverseStreamCommand)
      .rejectsOnce(named('ThrottlingException', 'Rate exceeded'))
      .resolves({ stream: events([...deltas(answer.slice(0, 10), answer.slice(10, 40), answer.slice(40)), ...ending]) });
    // when alice runs the default prompt
    const { final, chunks, span } = await run('Say hello.');
    // then the subscriber got the answer and the parsed result
    expect(chunks).toBe(answer);
    expect(final.kind).toBe('result');
    expect(JSON.parse(final.result!)).toMatchObject({ status: 'complete', answer: { text: 'Hello from Bedrock.', confidence: 0.8 }, provider: 'bedrock', offline: false, inputTokens: 321, outputTokens: 12 });
    // and Bedrock was asked twice, with the model id, the system prompt and the contract
    const calls = bedrock.commandCalls(ConverseStreamCommand);
    expect(calls).toHaveLength(2);
    const input = calls[1]!.args[0].input;
    expect(input.modelId).toBe('anthropic.claude-test-v1:0');
    expect(input.system?.[0]?.text).toContain('You are the LogLineOS assistant.');
    expect(input.system?.[0]?.text).toContain('Insufficient evidence.');
    // and the span records model, tokens, confidence, timings and the compiled hash
    expect(span).toMatchObject({ status: 'complete', model: 'anthropic.claude-test-v1:0', provider: 'bedrock', confidence: 0.8, inputTokens: 321, outputTokens: 12 });
    expect(span.compiledHash).toMatch(/^[0-9a-f]{64}$/);
    expect(span.ttftMs).toEqual(expect.any(Number));
    expect(span.latencyMs).toEqual(expect.any(Number));
    expect(span.traceId).toEqual(expect.any(String));
  });

  test('a stream that fails midway ends in an error event and an error span, after the chunks', async () => {
    // given Bedrock streams part of an answer, then the stream breaks
    bedrock.on(ConverseStreamCommand).resolves({ stream: events(deltas('{"text": "Half'), named('ModelStreamErrorException', 'The stream was interrupted')) });
    // when alice runs a prompt
    const { final, chunks, span } = await run('Tell me something long.');
    // then the chunk arrived, then the error; nothing was retried
    expect(chunks).toBe('{"text": "Half');
    expect(final.kind).toBe('error');
    expect(JSON.parse(final.error!)).toMatchObject({ status: 'error', error: { code: 'ModelStreamErrorException', message: 'The stream was interrupted' } });
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
    expect(span.status).toBe('error');
    expect(JSON.parse(span.error as string)).toEqual({ code: 'ModelStreamErrorException', message: 'The stream was interrupted' });
  });

  test('a reply that breaks the contract is recorded as a contract violation, not as an answer', async () => {
    // given Bedrock answers in prose, and then with JSON citing a span it was never given
    bedrock
      .on(ConverseStreamCommand)
      .resolvesOnce({ stream: events([...deltas('Sure! The answer is 42.'), ...ending]) })
      .resolvesOnce({ stream: events([...deltas('{"text": "x", "confidence": 1.5, "actions": [], "citations": []}'), ...ending]) })
      .resolves({ stream: events([...deltas('{"text": "x", "confidence": 0.9, "actions": [], "citations": ["made-up-id"]}'), ...ending]) });
    // when alice runs three prompts
    const prose = await run('What is the answer?');
    const outOfRange = await run('What is the answer?');
    const madeUp = await run('What is the answer?');
    // then each ends as a contract violation with the reason, and no answer or confidence is kept
    expect(JSON.parse(prose.final.result!)).toMatchObject({ status: 'contract_violation', answer: null, problems: ['the reply is not JSON'], reply: 'Sure! The answer is 42.' });
    expect(JSON.parse(outOfRange.final.result!).problems[0]).toContain('/confidence');
    expect(JSON.parse(madeUp.final.result!).problems[0]).toContain('made-up-id');
    for (const { span } of [prose, outOfRange, madeUp]) expect(span).toMatchObject({ status: 'contract_violation', confidence: null });
  });

  test('runPrompt answers with the run id while the model is still streaming', async () => {
    // given a model that streams one delta, then waits until the test lets it go on
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    bedrock.on(ConverseStreamCommand).resolves({
      stream: (async function* () {
        yield* deltas('{"text": "Slow ');
        await held;
        yield* deltas('answer.", "confidence": 0.6, "actions": [], "citations": []}');
        yield* ending;
      })(),
    });
    const runId = randomUUID();
    const subscriber = await subscribeRun(api, alice, runId);
    try {
      // when alice starts a run
      const started = await gql<{ runPrompt: { runId: string } }>(api, alice, RUN, { input: { runId, family: 'assistant', userInput: 'Go slowly.', useMemory: false } });
      // then she has the id and the first chunk, and no final event yet
      expect(started.runPrompt.runId).toBe(runId);
      await subscriber.client.next((frame) => frame.type === 'data');
      expect(subscriber.events().map((event) => event.kind)).toEqual(['chunk']);
    } finally {
      // the model goes on even when a check above failed, so the run never outlives the test
      release();
    }
    // and once the model goes on, the run ends with the whole answer
    expect(JSON.parse((await subscriber.final()).result!)).toMatchObject({ status: 'complete', answer: { text: 'Slow answer.' } });
    subscriber.close();
  });

  test('"Insufficient evidence." is an outcome of its own', async () => {
    bedrock.on(ConverseStreamCommand).resolves({ stream: events([...deltas('{"error": "Insufficient evidence."}'), ...ending]) });
    const { final, span } = await run('What did I have for breakfast?');
    expect(JSON.parse(final.result!)).toMatchObject({ status: 'insufficient_evidence', answer: null });
    expect(span.status).toBe('insufficient_evidence');
  });

  test('when every attempt is throttled the run ends in an error, never a hang', async () => {
    bedrock.on(ConverseStreamCommand).rejects(named('ThrottlingException', 'Rate exceeded'));
    const { final, span } = await run('Anything.');
    expect(final.kind).toBe('error');
    expect(JSON.parse(final.error!).error).toEqual({ code: 'ThrottlingException', message: 'Rate exceeded' });
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(3);
    expect(span.status).toBe('error');
  });
});
