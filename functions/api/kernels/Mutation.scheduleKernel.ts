import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom, requireSignedIn } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { scheduleKernel as schedule } from '../../kernels/catalogue.ts';
import type { KernelsServices } from './services.ts';
import { parseJsonArgument, tokenScopes, toGraphqlSpan } from './shape.ts';

/**
 * Returns the scheduled request at once; the run continues without the caller and its spans arrive on
 * the timeline subscription. Locally it starts right away in this process; on AWS in an Event
 * invocation of the kernels Lambda (work after a Lambda's answer would be frozen).
 */
export default async function scheduleKernel(event: AppSyncEvent<{ id: string; input?: string | null }>, services: KernelsServices) {
  const caller = requireSignedIn(identityFrom(event.identity), 'scheduling a kernel');
  const scopes = tokenScopes(event);
  const request = await schedule(services.ledger, caller, event.arguments.id, parseJsonArgument('input', event.arguments.input), scopes);
  await publishCommitted(services.publisher, request);
  await services.startRequest({ requestId: request.id, caller, scopes });
  return toGraphqlSpan(request);
}
