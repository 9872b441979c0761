import type { AppSyncEvent } from '../../commons/appsync.ts';
import { identityFrom } from '../../commons/identity.ts';
import { getSpan } from '../../ledger/index.ts';
import type { KernelsServices } from './services.ts';
import { toGraphqlSpan } from './shape.ts';

export default async function kernel(event: AppSyncEvent<{ id: string }>, { ledger }: KernelsServices) {
  const span = await getSpan(ledger, identityFrom(event.identity), event.arguments.id);
  return span && span.entityType === 'function' ? toGraphqlSpan(span) : null;
}
