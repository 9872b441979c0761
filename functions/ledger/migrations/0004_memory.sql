-- Memory (SPEC §5). Memories are spans (entity_type 'memory'); the spans stay the source of truth.
-- ledger.memory_index is what search needs beside them, one row per memory id:
--   tsv        full-text vector of the memory's text (never of secret or pii text),
--   embedding  its vector (secret and pii only when the writer opted in),
--   key_salt   the random salt the memory's own AES key is derived with (secret and pii); deleting
--              the row on forget makes the ciphertext in every version of the span unreadable.
-- Its read policy is the registry's, on copies of the same owner, tenant and visibility, and every
-- query also joins the span rows under the caller's RLS.

-- Wrapped per-tenant data keys (KMS ciphertext blobs, or wrapped by the local key file). Read and
-- written only as the owner role; the API role has no grant.
create table ledger.memory_keys (
  tenant_key text primary key,
  wrapper text not null,
  wrapped bytea not null,
  created_at timestamptz not null default now()
);

-- pgvector where the server has it (RDS, embedded PGlite): a vector column with an HNSW index on
-- 1536-dimension vectors. Without it (plain PostgreSQL): real[] and an exact scan by the app.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'vector') then
    create extension if not exists vector;
    create table ledger.memory_index (
      id uuid primary key,
      owner_id text not null,
      tenant_id text,
      visibility text not null,
      tsv tsvector,
      embedding vector,
      key_salt bytea
    );
    create index memory_index_hnsw on ledger.memory_index
      using hnsw ((embedding::vector(1536)) vector_cosine_ops) with (m = 16, ef_construction = 128)
      where vector_dims(embedding) = 1536;
  else
    create table ledger.memory_index (
      id uuid primary key,
      owner_id text not null,
      tenant_id text,
      visibility text not null,
      tsv tsvector,
      embedding real[],
      key_salt bytea
    );
  end if;
end
$$;

create index memory_index_tsv on ledger.memory_index using gin (tsv) where tsv is not null;
create index memory_index_owner on ledger.memory_index (owner_id);

alter table ledger.memory_index enable row level security;
alter table ledger.memory_index force row level security;

create policy memory_index_read on ledger.memory_index for select using (
  visibility = 'public'
  or owner_id = ledger.current_user_id()
  or (visibility = 'tenant' and tenant_id = ledger.current_tenant_id())
);
create policy memory_index_insert on ledger.memory_index for insert with check (
  owner_id = ledger.current_user_id()
  and (tenant_id is null or tenant_id = ledger.current_tenant_id())
);
create policy memory_index_update on ledger.memory_index for update
  using (owner_id = ledger.current_user_id())
  with check (owner_id = ledger.current_user_id() and (tenant_id is null or tenant_id = ledger.current_tenant_id()));
create policy memory_index_delete on ledger.memory_index for delete using (owner_id = ledger.current_user_id());

grant select, insert, update, delete on ledger.memory_index to loglineos_api;
grant select on ledger.memory_index to loglineos_ledger;

-- Memory reads filter the registry on these.
create index registry_memory_session on ledger.universal_registry (session_id, owner_id) where entity_type = 'memory';
create index registry_memory_expiry on ledger.universal_registry (expires_at) where entity_type = 'memory' and expires_at is not null;
