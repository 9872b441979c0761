import { lambdaEventInvoker, type EventInvokerOptions } from '../commons/lambda-invoke.ts';
import type { RunJob } from './types.ts';

/** The event the prompts Lambda receives to run an accepted job (not an AppSync event). */
export interface RunJobEvent {
  readonly type: 'loglineos.prompts.run';
  readonly job: RunJob;
}

export const isRunJobEvent = (event: unknown): event is RunJobEvent => (event as { type?: unknown } | null)?.type === 'loglineos.prompts.run';

/**
 * Starts a run in a new invocation of the prompts Lambda (InvocationType Event): AppSync gets the run
 * id at once and the run streams for as long as the function's timeout allows, past AppSync's 30 s.
 */
export function lambdaLauncher(options: EventInvokerOptions) {
  const invoke = lambdaEventInvoker(options);
  return (job: RunJob): Promise<void> => invoke({ type: 'loglineos.prompts.run', job } satisfies RunJobEvent, `the prompt run ${job.runId}`);
}
