import type { AppSyncEvent } from '../../commons/appsync.ts';
import { revokeDevice as revoke } from '../../access/devices.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toDevice } from './access.ts';

export default async function revokeDevice(event: AppSyncEvent<{ id: string }>, services: Services) {
  return toDevice(await revoke(accessOf(services), signedInUser(event), event.arguments.id));
}
