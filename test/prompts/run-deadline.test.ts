import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { getSpan } from '../../functions/ledger/index.ts';
import { offlineProvider } from '../../functions/models/index.ts';
import { createPromptRuntime, executeRun } from '../../functions/prompts/index.ts';
import type { MemorySearch } from '../../functions/prompts/context.ts';
import type { PromptRunEvent } from '../../functions/prompts/run-events.ts';
import type { RunJob } from '../../functions/prompts/types.ts';
import { openTestLedger, persona, type TestLedger } from '../support/ledger.ts';

/*
 * A run's deadline covers every step: a memory search (or its embedding call) that never answers ends
 * the run too; and closing the host aborts the runs in flight instead of waiting for their deadline.
 */

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

test('given a run in flight with the default 300 s deadline, when the runtime closes, then the run is aborted at once and ends with a ShuttingDown error span', async () => {
  const alice = persona('alice', 'acme');
  let searching!: () => void;
  const started = new Promise<void>((resolve) => (searching = resolve));
  const hanging: MemorySearch = () => {
    searching();
    return new Promise(() => undefined);
  };
  const runtime = createPromptRuntime({ ledger, env: {}, memory: hanging });
  expect(runtime.settings.runTimeoutMs).toBe(300_000);
  const runId = randomUUID();
  await runtime.launch({
    runId,
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
  });
  await started;
  // when the host closes (the test's own timeout is far below the run's deadline)
  await runtime.close();
  // then the run was recorded as ended by the shutdown
  const span = await getSpan(ledger, alice, runId);
  expect(span).toMatchObject({ entityType: 'prompt_run', status: 'error' });
  expect(JSON.stringify(span)).toContain('the server is shutting down');
}, 20_000);
