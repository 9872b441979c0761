import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { startRun, type RunPromptInput } from '../../prompts/index.ts';
import type { PromptServices } from './data-source.ts';

/** Answers with the run id at once; the run goes on in the background (or a new invocation on AWS). */
export default function runPrompt(event: AppSyncEvent<{ input: RunPromptInput }>, services: PromptServices) {
  return startRun(services.prompts, identityFrom(event.identity), event.arguments.input);
}
