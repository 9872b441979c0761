import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { createPromptBlock as create, type PromptBlockInput } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';
import { toGraphqlBlock } from './shape.ts';

export default async function createPromptBlock(event: AppSyncEvent<{ input: PromptBlockInput }>, services: PromptServices) {
  return toGraphqlBlock(await create(services.ledger, identityFrom(event.identity), event.arguments.input));
}
