import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { listKernels } from '../../kernels/catalogue.ts';
import { toGraphqlPage } from '../ledger/shape.ts';
import type { KernelsServices } from './services.ts';

export default async function kernels(event: AppSyncEvent<{ first?: number | null; after?: string | null }>, { ledger }: KernelsServices) {
  return toGraphqlPage(await listKernels(ledger, identityFrom(event.identity), event.arguments.first, event.arguments.after));
}
