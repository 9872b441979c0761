-- Kernels: the executor's daily quota counts a tenant's executions inside the run's own transaction,
-- under the tenant's quota lock. The count must see every execution of the tenant, including ones the
-- caller cannot read, but only as a number and only for the caller's own tenant (or, without a
-- tenant, the caller's own tenantless executions). The day is UTC, by the ledger's own clock.
create index registry_executions_tenant on ledger.universal_registry (tenant_id, recorded_at)
  where entity_type = 'execution';
create index registry_executions_owner on ledger.universal_registry (owner_id, recorded_at)
  where entity_type = 'execution' and tenant_id is null;
-- Requests and policies are found by status per owner (request_worker, observer, policy_agent).
create index registry_kernel_work on ledger.universal_registry (owner_id, entity_type, status)
  where entity_type in ('request', 'function', 'policy');

create function ledger.kernel_executions_today() returns integer language sql stable security definer
set search_path = pg_catalog, ledger as $$
  select count(*)::int from ledger.universal_registry r
   where r.entity_type = 'execution' and r.seq = 0
     -- the five core kernels' own passes are free (the functions they run are counted), and only while
     -- every version of that id is the system's: any other function, whatever its id, is counted
     and not (r.parent_id in ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
                              '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000004',
                              '00000000-0000-4000-8000-000000000005')
              and not exists (select 1 from ledger.universal_registry k
                               where k.id = r.parent_id and k.owner_id is distinct from 'system:loglineos'))
     and r.recorded_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
     and case when ledger.current_tenant_id() is null
              then r.tenant_id is null and r.owner_id = ledger.current_user_id()
              else r.tenant_id = ledger.current_tenant_id() end
$$;

alter function ledger.kernel_executions_today() owner to loglineos_ledger;
revoke execute on function ledger.kernel_executions_today() from public;
grant execute on function ledger.kernel_executions_today() to loglineos_api;
