import type { AppSyncEvent } from '../commons/appsync.ts';
import { KERNELS_DATA_SOURCE } from './kernels/data-source.ts';
import { isKernelRequestEvent, runRequest } from './kernels/request-runs.ts';
import { createHandler } from './handler.ts';
import { containerServicesOf } from './lambda-entry.ts';
import { runScheduledPass, type PassReport } from '../kernels/scheduled.ts';
import { observedHandler } from '../commons/observability.ts';
import { currentLedger } from '../commons/runtime.ts';

// One set of services (one warm sandbox pool) per container serves the API, started requests and scheduled passes.
const current = containerServicesOf(KERNELS_DATA_SOURCE);
const api = createHandler(KERNELS_DATA_SOURCE.operations, current);

/**
 * Lambda entry of the `kernels` data source (runKernel, bootKernel, scheduleKernel, …). A
 * `loglineos.kernels.request` event is a request scheduleKernel started here with an Event
 * invocation: it runs through request_worker as its caller, for as long as the function's timeout.
 */
export const handler = observedHandler('kernels', async (event: unknown): Promise<unknown> => {
  if (isKernelRequestEvent(event)) {
    const outcome = await runRequest(await current(), event);
    return { status: outcome.status };
  }
  return api(event as AppSyncEvent<unknown>);
}, { ledger: currentLedger });

/**
 * The EventBridge schedule's target (same bundle, handler `scheduled`): one pass of observer,
 * request_worker and policy_agent for every owner with work.
 */
export const scheduled = observedHandler('kernels.scheduled', async (): Promise<{ readonly reports: readonly PassReport[] }> => ({ reports: await runScheduledPass(await current()) }), { ledger: currentLedger });
