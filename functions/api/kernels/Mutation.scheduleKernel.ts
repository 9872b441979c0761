import type { AppSyncEvent } from '../../commons/appsync.ts';
import { ForbiddenError } from '../../commons/errors.ts';
import { identityFrom } from '../../commons/identity.ts';
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
  const caller = identityFrom(event.identity);
  if (!caller) throw new ForbiddenError('scheduling a kernel needs a signed-in caller', { fix: 'Call with a user or app token.' });
  const scopes = tokenScopes(event);
  const request = await schedule(services.ledger, caller, event.arguments.id, parseJsonArgument('input', event.arguments.input), scopes);
  await publishCommitted(services.publisher, request);
  await services.startRequest({ requestId: request.id, caller, scopes });
  return toGraphqlSpan(request);
}
