import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { Identity } from '../../commons/db/database.ts';
import { lambdaEventInvoker, type EventInvokerOptions } from '../../commons/lambda-invoke.ts';
import { executeKernel } from '../../kernels/executor.ts';
import { CORE_KERNELS } from '../../kernels/ids.ts';
import type { KernelServices } from '../../kernels/executor.ts';

/** A scheduled request to run now, in a new invocation of the kernels Lambda (not an AppSync event). */
export interface KernelRequestEvent {
  readonly type: 'loglineos.kernels.request';
  readonly requestId: string;
  readonly caller: Identity;
  /** The app token's scopes, or null for a signed-in user. */
  readonly scopes: readonly string[] | null;
}

export const isKernelRequestEvent = (event: unknown): event is KernelRequestEvent => (event as { type?: unknown } | null)?.type === 'loglineos.kernels.request';

/** Runs one scheduled request through request_worker, as its caller, with the caller's scopes. */
export function runRequest(services: KernelServices, event: Omit<KernelRequestEvent, 'type'>) {
  const scopes = event.scopes ? { scopes: [...event.scopes, 'kernel:request_worker:invoke'] } : {};
  return executeKernel(services, event.caller, CORE_KERNELS.request_worker, { request_id: event.requestId }, { stage0: true, ...scopes });
}

/**
 * How a scheduled request starts: on AWS (KERNELS_FUNCTION_NAME set) an Event invocation of the
 * kernels Lambda itself, so the run is not frozen with the answered request and may last as long as
 * the function's timeout; locally in this process's background. Either way the scheduled
 * request_worker pass picks up any request whose start was lost.
 */
export function requestStarter(
  env: NodeJS.ProcessEnv,
  background: (work: () => Promise<unknown>) => void,
  services: () => KernelServices,
  aws: Pick<EventInvokerOptions, 'credentials' | 'fetch'> = { credentials: defaultProvider() },
) {
  if (env.KERNELS_FUNCTION_NAME) {
    const invoke = lambdaEventInvoker({ ...aws, functionName: env.KERNELS_FUNCTION_NAME, region: env.AWS_REGION ?? 'us-east-1' });
    return (event: Omit<KernelRequestEvent, 'type'>) => invoke({ type: 'loglineos.kernels.request', ...event } satisfies KernelRequestEvent, `the scheduled request ${event.requestId}`);
  }
  return (event: Omit<KernelRequestEvent, 'type'>) => {
    background(() => runRequest(services(), event));
    return Promise.resolve();
  };
}
