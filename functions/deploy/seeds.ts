import type { Seed } from '../ledger/seeds.ts';

/**
 * What every deployment puts in its ledger, applied after the migrations each time the ledger is
 * opened or migrated (idempotent). Each domain adds its own `Seed` here.
 */
export const SEEDS: readonly Seed[] = [];
