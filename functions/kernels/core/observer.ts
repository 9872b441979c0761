import { defineKernel } from './kernel-context.ts';

/**
 * observer: every function the caller owns whose latest version has status `scheduled` gets one
 * `request` span (idempotent per function version: its idempotency key is `<id>:<seq>`).
 * Input: { limit? }.
 */
defineKernel(async (ctx) => {
  const limit = Math.min(Math.max(Number((ctx.input as { limit?: number } | null)?.limit ?? 50), 1), 200);
  const due = await ctx.sql<{ id: string; seq: number; name: string | null }>(
    `select f.id, f.seq, f.name from ledger.latest_spans f
      where f.entity_type = 'function' and f.status = 'scheduled' and not f.is_deleted and f.owner_id = $1
        and not exists (select 1 from ledger.universal_registry q
                         where q.entity_type = 'request' and q.owner_id = $1 and q.idempotency_key = f.id::text || ':' || f.seq::text)
      order by f.at limit $2`,
    [ctx.env.user, limit],
  );
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
  return { scheduled: created.length, requests: created };
});
