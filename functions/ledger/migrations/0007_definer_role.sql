-- The ledger's security-definer functions get an owner of their own that nobody logs in as and no login
-- role is granted. Until now loglineos_ledger owned them, and the Lambdas' login role must be able to
-- switch to loglineos_ledger (verification, proofs): as the functions' owner it could then drop them with
-- CASCADE (which drops the triggers that link the chain and grow the Merkle log), alter them, or insert
-- Merkle nodes directly, since the owner needs that insert for the trigger. Now loglineos_ledger only
-- reads, as 0001 says it does; loglineos_chain writes, and only through the triggers.
do $$
begin
  create role loglineos_chain nologin;
exception
  when duplicate_object or unique_violation then null; -- another database of this cluster made it first
end
$$;
-- ALTER ... OWNER TO needs the migrating role to be a member (on RDS the master user is no superuser).
grant loglineos_chain to current_user;

grant usage on schema ledger to loglineos_chain;
grant usage on sequence ledger.position_seq to loglineos_chain;
grant select on ledger.universal_registry to loglineos_chain;
grant select, insert on ledger.merkle_node to loglineos_chain;
-- Linking and the daily quota count whole chains, past the caller's row-level security.
create policy registry_chain_read on ledger.universal_registry for select to loglineos_chain using (true);

alter function ledger.link_span() owner to loglineos_chain;
alter function ledger.grow_merkle_log() owner to loglineos_chain;
alter function ledger.merkle_add_leaf(text, bigint, text) owner to loglineos_chain;
alter function ledger.kernel_executions_today() owner to loglineos_chain;

revoke insert on ledger.merkle_node from loglineos_ledger;
revoke usage on sequence ledger.position_seq from loglineos_ledger;
