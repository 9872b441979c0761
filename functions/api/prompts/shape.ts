import type { PromptBlock, PromptVariant } from '../../prompts/index.ts';

export const toGraphqlBlock = (block: PromptBlock) => ({
  id: block.id,
  seq: block.seq,
  name: block.name,
  text: block.text,
  priority: block.priority,
  tags: block.tags,
  variables: ((block.span.content as { variables?: unknown } | null)?.variables as string[] | undefined) ?? [],
  expiresAt: block.expiresAt,
  visibility: block.span.visibility,
  ownerId: block.span.ownerId,
  at: block.at,
});

export const toGraphqlVariant = (variant: PromptVariant) => ({
  id: variant.id,
  seq: variant.seq,
  name: variant.name,
  family: variant.family,
  version: variant.version,
  blockIds: variant.blockIds,
  defaults: JSON.stringify(variant.defaults),
  visibility: variant.span.visibility,
  ownerId: variant.span.ownerId,
  at: variant.at,
});
