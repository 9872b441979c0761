-- A Merkle log per chain (RFC 9162, Certificate Transparency v2 tree hashing): the leaves are the
-- chain's spans in chain order, each leaf the 32 bytes of the span's curr_hash. Every complete perfect
-- subtree's hash is kept: node (level l, idx k) covers leaves [k·2^l, (k+1)·2^l), level 0 holds the
-- leaf hashes SHA-256(0x00 || curr_hash) and level l+1 the node hashes SHA-256(0x01 || left || right).
-- Any root, inclusion proof or consistency proof is then O(log n) reads (functions/ledger/merkle.ts).
-- Appending leaf i writes its leaf node and one parent per trailing 1 bit of i: two rows on average.
create table ledger.merkle_node (
  chain_key text not null,
  level smallint not null check (level between 0 and 62),
  idx bigint not null check (idx >= 0),
  hash bytea not null check (octet_length(hash) = 32),
  primary key (chain_key, level, idx)
);

-- Append-only like the registry: a node, once complete, never changes.
create trigger merkle_node_append_only
  before update or delete on ledger.merkle_node
  for each row execute function ledger.refuse_change();

create trigger merkle_node_no_truncate
  before truncate on ledger.merkle_node
  for each statement execute function ledger.refuse_change();

-- Only the ledger's own machinery touches the nodes: the linking trigger writes them (as the ledger
-- role), proofs read them as the ledger role after the caller's right to the log was checked.
grant select, insert on ledger.merkle_node to loglineos_ledger;

-- Adds leaf `leaf_seq - 1` of a chain's log and every node it completes. Only the ledger role may run
-- it (no EXECUTE for anyone else): a caller who could add nodes could forge the log.
create function ledger.merkle_add_leaf(chain text, leaf_seq bigint, leaf_hex text) returns void language plpgsql
set search_path = pg_catalog, ledger as $$
declare
  node_level integer := 0;
  node_index bigint := leaf_seq - 1;
  node_hash bytea := sha256('\x00'::bytea || decode(leaf_hex, 'hex'));
  sibling bytea;
begin
  loop
    insert into ledger.merkle_node (chain_key, level, idx, hash) values (chain, node_level, node_index, node_hash);
    exit when node_index % 2 = 0;
    select m.hash into strict sibling from ledger.merkle_node m
     where m.chain_key = chain and m.level = node_level and m.idx = node_index - 1;
    node_hash := sha256('\x01'::bytea || sibling || node_hash);
    node_level := node_level + 1;
    node_index := node_index / 2;
  end loop;
end
$$;

alter function ledger.merkle_add_leaf(text, bigint, text) owner to loglineos_ledger;
revoke execute on function ledger.merkle_add_leaf(text, bigint, text) from public;

-- The registry's rows join their chain's log. An AFTER trigger, so that a row skipped by ON CONFLICT
-- DO NOTHING (which runs BEFORE triggers first) adds nothing; it runs inside the inserting
-- transaction, under the chain lock link_span took, so the tree grows in chain order.
create function ledger.grow_merkle_log() returns trigger language plpgsql security definer
set search_path = pg_catalog, ledger as $$
begin
  perform ledger.merkle_add_leaf(new.chain_key, new.chain_seq, new.curr_hash);
  return null;
end
$$;

alter function ledger.grow_merkle_log() owner to loglineos_ledger;

create trigger registry_merkle
  after insert on ledger.universal_registry
  for each row execute function ledger.grow_merkle_log();

-- The chains written before this migration join their logs now, in chain order. As the ledger role:
-- RLS is forced, so the migrating role (on RDS the master user, no superuser) would see only some rows.
set local role loglineos_ledger;
do $$
declare
  span record;
begin
  for span in select chain_key, chain_seq, curr_hash from ledger.universal_registry order by chain_key, chain_seq loop
    perform ledger.merkle_add_leaf(span.chain_key, span.chain_seq, span.curr_hash);
  end loop;
end
$$;
reset role;
