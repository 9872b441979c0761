import { KERNELS_DATA_SOURCE } from './kernels/data-source.ts';
import { containerServices, lambdaEntry } from './lambda-entry.ts';
import { runScheduledPass, type PassReport } from '../kernels/scheduled.ts';

/** Lambda entry of the `kernels` data source (runKernel, bootKernel, scheduleKernel, …). */
export const handler = lambdaEntry(KERNELS_DATA_SOURCE);

let scheduledServices: ReturnType<typeof KERNELS_DATA_SOURCE.services> | undefined;

/**
 * The EventBridge schedule's target (same bundle, handler `scheduled`): one pass of observer,
 * request_worker and policy_agent for every owner with work.
 */
export async function scheduled(): Promise<{ readonly reports: readonly PassReport[] }> {
  scheduledServices ??= containerServices().then(KERNELS_DATA_SOURCE.services);
  return { reports: await runScheduledPass(await scheduledServices) };
}
