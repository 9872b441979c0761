import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { executeKernel } from '../../kernels/executor.ts';
import type { KernelsServices } from './services.ts';
import { parseJsonArgument, tokenScopes, toKernelRun } from './shape.ts';

/** The stage-0 path: manifest allow-list, hash and trusted signature, boot_event, then the run. */
export default async function bootKernel(event: AppSyncEvent<{ id: string; input?: string | null }>, services: KernelsServices) {
  const input = parseJsonArgument('input', event.arguments.input);
  return toKernelRun(await executeKernel(services, identityFrom(event.identity), event.arguments.id, input, { stage0: true, scopes: tokenScopes(event) }));
}
