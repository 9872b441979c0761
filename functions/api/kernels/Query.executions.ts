import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { listExecutions } from '../../kernels/catalogue.ts';
import { toGraphqlPage } from '../ledger/shape.ts';
import type { KernelsServices } from './services.ts';

export default async function executions(event: AppSyncEvent<{ kernelId: string; first?: number | null; after?: string | null }>, { ledger }: KernelsServices) {
  const { kernelId, first, after } = event.arguments;
  return toGraphqlPage(await listExecutions(ledger, identityFrom(event.identity), kernelId, first, after));
}
