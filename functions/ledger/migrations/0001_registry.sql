-- The ledger: one append-only table of spans, hash-chained per tenant, read through row-level security.
-- Column meanings are in docs/columns.md (generated from functions/ledger/columns.ts).

create schema if not exists ledger;

-- Two roles that never log in themselves: a login role is granted them, and each transaction switches
-- with set_config('role', …, true).
--   loglineos_api: the API and kernels; SELECT and INSERT only, always under RLS.
--   loglineos_ledger: the ledger's own machinery (chain linking, verification); reads every row, writes none.
do $$
begin
  create role loglineos_api nologin;
exception
  when duplicate_object or unique_violation then null; -- another database of this cluster made it first
end
$$;
do $$
begin
  create role loglineos_ledger nologin;
exception
  when duplicate_object or unique_violation then null;
end
$$;
grant loglineos_api, loglineos_ledger to current_user;

create table ledger.universal_registry (
  id uuid not null,
  seq integer not null check (seq >= 0),
  entity_type text not null,
  who text not null,
  did text not null,
  "this" text not null,
  at timestamptz not null,

  parent_id uuid,
  related_to uuid[],

  owner_id text not null,
  tenant_id text,
  visibility text not null default 'private' check (visibility in ('private', 'tenant', 'public')),

  status text,
  is_deleted boolean not null default false,

  name text,
  description text,
  code text,
  language text,
  runtime text,
  input jsonb,
  output jsonb,
  error jsonb,

  duration_ms integer,
  trace_id text,

  prev_hash text,
  curr_hash text not null check (curr_hash ~ '^[0-9a-f]{64}$'),
  signature text check (signature ~ '^[0-9a-f]{128}$'),
  public_key text check (public_key ~ '^[0-9a-f]{64}$'),
  sig_alg text,
  sig_key_id text,

  metadata jsonb,
  content jsonb,

  layer text,
  memory_type text,
  sensitivity text,
  session_id text,
  ttl_seconds integer,
  expires_at timestamptz,
  schema_id text,
  tags text[],
  enc_alg text,
  enc_key_ref text,

  model text,
  provider text,
  compiled_hash text,
  variant text,
  prompt_family text,
  priority integer,
  confidence double precision,
  input_tokens integer,
  output_tokens integer,
  latency_ms integer,
  ttft_ms integer,

  app_id text,
  device_id text,
  scopes text[],
  token_hash text,

  scheduled_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  attempt integer,
  idempotency_key text,

  chain_key text not null,
  chain_seq bigint not null,
  chain_hash text not null,
  position bigint not null,
  tx_id xid8 not null default pg_current_xact_id(),
  recorded_at timestamptz not null default clock_timestamp(),

  primary key (id, seq),
  check ((signature is null) = (public_key is null))
);

-- Assigned after the chain lock is taken, so positions rise along every chain.
create sequence ledger.position_seq as bigint;

create unique index registry_position on ledger.universal_registry (position);
create unique index registry_chain on ledger.universal_registry (chain_key, chain_seq);
create index registry_timeline on ledger.universal_registry (tx_id, position);
create index registry_at on ledger.universal_registry (at);
create index registry_entity_at on ledger.universal_registry (entity_type, at);
create index registry_tenant on ledger.universal_registry (tenant_id, entity_type, at);
create index registry_owner on ledger.universal_registry (owner_id, at);
create index registry_trace on ledger.universal_registry (trace_id) where trace_id is not null;
create index registry_parent on ledger.universal_registry (parent_id) where parent_id is not null;
create index registry_related on ledger.universal_registry using gin (related_to) where related_to is not null;
create index registry_metadata on ledger.universal_registry using gin (metadata jsonb_path_ops) where metadata is not null;
create index registry_tombstones on ledger.universal_registry (id) where is_deleted;

-- Append-only, for every role: rows are never changed or removed. A change is a new version.
create function ledger.refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'ledger.universal_registry is append-only: % refused; append a new version (seq + 1) instead', tg_op
    using errcode = 'P0001', hint = 'LEDGER_APPEND_ONLY';
end
$$;

create trigger registry_append_only
  before update or delete on ledger.universal_registry
  for each row execute function ledger.refuse_change();

create trigger registry_no_truncate
  before truncate on ledger.universal_registry
  for each statement execute function ledger.refuse_change();

-- Links every new row into its chain. It runs as the table owner (security definer) so the link is
-- computed from the whole chain, not the part the caller may read, and nobody can choose their own
-- links. The chain lock is transaction-scoped: it is released by the commit that makes the row visible,
-- so the next writer of the chain always sees this row as the head. Concurrent writers of one chain
-- queue on the lock; writers of different chains do not meet.
create function ledger.link_span() returns trigger language plpgsql security definer
set search_path = pg_catalog, ledger as $$
declare
  head record;
  previous record;
begin
  new.chain_key := coalesce(new.tenant_id, '');

  if new.seq > 0 then
    select owner_id, tenant_id into previous
      from ledger.universal_registry where id = new.id and seq = new.seq - 1;
    if not found then
      raise exception 'seq % of % has no version % before it', new.seq, new.id, new.seq - 1
        using errcode = 'P0001', hint = 'LEDGER_SEQ_GAP';
    end if;
    if previous.owner_id is distinct from new.owner_id or previous.tenant_id is distinct from new.tenant_id then
      raise exception 'a new version of % must keep its owner and tenant', new.id
        using errcode = 'P0001', hint = 'LEDGER_OWNER_CHANGE';
    end if;
  end if;

  perform pg_advisory_xact_lock(hashtextextended('ledger.chain:' || new.chain_key, 0));

  select r.chain_seq, r.curr_hash, r.chain_hash into head
    from ledger.universal_registry r
   where r.chain_key = new.chain_key
   order by r.chain_seq desc
   limit 1;

  if found then
    new.chain_seq := head.chain_seq + 1;
    new.prev_hash := head.curr_hash;
    new.chain_hash := encode(sha256(decode(head.chain_hash, 'hex') || decode(new.curr_hash, 'hex')), 'hex');
  else
    new.chain_seq := 1;
    new.prev_hash := null;
    new.chain_hash := encode(sha256(decode(repeat('00', 32), 'hex') || decode(new.curr_hash, 'hex')), 'hex');
  end if;
  new.position := nextval('ledger.position_seq');
  new.recorded_at := clock_timestamp();
  new.tx_id := pg_current_xact_id();
  return new;
end
$$;

alter function ledger.link_span() owner to loglineos_ledger;

create trigger registry_link
  before insert on ledger.universal_registry
  for each row execute function ledger.link_span();

-- Row-level security (SPEC §3.3). The caller is set per transaction with set_config(…, true).
create function ledger.current_user_id() returns text language sql stable as $$
  select nullif(current_setting('app.user_id', true), '')
$$;

create function ledger.current_tenant_id() returns text language sql stable as $$
  select nullif(current_setting('app.tenant_id', true), '')
$$;

alter table ledger.universal_registry enable row level security;
alter table ledger.universal_registry force row level security;

create policy registry_read on ledger.universal_registry for select using (
  visibility = 'public'
  or owner_id = ledger.current_user_id()
  or (visibility = 'tenant' and tenant_id = ledger.current_tenant_id())
);

-- The ledger role reads everything: linking and verification must see whole chains.
create policy registry_ledger_read on ledger.universal_registry for select to loglineos_ledger using (true);

create policy registry_insert on ledger.universal_registry for insert with check (
  owner_id = ledger.current_user_id()
  and (tenant_id is null or tenant_id = ledger.current_tenant_id())
);

-- The latest visible version of each id. security_invoker makes the caller's RLS apply through views.
create view ledger.latest_spans with (security_invoker = true) as
  select distinct on (id) *
    from ledger.universal_registry
   order by id, seq desc;

-- Every version of every id that has not been tombstoned.
create view ledger.visible_timeline with (security_invoker = true) as
  select r.*
    from ledger.universal_registry r
   where not exists (select 1 from ledger.universal_registry t where t.id = r.id and t.is_deleted);

grant usage on schema ledger to loglineos_api;
grant select, insert on ledger.universal_registry to loglineos_api;
grant select on ledger.latest_spans, ledger.visible_timeline to loglineos_api;
grant execute on function ledger.current_user_id(), ledger.current_tenant_id() to loglineos_api;
grant usage on schema ledger to loglineos_ledger;
grant usage on sequence ledger.position_seq to loglineos_ledger;
grant select on ledger.universal_registry, ledger.latest_spans, ledger.visible_timeline to loglineos_ledger;
