import { capability, defineKernel, type Json } from './kernel-context.ts';

/**
 * run_code: runs one function span through the executor as the caller. The executor does the tenant
 * check, the daily quota under its lock, the lock on the function, the sandboxed run with the
 * manifest's timeout, the signed execution span and the slow status_patch.
 * Input: { span_id, input? }.
 */
defineKernel(async (ctx) => {
  const request = ctx.input as { span_id?: Json; input?: Json } | null;
  const spanId = request?.span_id;
  if (typeof spanId !== 'string') throw new Error('run_code needs input { span_id: "<function span id>", input?: … }');
  const runFunction = capability(ctx, 'runFunction');
  const result = await runFunction(spanId, request?.input ?? null);
  return { span_id: spanId, ...result } as unknown as Json;
});
