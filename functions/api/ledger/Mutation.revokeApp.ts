import type { AppSyncEvent } from '../../commons/appsync.ts';
import { revokeApp as revoke } from '../../access/apps.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toApp } from './access.ts';

export default async function revokeApp(event: AppSyncEvent<{ id: string }>, services: Services) {
  return toApp(await revoke(accessOf(services), signedInUser(event), event.arguments.id));
}
