import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { bedrockProvider, type ModelEvent } from '../../functions/models/index.ts';

const bedrock = mockClient(BedrockRuntimeClient);
afterEach(() => bedrock.reset());

async function* events(list: ConverseStreamOutput[], failAfter?: Error): AsyncIterable<ConverseStreamOutput> {
  for (const event of list) yield event;
  if (failAfter) throw failAfter;
}

const answer = (...texts: string[]): ConverseStreamOutput[] => [
  { messageStart: { role: 'assistant' } },
  ...texts.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } })),
  { contentBlockStop: { contentBlockIndex: 0 } },
  { messageStop: { stopReason: 'end_turn' } },
  { metadata: { usage: { inputTokens: 42, outputTokens: 7, totalTokens: 49 }, metrics: { latencyMs: 5 } } },
];

const named = (name: string, message = name): Error => Object.assign(new Error(message), { name });

const request = { modelId: 'anthropic.claude-test', system: 'Be brief.', messages: [{ role: 'user' as const, text: 'hello' }] };

async function drain(stream: AsyncIterable<ModelEvent>): Promise<ModelEvent[]> {
  const seen: ModelEvent[] = [];
  for await (const event of stream) seen.push(event);
  return seen;
}

const noWait = { sleep: () => Promise.resolve(), onRetry: () => undefined };

describe('bedrockProvider', () => {
  it('streams text deltas in order, then one end event with the usage', async () => {
    // given Bedrock streams two deltas, a stop and the usage
    bedrock.on(ConverseStreamCommand).resolves({ stream: events(answer('Hel', 'lo.')) });
    // when the answer is streamed
    const seen = await drain(bedrockProvider({ client: new BedrockRuntimeClient({}), ...noWait }).stream(request));
    // then the deltas come first and the end carries the stop reason and token counts
    expect(seen).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo.' },
      { type: 'end', stopReason: 'end_turn', inputTokens: 42, outputTokens: 7 },
    ]);
    const input = bedrock.commandCalls(ConverseStreamCommand)[0]!.args[0].input;
    expect(input.modelId).toBe('anthropic.claude-test');
    expect(input.system).toEqual([{ text: 'Be brief.' }]);
    expect(input.messages).toEqual([{ role: 'user', content: [{ text: 'hello' }] }]);
  });

  it('retries a throttled request with backoff, then streams the answer', async () => {
    // given the first call is throttled and the second succeeds
    bedrock
      .on(ConverseStreamCommand)
      .rejectsOnce(named('ThrottlingException', 'Too many requests'))
      .resolves({ stream: events(answer('ok')) });
    const waits: number[] = [];
    const provider = bedrockProvider({ client: new BedrockRuntimeClient({}), sleep: (ms) => (waits.push(ms), Promise.resolve()), random: () => 0.5, baseDelayMs: 100, onRetry: () => undefined });
    // when the answer is completed
    const completion = await provider.complete(request);
    // then it was retried once after a jittered wait and the answer is whole
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(2);
    expect(waits).toEqual([50]);
    expect(completion).toMatchObject({ text: 'ok', inputTokens: 42, outputTokens: 7, offline: false, modelId: 'anthropic.claude-test' });
  });

  it('retries a stream that fails before its first text', async () => {
    // given the first stream reports ServiceUnavailable as an event before any text
    bedrock
      .on(ConverseStreamCommand)
      .resolvesOnce({ stream: events([{ messageStart: { role: 'assistant' } }, { serviceUnavailableException: { message: 'busy' } } as ConverseStreamOutput]) })
      .resolves({ stream: events(answer('fine')) });
    // when the answer is completed
    const completion = await bedrockProvider({ client: new BedrockRuntimeClient({}), ...noWait }).complete(request);
    // then the second attempt's answer is returned
    expect(completion.text).toBe('fine');
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(2);
  });

  it('throws a failure after text was streamed, without retrying', async () => {
    // given the stream breaks after one delta
    bedrock.on(ConverseStreamCommand).resolves({ stream: events(answer('partial').slice(0, 2), named('ModelStreamErrorException', 'connection lost')) });
    const seen: ModelEvent[] = [];
    // when the answer is streamed
    const run = (async () => {
      for await (const event of bedrockProvider({ client: new BedrockRuntimeClient({}), ...noWait }).stream(request)) seen.push(event);
    })();
    // then the error reaches the caller after the text, and Bedrock was called once
    await expect(run).rejects.toThrow('connection lost');
    expect(seen).toEqual([{ type: 'text', text: 'partial' }]);
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
  });

  it('gives up after the last attempt and does not retry a validation error', async () => {
    // given Bedrock is always throttled
    bedrock.on(ConverseStreamCommand).rejects(named('ThrottlingException'));
    // when the answer is requested with three attempts
    await expect(bedrockProvider({ client: new BedrockRuntimeClient({}), maxAttempts: 3, ...noWait }).complete(request)).rejects.toThrow('ThrottlingException');
    // then it tried three times
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(3);

    // given a request Bedrock refuses as invalid
    bedrock.reset();
    bedrock.on(ConverseStreamCommand).rejects(named('ValidationException', 'The provided model identifier is invalid.'));
    // when it is requested, then it fails at once
    await expect(bedrockProvider({ client: new BedrockRuntimeClient({}), ...noWait }).complete(request)).rejects.toThrow('model identifier is invalid');
    expect(bedrock.commandCalls(ConverseStreamCommand)).toHaveLength(1);
  });
});
