import type { AppSyncEvent } from '../../commons/appsync.ts';
import { revokeToken as revoke } from '../../access/tokens.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toToken } from './access.ts';

export default async function revokeToken(event: AppSyncEvent<{ id: string }>, services: Services) {
  return toToken(await revoke(accessOf(services), signedInUser(event), event.arguments.id));
}
