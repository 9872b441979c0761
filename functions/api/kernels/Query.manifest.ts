import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { currentManifest } from '../../kernels/catalogue.ts';
import type { KernelsServices } from './services.ts';
import { toGraphqlManifest } from './shape.ts';

export default async function manifest(event: AppSyncEvent<Record<string, never>>, { ledger }: KernelsServices) {
  const found = await currentManifest(ledger, identityFrom(event.identity));
  return found ? toGraphqlManifest(found.manifest, found.span) : null;
}
