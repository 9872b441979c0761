import type { Seed } from '../ledger/seeds.ts';
import { BLOCK_PRIORITY } from './types.ts';

/** Fixed ids of the example prompt: four blocks and the default variant (assistant@v1). */
export const SEED_PROMPT_IDS = {
  doctrine: '5eed0b10-0000-4000-8000-000000000001',
  product: '5eed0b10-0000-4000-8000-000000000002',
  app: '5eed0b10-0000-4000-8000-000000000003',
  task: '5eed0b10-0000-4000-8000-000000000004',
  variant: '5eed0b10-0000-4000-8000-0000000000a1',
} as const;

export const DEFAULT_FAMILY = 'assistant';
export const DEFAULT_VARIANT = `${DEFAULT_FAMILY}@v1`;

const BLOCKS = {
  doctrine:
    'You are the LogLineOS assistant. Everything you state must be supported by the context you are given; never invent facts, span ids or actions. When the evidence is missing or too weak, say so instead of guessing. When sources disagree, say that they disagree and cite each.',
  product: 'Product: {{product}}, a ledger-backed platform where everything that happens is a signed, append-only span.',
  app: 'App: {{app}}. Your readers are {{audience}}.',
  task: "Task: answer the user's question in {{language}}, briefly and precisely, citing the context entries you used.",
} as const;

/** The example prompt every deployment starts with, so a fresh `npm start` can answer a prompt at once. */
export const PROMPT_SEED: Seed = {
  name: 'prompts',
  spans: () => [
    ...(Object.keys(BLOCKS) as (keyof typeof BLOCKS)[]).map((kind) => ({
      id: SEED_PROMPT_IDS[kind],
      entityType: 'prompt_block',
      who: 'system:loglineos',
      did: 'defined',
      this: kind,
      name: kind,
      content: { text: BLOCKS[kind], variables: [...BLOCKS[kind].matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g)].map((m) => m[1]!) },
      priority: BLOCK_PRIORITY[kind],
      tags: ['example', kind],
      visibility: 'public',
      status: 'active',
    })),
    {
      id: SEED_PROMPT_IDS.variant,
      entityType: 'prompt_variant',
      who: 'system:loglineos',
      did: 'defined',
      this: DEFAULT_VARIANT,
      name: DEFAULT_VARIANT,
      variant: DEFAULT_VARIANT,
      promptFamily: DEFAULT_FAMILY,
      relatedTo: [SEED_PROMPT_IDS.doctrine, SEED_PROMPT_IDS.product, SEED_PROMPT_IDS.app, SEED_PROMPT_IDS.task],
      content: {
        blockIds: [SEED_PROMPT_IDS.doctrine, SEED_PROMPT_IDS.product, SEED_PROMPT_IDS.app, SEED_PROMPT_IDS.task],
        defaults: { product: 'LogLineOS', app: 'console', audience: 'developers and operators', language: 'English' },
      },
      visibility: 'public',
      status: 'active',
    },
  ],
};
