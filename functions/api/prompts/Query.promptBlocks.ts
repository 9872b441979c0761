import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { listPromptBlocks } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';
import { toGraphqlBlock } from './shape.ts';

export default async function promptBlocks(event: AppSyncEvent<{ tags?: string[] | null }>, services: PromptServices) {
  return (await listPromptBlocks(services.ledger, identityFrom(event.identity), { tags: event.arguments.tags ?? null })).map(toGraphqlBlock);
}
