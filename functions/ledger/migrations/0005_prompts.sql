-- Prompts: variants, selections and runs are found by family (promptVariants, the current winner
-- of a family, the bandit's window of runs), newest first.
create index registry_prompt_family on ledger.universal_registry (prompt_family, entity_type, at)
  where prompt_family is not null;
