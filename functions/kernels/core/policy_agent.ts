import { capability, defineKernel, type Json } from './kernel-context.ts';

interface PolicyRow {
  id: string;
  name: string | null;
  code: string | null;
  [key: string]: Json;
}

interface Action {
  run?: string;
  span_id?: string;
  input?: Json;
  emit_span?: Record<string, Json>;
}

/**
 * policy_agent: for each active policy the caller owns, evaluates its `on(span)` over the spans of the
 * caller's tenant (or, without a tenant, the caller's own) that arrived since the policy's cursor.
 * Actions: { run: 'run_code', span_id, input? } or { emit_span: {…} }. A failure becomes a
 * policy_error span; each pass ends with a policy_cursor span recording where it stopped.
 * Input: { limit? } (spans per policy per pass).
 */
defineKernel(async (ctx) => {
  const limit = Math.min(Math.max(Number((ctx.input as { limit?: number } | null)?.limit ?? 100), 1), 500);
  const evaluate = capability(ctx, 'evaluatePolicy');
  const runFunction = capability(ctx, 'runFunction');
  const policies = await ctx.sql<PolicyRow>(
    `select p.id, p.name, p.code from ledger.latest_spans p
      where p.entity_type = 'policy' and p.status = 'active' and not p.is_deleted and p.owner_id = $1
      order by p.at, p.id`,
    [ctx.env.user],
  );
  const report: Json[] = [];
  for (const policy of policies) {
    const [cursor] = await ctx.sql<{ tx: string; pos: string }>(
      `select c.metadata ->> 'tx_id' as tx, c.metadata ->> 'position' as pos from ledger.universal_registry c
        where c.entity_type = 'policy_cursor' and c.parent_id = $1 and c.owner_id = $2
        order by c.tx_id desc, c.position desc limit 1`,
      [policy.id, ctx.env.user],
    );
    // Only spans of transactions older than every running one: a later pass never finds one behind its cursor.
    const spans = await ctx.sql<{ tx: string; pos: string; span: Json }>(
      `select s.tx_id::text as tx, s.position::text as pos, to_jsonb(s) - 'code' as span from ledger.universal_registry s
        where (s.tx_id, s.position) > ($1::xid8, $2::bigint) and s.tx_id < pg_snapshot_xmin(pg_current_snapshot())
          and (case when $3::text is null then s.owner_id = $4 and s.tenant_id is null else s.tenant_id = $3 end)
          and s.entity_type not in ('policy_cursor', 'policy_error', 'execution', 'boot_event', 'status_patch', 'policy_violation')
        order by s.tx_id, s.position limit $5`,
      [cursor?.tx ?? '0', cursor?.pos ?? '0', ctx.env.tenant, ctx.env.user, limit],
    );
    let actions = 0;
    let errors = 0;
    for (const row of spans) {
      const spanId = (row.span as { id?: string }).id ?? null;
      try {
        const result = await evaluate(policy.code ?? '', row.span);
        const list = (Array.isArray(result) ? result : result ? [result] : []) as Action[];
        for (const action of list) {
          if (action.run === 'run_code' && typeof action.span_id === 'string') {
            const outcome = await runFunction(action.span_id, action.input ?? row.span);
            if (outcome.status !== 'complete') throw new Error(`run of ${action.span_id}: ${outcome.error?.code ?? 'error'}: ${outcome.error?.message ?? ''}`);
          } else if (action.emit_span && typeof action.emit_span === 'object') {
            await ctx.insertSpan({ who: `policy:${policy.name ?? policy.id}`, did: 'emitted', this: 'policy action', ...action.emit_span, relatedTo: [policy.id, ...(spanId ? [spanId] : [])] });
          } else {
            throw new Error(`unknown action ${JSON.stringify(action)}; use { run: 'run_code', span_id } or { emit_span: {…} }`);
          }
          actions += 1;
        }
      } catch (error) {
        errors += 1;
        await ctx.insertSpan({
          entityType: 'policy_error',
          who: 'kernel:policy_agent',
          did: 'failed',
          this: `policy ${policy.name ?? policy.id}`,
          parentId: policy.id,
          relatedTo: spanId ? [policy.id, spanId] : [policy.id],
          status: 'error',
          error: { message: error instanceof Error ? error.message : String(error) },
        });
      }
    }
    const last = spans.at(-1);
    const next = last ? { tx_id: last.tx, position: last.pos } : { tx_id: cursor?.tx ?? '0', position: cursor?.pos ?? '0' };
    await ctx.insertSpan({
      entityType: 'policy_cursor',
      who: 'kernel:policy_agent',
      did: 'advanced',
      this: `policy ${policy.name ?? policy.id}`,
      parentId: policy.id,
      status: 'complete',
      metadata: { ...next, evaluated: spans.length, actions, errors },
    });
    report.push({ policy: policy.id, evaluated: spans.length, actions, errors, cursor: next });
  }
  return { policies: report.length, report };
});
