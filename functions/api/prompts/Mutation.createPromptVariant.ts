import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { createPromptVariant as create, type PromptVariantInput } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';
import { toGraphqlVariant } from './shape.ts';

export default async function createPromptVariant(event: AppSyncEvent<{ input: PromptVariantInput }>, services: PromptServices) {
  return toGraphqlVariant(await create(services.ledger, identityFrom(event.identity), event.arguments.input));
}
