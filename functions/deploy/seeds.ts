import type { Seed } from '../ledger/seeds.ts';
import { KERNELS_SEED } from '../kernels/seed.ts';
import { PROMPT_SEED } from '../prompts/seeds.ts';

/**
 * What every deployment puts in its ledger, applied after the migrations each time the ledger is
 * opened or migrated (idempotent). Each domain adds its own `Seed` here.
 */
export const SEEDS: readonly Seed[] = [KERNELS_SEED, PROMPT_SEED];
