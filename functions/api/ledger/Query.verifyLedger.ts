import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { ForbiddenError } from '../../commons/errors.ts';
import { identityFrom, isAdmin } from '../../commons/identity.ts';
import { verifyChain } from '../../ledger/index.ts';

interface Args {
  readonly tenantId?: string | null;
  readonly expectedHead?: { readonly chainSeq: number; readonly chainHash: string } | null;
}

/**
 * A tenant's members may verify their tenant's chain; other chains (and the tenantless one, '')
 * need the admin group or an internal IAM caller. The report names spans by id only.
 */
export default async function verifyLedger(event: AppSyncEvent<Args>, { ledger }: Services) {
  const caller = identityFrom(event.identity);
  const chain = event.arguments.tenantId ?? caller?.tenantId ?? '';
  if (!isAdmin(caller) && (caller === null || caller.tenantId === null || chain !== caller.tenantId)) {
    throw new ForbiddenError(`you can verify only your own tenant's chain (asked for ${JSON.stringify(chain)}, yours is ${JSON.stringify(caller?.tenantId ?? null)}); other chains need the admin group`, {
      field: 'tenantId',
    });
  }
  return verifyChain(ledger, chain, event.arguments.expectedHead ? { expectedHead: event.arguments.expectedHead } : {});
}
