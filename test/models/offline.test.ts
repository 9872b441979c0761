import { describe, expect, it } from 'vitest';
import { INSUFFICIENT_EVIDENCE, OFFLINE_LABEL, offlineProvider, providerFromEnv, type ModelEvent } from '../../functions/models/index.ts';

const jsonSystem = 'Reply with one JSON object: {"text", "confidence", "actions", "citations"}.';

describe('offlineProvider', () => {
  it('streams the same labelled answer, built from the cited context, in several chunks', async () => {
    // given a request whose user message carries two sources
    const request = { modelId: 'offline', system: jsonSystem, messages: [{ role: 'user' as const, text: 'Context:\n[span-a] Invoices are due in 30 days.\n[span-b] Late fees are 2%.\n\nQuestion: when are invoices due?' }] };
    // when it is streamed twice
    const first: ModelEvent[] = [];
    for await (const event of offlineProvider().stream(request)) first.push(event);
    const second = await offlineProvider().complete(request);
    // then the answers are equal, come in chunks, are labelled offline and cite both sources
    const text = first.flatMap((event) => (event.type === 'text' ? [event.text] : [])).join('');
    expect(first.filter((event) => event.type === 'text').length).toBeGreaterThan(3);
    expect(text).toBe(second.text);
    const parsed = JSON.parse(text) as { text: string; citations: string[]; confidence: number };
    expect(parsed.text.startsWith(OFFLINE_LABEL)).toBe(true);
    expect(parsed.citations).toEqual(['span-a', 'span-b']);
    expect(second).toMatchObject({ offline: true, stopReason: 'end_turn' });
    expect(second.outputTokens).toBeGreaterThan(0);
  });

  it('answers "Insufficient evidence." when the request carries no context', async () => {
    const completion = await offlineProvider().complete({ modelId: 'offline', system: jsonSystem, messages: [{ role: 'user', text: 'What is the meaning of life?' }] });
    expect(JSON.parse(completion.text)).toEqual({ error: INSUFFICIENT_EVIDENCE });
  });
});

describe('providerFromEnv', () => {
  it('is offline unless configured for Bedrock with a model id', () => {
    expect(providerFromEnv({})).toMatchObject({ name: 'offline', offline: true, defaultModelId: 'offline' });
    expect(providerFromEnv({ LOGLINEOS_MODEL_PROVIDER: 'bedrock', LOGLINEOS_MODEL_ID: 'm-1', AWS_REGION: 'eu-west-1' })).toMatchObject({ name: 'bedrock', offline: false, defaultModelId: 'm-1' });
    expect(() => providerFromEnv({ LOGLINEOS_MODEL_PROVIDER: 'bedrock' })).toThrow('LOGLINEOS_MODEL_ID is not set');
    expect(() => providerFromEnv({ LOGLINEOS_MODEL_PROVIDER: 'openai' })).toThrow('must be "bedrock" or "offline"');
  });
});
