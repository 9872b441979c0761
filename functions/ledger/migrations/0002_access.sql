-- Apps and access: API tokens are found by their keyed hash, apps' spans by app id.
create index registry_token_hash on ledger.universal_registry (token_hash) where token_hash is not null;
create index registry_app on ledger.universal_registry (app_id, entity_type) where app_id is not null;
