import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { getSpan } from '../../functions/ledger/index.ts';
import { offlineProvider } from '../../functions/models/index.ts';
import { executeRun } from '../../functions/prompts/index.ts';
import type { MemorySearch } from '../../functions/prompts/context.ts';
import type { PromptRunEvent } from '../../functions/prompts/run-events.ts';
import type { RunJob } from '../../functions/prompts/types.ts';
import { openTestLedger, persona, type TestLedger } from '../support/ledger.ts';

/* A run's deadline covers every step: a memory search (or its embedding call) that never answers ends the run too. */

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(async () => ledger.close());

test('given a memory search that never resolves, when the deadline passes, then the run ends with an error event and an error span', async () => {
  const alice = persona('alice', 'acme');
  const hanging: MemorySearch = () => new Promise(() => undefined);
  const events: PromptRunEvent[] = [];
  const job: RunJob = {
    runId: randomUUID(),
    identity: alice,
    traceId: randomUUID(),
    variant: { id: randomUUID(), seq: 0, name: 'assistant@test', family: 'assistant' },
    compiled: { system: 'Answer in JSON with a confidence.', hash: 'h', blocks: [] },
    variables: {},
    userInput: 'What is due on Friday?',
    useMemory: true,
    sessionId: null,
    modelId: 'offline',
    startedAt: new Date().toISOString(),
  };
  const outcome = await executeRun(
    {
      ledger,
      model: offlineProvider(),
      events: async (event) => void events.push(event),
      memory: hanging,
      settings: { maxContextTokens: 1500, topK: 8, runTimeoutMs: 200, maxOutputTokens: 256 },
    },
    job,
  );
  expect(outcome).toMatchObject({ status: 'error', error: { code: 'Timeout' } });
  expect(events.at(-1)).toMatchObject({ kind: 'error' });
  expect(await getSpan(ledger, alice, job.runId)).toMatchObject({ entityType: 'prompt_run', status: 'error' });
});
