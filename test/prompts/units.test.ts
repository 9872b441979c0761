import { describe, expect, test } from 'vitest';
import { estimateTokens } from '../../functions/models/index.ts';
import { fitContext, readReply, RunEventStream, type PromptRunEvent } from '../../functions/prompts/index.ts';

describe('RunEventStream', () => {
  test('keeps order with a slow publisher by joining what arrives meanwhile, then sends one final event', async () => {
    // given a publisher that takes a while per event
    const sent: PromptRunEvent[] = [];
    const stream = new RunEventStream(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      sent.push(event);
    }, { runId: 'r', ownerId: 'u', tenantId: 't' });
    // when ten chunks arrive at once and the run finishes
    for (let i = 0; i < 10; i++) stream.chunk(`${i},`);
    await stream.finish('result', { status: 'complete' });
    // then every character arrived once, in order, in fewer events, numbered from 0, the final last
    expect(sent.filter((e) => e.kind === 'chunk').map((e) => e.text).join('')).toBe('0,1,2,3,4,5,6,7,8,9,');
    expect(sent.length).toBeLessThan(11);
    expect(sent.map((e) => e.seq)).toEqual(sent.map((_, i) => i));
    expect(sent.at(-1)).toMatchObject({ kind: 'result', result: '{"status":"complete"}', ownerId: 'u', tenantId: 't' });
  });

  test('a failed publish is logged and the run still sends its final event', async () => {
    const sent: string[] = [];
    let calls = 0;
    const stream = new RunEventStream(async (event) => {
      if (calls++ === 0) throw new Error('network down');
      sent.push(event.kind);
    }, { runId: 'r', ownerId: 'u', tenantId: null });
    stream.chunk('lost');
    await stream.finish('error', { code: 'X' });
    expect(sent).toEqual(['error']);
  });
});

describe('fitContext', () => {
  test('keeps the best pieces whole within the budget and cuts the next one', () => {
    const pieces = Array.from({ length: 10 }, (_, i) => ({ spanId: `s${i}`, text: 'word '.repeat(100), score: 1 - i / 10 }));
    const kept = fitContext(pieces, 300);
    const cost = kept.reduce((sum, p) => sum + estimateTokens(`[${p.spanId}] ${p.text}`), 0);
    expect(cost).toBeLessThanOrEqual(300);
    expect(kept.map((p) => p.spanId)).toEqual(['s0', 's1', 's2']);
    expect(kept[2]!.text.endsWith('...')).toBe(true);
  });
});

describe('readReply', () => {
  const ids = new Set(['a']);
  test('accepts the contract, fenced or not, and "Insufficient evidence." in either form', () => {
    expect(readReply('```json\n{"text":"t","confidence":0.2,"actions":[{"type":"call"}],"citations":["a"],"follow_up_question":"Which?"}\n```', ids).status).toBe('complete');
    expect(readReply('{"error": "Insufficient evidence."}', ids).status).toBe('insufficient_evidence');
    expect(readReply('Insufficient evidence.', ids).status).toBe('insufficient_evidence');
  });
  test('refuses a reply missing fields or with extra ones', () => {
    expect(readReply('{"text":"t","confidence":0.2,"citations":[]}', ids)).toMatchObject({ status: 'contract_violation' });
    expect(readReply('{"text":"t","confidence":0.2,"actions":[],"citations":[],"extra":1}', ids)).toMatchObject({ status: 'contract_violation' });
    expect(readReply('{"error":"nope"}', ids)).toMatchObject({ status: 'contract_violation' });
  });
});
