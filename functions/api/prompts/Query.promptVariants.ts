import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { listPromptVariants } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';
import { toGraphqlVariant } from './shape.ts';

export default async function promptVariants(event: AppSyncEvent<{ family: string }>, services: PromptServices) {
  return (await listPromptVariants(services.ledger, identityFrom(event.identity), event.arguments.family)).map(toGraphqlVariant);
}
