import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom, requireSignedIn } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { defineKernel as define, type KernelDefinition } from '../../kernels/catalogue.ts';
import type { KernelsServices } from './services.ts';
import { parseJsonArgument, toGraphqlSpan } from './shape.ts';

export default async function defineKernel(event: AppSyncEvent<{ input: KernelDefinition }>, { ledger, publisher }: KernelsServices) {
  const caller = requireSignedIn(identityFrom(event.identity), 'defining a kernel');
  const input = event.arguments.input;
  const span = await define(ledger, caller, { ...input, metadata: parseJsonArgument('input.metadata', input.metadata) });
  await publishCommitted(publisher, span);
  return toGraphqlSpan(span);
}
