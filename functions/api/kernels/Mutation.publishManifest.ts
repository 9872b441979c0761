import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { publishManifest as publish } from '../../kernels/catalogue.ts';
import type { KernelsServices } from './services.ts';
import { parseJsonArgument, toGraphqlManifest } from './shape.ts';

export default async function publishManifest(event: AppSyncEvent<{ input: Record<string, unknown> }>, { ledger, publisher }: KernelsServices) {
  const input = { ...event.arguments.input, ...(event.arguments.input.kernels !== undefined ? { kernels: parseJsonArgument('input.kernels', event.arguments.input.kernels) } : {}) };
  const { manifest, span } = await publish(ledger, identityFrom(event.identity), input);
  await publishCommitted(publisher, span);
  return toGraphqlManifest(manifest, span);
}
