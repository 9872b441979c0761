import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { buildPrompt as build, parseVariables } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';

export default async function buildPrompt(event: AppSyncEvent<{ variantId: string; variables?: unknown }>, services: PromptServices) {
  const variables = parseVariables('variables', event.arguments.variables);
  const built = await build(services.ledger, identityFrom(event.identity), event.arguments.variantId, variables);
  return {
    id: built.id,
    variantId: built.variant.id,
    variant: built.variant.name,
    compiledHash: built.compiled.hash,
    system: built.compiled.system,
    blockIds: built.compiled.blocks.map((block) => block.id),
    skipped: built.compiled.skipped,
  };
}
