import { parentPort } from 'node:worker_threads';
import { verifyBatch, type BatchJob } from './verify-batch.ts';

/*
 * A verification worker (started by verify-pool.ts): checks one batch of spans per message and
 * answers with its outcome. A batch is one message each way, whatever its size.
 */

export type ToVerifyWorker = { readonly id: number; readonly job: BatchJob };
export type FromVerifyWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly outcome: ReturnType<typeof verifyBatch> }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

const port = parentPort;
if (!port) throw new Error('verify-worker.ts runs inside a worker_threads Worker started by verify-pool.ts');

port.on('message', ({ id, job }: ToVerifyWorker) => {
  let answer: FromVerifyWorker;
  try {
    answer = { type: 'done', id, outcome: verifyBatch(job) };
  } catch (error) {
    answer = { type: 'failed', id, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(answer);
});
port.postMessage({ type: 'ready' } satisfies FromVerifyWorker);
