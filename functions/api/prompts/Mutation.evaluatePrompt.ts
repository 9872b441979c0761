import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { evaluatePrompt as evaluate } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';

export default async function evaluatePrompt(event: AppSyncEvent<{ evalId?: string | null; variantId?: string | null }>, services: PromptServices) {
  const result = await evaluate(services.prompts, identityFrom(event.identity), event.arguments);
  return { id: result.id, variantId: result.variant.id, variant: result.variant.name, evalId: result.evalId, passed: result.passed, total: result.total, results: result.results };
}
