import { MANIFEST_ID } from '../ids.ts';
import { defineKernel, type Json } from './kernel-context.ts';

/** The executor's default when the manifest does not say (functions/kernels/manifest.ts). */
const DEFAULT_DAILY_LIMIT = 100;

/**
 * observer: every function the caller owns whose latest version has status `scheduled` gets one
 * `request` span (idempotent per function version: its idempotency key is `<id>:<seq>`), unless the
 * caller's tenant has already used its daily executions (the manifest's
 * `throttle.per_tenant_daily_exec_limit`): then nothing is requested, the output lists the skipped
 * functions and why, and a later pass requests them once the quota resets. Input: { limit? }.
 */
defineKernel(async (ctx): Promise<Json> => {
  const limit = Math.min(Math.max(Number((ctx.input as { limit?: number } | null)?.limit ?? 50), 1), 200);
  const due = await ctx.sql<{ id: string; seq: number; name: string | null }>(
    `select f.id, f.seq, f.name from ledger.latest_spans f
      where f.entity_type = 'function' and f.status = 'scheduled' and not f.is_deleted and f.owner_id = $1
        and not exists (select 1 from ledger.universal_registry q
                         where q.entity_type = 'request' and q.owner_id = $1 and q.idempotency_key = f.id::text || ':' || f.seq::text)
      order by f.at limit $2`,
    [ctx.env.user, limit],
  );
  if (due.length === 0) return { scheduled: 0, requests: [], skipped: [] };

  // The same count the executor checks (the tenant's executions today, UTC), against the manifest's limit.
  const [quota] = await ctx.sql<{ daily_limit: string | null; used: number }>(
    `select (select m.metadata -> 'throttle' ->> 'per_tenant_daily_exec_limit' from ledger.latest_spans m
              where m.id = $1::uuid and m.entity_type = 'manifest' and not m.is_deleted) as daily_limit,
            ledger.kernel_executions_today() as used`,
    [MANIFEST_ID],
  );
  const configured = Number(quota?.daily_limit ?? DEFAULT_DAILY_LIMIT);
  const dailyLimit = Number.isSafeInteger(configured) && configured >= 0 ? configured : DEFAULT_DAILY_LIMIT;
  const used = Number(quota?.used ?? 0);
  if (used >= dailyLimit) {
    const skipped: Json[] = due.map((fn) => fn.id);
    return {
      scheduled: 0,
      requests: [],
      skipped,
      reason: `QuotaExceeded: your tenant has used ${used} of its ${dailyLimit} kernel executions today (UTC); these functions are requested once the quota resets`,
    };
  }

  const created: string[] = [];
  for (const fn of due) {
    const request = await ctx.insertSpan({
      entityType: 'request',
      who: 'kernel:observer',
      did: 'scheduled',
      this: `run ${fn.name ?? fn.id}`,
      parentId: fn.id,
      relatedTo: [fn.id],
      status: 'scheduled',
      idempotencyKey: `${fn.id}:${fn.seq}`,
      scheduledAt: ctx.now(),
      input: null,
    });
    created.push(request.id);
  }
  return { scheduled: created.length, requests: created, skipped: [] };
});
