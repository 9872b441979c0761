import type { AppSyncEvent } from '../../commons/appsync.ts';
import { ForbiddenError } from '../../commons/errors.ts';
import { identityFrom } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { defineKernel as define, type KernelDefinition } from '../../kernels/catalogue.ts';
import type { KernelsServices } from './services.ts';
import { parseJsonArgument, toGraphqlSpan } from './shape.ts';

export default async function defineKernel(event: AppSyncEvent<{ input: KernelDefinition }>, { ledger, publisher }: KernelsServices) {
  const caller = identityFrom(event.identity);
  if (!caller) throw new ForbiddenError('defining a kernel needs a signed-in caller', { fix: 'Call with a user or app token.' });
  const input = event.arguments.input;
  const span = await define(ledger, caller, { ...input, metadata: parseJsonArgument('input.metadata', input.metadata) });
  await publishCommitted(publisher, span);
  return toGraphqlSpan(span);
}
