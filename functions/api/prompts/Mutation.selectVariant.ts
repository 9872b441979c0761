import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { selectVariant as select } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';
import { toGraphqlVariant } from './shape.ts';

export default async function selectVariant(event: AppSyncEvent<{ family: string; windowDays?: number | null }>, services: PromptServices) {
  const selection = await select(services.prompts, identityFrom(event.identity), event.arguments.family, event.arguments.windowDays ?? 7);
  return { id: selection.id, family: selection.family, windowDays: selection.windowDays, winner: toGraphqlVariant(selection.winner), scores: selection.scores };
}
