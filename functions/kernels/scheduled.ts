import type { Identity } from '../commons/db/index.ts';
import { CORE_KERNELS } from './ids.ts';
import { executeKernel, type KernelServices } from './executor.ts';

/** Entity types the kernels' own machinery writes; they never wake a policy. */
export const MACHINERY_TYPES = ['policy_cursor', 'policy_error', 'execution', 'boot_event', 'status_patch', 'policy_violation'];

// Who has work for each scheduled kernel, read as the ledger role (it sees every owner). Each kernel
// then runs AS that owner, so it reads and writes exactly what the owner could through the API.
const WORK_SQL = {
  observer: `select distinct f.owner_id, f.tenant_id from ledger.latest_spans f
     where f.entity_type = 'function' and f.status = 'scheduled' and not f.is_deleted
       and not exists (select 1 from ledger.universal_registry q where q.entity_type = 'request' and q.owner_id = f.owner_id
                        and q.idempotency_key = f.id::text || ':' || f.seq::text)
     limit 100`,
  request_worker: `select distinct r.owner_id, r.tenant_id from ledger.latest_spans r
     where r.entity_type = 'request' and r.status = 'scheduled' and not r.is_deleted limit 100`,
  policy_agent: `select distinct p.owner_id, p.tenant_id from ledger.latest_spans p
     left join lateral (
       select (c.metadata ->> 'tx_id')::xid8 as tx, (c.metadata ->> 'position')::bigint as pos from ledger.universal_registry c
        where c.entity_type = 'policy_cursor' and c.parent_id = p.id and c.owner_id = p.owner_id
        order by c.tx_id desc, c.position desc limit 1) cursor on true
     where p.entity_type = 'policy' and p.status = 'active' and not p.is_deleted
       and exists (
         select 1 from ledger.universal_registry s
          where (case when p.tenant_id is null then s.owner_id = p.owner_id and s.tenant_id is null else s.tenant_id = p.tenant_id end)
            and s.entity_type <> all ($1::text[])
            and (s.tx_id, s.position) > (coalesce(cursor.tx, '0'::xid8), coalesce(cursor.pos, 0::bigint)))
     limit 100`,
} as const;

export interface PassReport {
  readonly kernel: string;
  readonly owner: string;
  readonly status: string;
  readonly error?: string;
}

/**
 * One scheduled pass (the local interval, or the EventBridge schedule on AWS): observer, then
 * request_worker, then policy_agent, each through stage-0, once per owner that has work for it.
 * Owners with nothing to do cost nothing (no run, no execution span).
 */
export async function runScheduledPass(services: KernelServices, kernels: readonly (keyof typeof WORK_SQL)[] = ['observer', 'request_worker', 'policy_agent']): Promise<PassReport[]> {
  const reports: PassReport[] = [];
  for (const kernel of kernels) {
    const owners = await services.ledger.db.withLedger((tx) =>
      tx.query<{ owner_id: string; tenant_id: string | null }>(WORK_SQL[kernel], kernel === 'policy_agent' ? [MACHINERY_TYPES] : []),
    );
    for (const row of owners) {
      const caller: Identity = { userId: row.owner_id, tenantId: row.tenant_id };
      try {
        const outcome = await executeKernel(services, caller, CORE_KERNELS[kernel], {}, { stage0: true });
        reports.push({ kernel, owner: row.owner_id, status: outcome.status, ...(outcome.error ? { error: `${outcome.error.code}: ${outcome.error.message}` } : {}) });
      } catch (error) {
        reports.push({ kernel, owner: row.owner_id, status: 'refused', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
    }
  }
  return reports;
}

/** Runs passes every `intervalMs` (never two at once) until stopped; stop() waits for the pass in flight. */
export function startKernelInterval(services: KernelServices, intervalMs: number): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = runScheduledPass(services)
      .then((reports) => {
        for (const report of reports) if (report.error) console.error(JSON.stringify({ level: 'warn', message: 'scheduled kernel pass', ...report }));
      })
      .catch((error: unknown) => console.error(JSON.stringify({ level: 'error', message: 'scheduled kernel pass failed', error: String(error) })))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
