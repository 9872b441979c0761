import { randomUUID } from 'node:crypto';
import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { Worker } from 'node:worker_threads';
import { appendSpan, applySeeds, signerFromSeed, type Ledger } from '../functions/ledger/index.ts';
import { PROMPT_SEED } from '../functions/prompts/index.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, percentile, ratio } from './report.ts';

const RUNS = Number(process.env.BENCH_PROMPT_RUNS ?? 200);
const REPLY = JSON.stringify({ text: `${'A streamed answer with some words in it. '.repeat(10).trim()}`, confidence: 0.7, actions: [], citations: [] });

/**
 * What our path adds to a prompt run, with Bedrock mocked at the SDK client so the model streams
 * instantly (the reply in 40 deltas): from sending runPrompt to the first chunk at a subscriber on a
 * real socket (in its own thread), and from the model's last token to the final event there (PostgreSQL, one user,
 * sequential runs). Baselines for the ratios, in the same run: a plain HTTP round trip (timelineHead)
 * and one ledger append of a run-sized span (the durable write a run makes before its final event).
 */
export async function promptsBench(url: string): Promise<void> {
  await withBenchDatabase(url, 8, async ({ db, issuer }) => {
    const ledger: Ledger = { db, signer: signerFromSeed('42'.repeat(32)) };
    await applySeeds(ledger, [PROMPT_SEED]);
    let lastTokenAt = 0;
    let firstTokenAt = 0;
    const deltas = REPLY.match(/.{1,8}/gs) ?? [];
    const bedrock = mockClient(BedrockRuntimeClient);
    bedrock.on(ConverseStreamCommand).callsFake(() => ({
      stream: (async function* (): AsyncIterable<ConverseStreamOutput> {
        for (const [index, text] of deltas.entries()) {
          if (index === 0) firstTokenAt = performance.timeOrigin + performance.now();
          if (index === deltas.length - 1) lastTokenAt = performance.timeOrigin + performance.now();
          yield { contentBlockDelta: { contentBlockIndex: 0, delta: { text } } };
        }
        yield { messageStop: { stopReason: 'end_turn' } };
        yield { metadata: { usage: { inputTokens: 100, outputTokens: 50, totalTokens: 150 }, metrics: { latencyMs: 0 } } };
      })(),
    }));
    const env = { ...process.env, LOGLINEOS_MODEL_PROVIDER: 'bedrock', LOGLINEOS_MODEL_ID: 'bench-model', AWS_REGION: 'us-east-1' };
    const server = await createLocalServer({ ledger, apiKey: 'da2-bench', issuer, env });
    const endpoint = await server.listen(0);
    const host = new URL(endpoint).host;
    const token = await issuer.issue({ user: 'bench-user', tenant: 'bench' });
    console.log(`\n# prompts: ${RUNS} runs, Bedrock mocked (instant stream, ${deltas.length} deltas), subscriber on a real socket, PostgreSQL`);

    const post = (query: string, variables?: Record<string, unknown>) =>
      fetch(endpoint, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }).then((r) => r.json() as Promise<{ errors?: unknown[] }>);

    const worker = new Worker(new URL('./prompt-subscriber.worker.mjs', import.meta.url), {
      workerData: { realtimeUrl: endpoint.replace('http', 'ws').replace(/\/graphql$/, '/graphql/realtime'), host, token },
    });
    type Report = { type: string; runId?: string; firstAt?: number; finalAt?: number; kind?: string };
    const next = (type: string) => new Promise<Report>((resolve) => {
      const listen = (message: Report) => {
        if (message.type !== type) return;
        worker.off('message', listen);
        resolve(message);
      };
      worker.on('message', listen);
    });
    await next('ready');
    const now = () => performance.timeOrigin + performance.now();

    const roundTrips: number[] = [];
    const toFirst: number[] = [];
    const toFinal: number[] = [];
    const answered: number[] = [];
    const tokenToChunk: number[] = [];
    const appends: number[] = [];
    for (let i = 0; i < RUNS + 20; i += 1) {
      const runId = randomUUID();
      const subscribed = next('subscribed');
      worker.postMessage({ type: 'subscribe', runId });
      await subscribed;
      const rt0 = now();
      await post('{ timelineHead }');
      const rt1 = now();
      // the durable write a run makes before its final event, alone: one prompt_run-sized span
      const ap0 = now();
      await appendSpan(ledger, { userId: 'bench-user', tenantId: 'bench' }, { id: randomUUID(), seq: 0, entityType: 'prompt_run', who: 'user:bench-user', did: 'ran', this: 'assistant@v1', status: 'complete', input: { userInput: `question ${i}` }, output: JSON.parse(REPLY) as Record<string, unknown> });
      const ap1 = now();
      const done = next('done');
      const sentAt = now();
      const started = await post('mutation R($input: RunPromptInput!) { runPrompt(input: $input) { runId } }', { input: { runId, family: 'assistant', userInput: `question ${i}`, useMemory: false } });
      if (started.errors) throw new Error(JSON.stringify(started.errors));
      const answeredAt = now();
      const report = await done;
      if (report.kind !== 'result') throw new Error(`run ${runId} ended in ${report.kind}`);
      if (i < 20) continue; // warm-up
      roundTrips.push(rt1 - rt0);
      toFirst.push(report.firstAt! - sentAt);
      toFinal.push(report.finalAt! - lastTokenAt);
      answered.push(answeredAt - sentAt);
      appends.push(ap1 - ap0);
      tokenToChunk.push(report.firstAt! - firstTokenAt);
    }
    worker.postMessage({ type: 'close' });
    await worker.terminate();
    await server.close();
    bedrock.restore();
    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    const [rt, first, final] = [sorted(roundTrips), sorted(toFirst), sorted(toFinal)];
    line('HTTP round trip, timelineHead (baseline) p50', ms(percentile(rt, 50)));
    line('one ledger append of a run span, in process (baseline) p50', ms(percentile(sorted(appends), 50)));
    line('runPrompt sent → first chunk at subscriber p50', ms(percentile(first, 50)));
    line('runPrompt sent → first chunk at subscriber p99', ms(percentile(first, 99)), 'goal ≤ 10 ms');
    line('last model token → final event at subscriber p50', ms(percentile(final, 50)));
    line('last model token → final event at subscriber p99', ms(percentile(final, 99)), 'goal ≤ 10 ms');
    line('  of which: runPrompt answered (HTTP) p50', ms(percentile(sorted(answered), 50)));
    line('  of which: model first token → first chunk at subscriber p50', ms(percentile(sorted(tokenToChunk), 50)));
    ratio('first chunk p50 ÷ HTTP round trip p50', percentile(first, 50) / percentile(rt, 50), 'for scale');
    ratio('final event p50 ÷ one ledger append p50', percentile(final, 50) / percentile(sorted(appends), 50), 'for scale');
  });
}
