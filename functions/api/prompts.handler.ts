import type { AppSyncEvent } from '../commons/appsync.ts';
import { isRunJobEvent } from '../prompts/index.ts';
import { observedHandler } from '../commons/observability.ts';
import { currentLedger } from '../commons/runtime.ts';
import { createHandler } from './handler.ts';
import { containerServicesOf } from './lambda-entry.ts';
import { PROMPTS_DATA_SOURCE } from './prompts/data-source.ts';

// One set of services per container serves both the API's fields and the runs it started.
const current = containerServicesOf(PROMPTS_DATA_SOURCE);
const api = createHandler(PROMPTS_DATA_SOURCE.operations, current);

/**
 * The prompts Lambda. AppSync events are the API's fields; a `loglineos.prompts.run` event is a run
 * that runPrompt accepted and started here with an Event invocation (PROMPTS_FUNCTION_NAME): it
 * streams the answer through publishPromptRunEvent until the run ends, however long AppSync's own
 * request was allowed to last. Give the function a timeout above LOGLINEOS_PROMPT_RUN_TIMEOUT_MS.
 */
export const handler = observedHandler('prompts', async (event: unknown): Promise<unknown> => {
  if (isRunJobEvent(event)) {
    await (await current()).prompts.runtime.runJob(event.job);
    return null;
  }
  return api(event as AppSyncEvent<unknown>);
}, { ledger: currentLedger });
