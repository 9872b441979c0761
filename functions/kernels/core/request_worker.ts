import { capability, defineKernel, type Json } from './kernel-context.ts';

interface RequestRow {
  id: string;
  seq: number;
  parent_id: string | null;
  input: Json;
  metadata: Json;
  attempt: number | null;
  [key: string]: Json;
}

/**
 * request_worker: takes the caller's scheduled requests in order, runs each one's target through the
 * executor (which locks the target), and records the request's completion as a new version of the
 * request (status complete or error, the execution it produced). A request whose target is busy stays
 * scheduled for the next pass; one that is no longer scheduled when its target's lock is taken
 * (served or cancelled meanwhile) is skipped. Input: { request_id?, limit? }.
 */
defineKernel(async (ctx) => {
  const input = (ctx.input ?? {}) as { request_id?: string; limit?: number };
  const limit = Math.min(Math.max(Number(input.limit ?? 10), 1), 50);
  const runFunction = capability(ctx, 'runFunction');
  const pending = await ctx.sql<RequestRow>(
    `select r.id, r.seq, r.parent_id, r.input, r.metadata, r.attempt from ledger.latest_spans r
      where r.entity_type = 'request' and r.status = 'scheduled' and not r.is_deleted and r.owner_id = $1
        and ($2::uuid is null or r.id = $2::uuid)
      order by r.at, r.id limit $3`,
    [ctx.env.user, input.request_id ?? null, limit],
  );
  const done: Json[] = [];
  for (const request of pending) {
    if (!request.parent_id) continue;
    const result = await runFunction(request.parent_id, request.input, { requestId: request.id });
    if (result.status === 'refused' && result.error?.code === 'KernelBusy') {
      done.push({ request: request.id, status: 'busy' });
      continue;
    }
    // Served or cancelled since it was read (checked by the executor under the target's lock): nothing ran.
    if (result.status === 'refused' && result.error?.code === 'RequestNotScheduled') {
      done.push({ request: request.id, status: 'skipped' });
      continue;
    }
    const status = result.status === 'complete' ? 'complete' : 'error';
    await ctx.insertSpan({
      id: request.id,
      seq: request.seq + 1,
      entityType: 'request',
      who: 'kernel:request_worker',
      did: status === 'complete' ? 'completed' : 'failed',
      this: `request ${request.id}`,
      parentId: request.parent_id,
      relatedTo: result.executionId ? [request.parent_id, result.executionId] : [request.parent_id],
      status,
      input: request.input,
      output: result.output,
      error: result.error as unknown as Json,
      metadata: request.metadata,
      attempt: (request.attempt ?? 0) + 1,
      finishedAt: ctx.now(),
    });
    done.push({ request: request.id, status, execution: result.executionId });
  }
  return { processed: done.length, requests: done };
});
