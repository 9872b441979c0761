import type { AppSyncEvent } from '../../commons/appsync.ts';
import { registerDevice as register } from '../../access/devices.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toDevice } from './access.ts';

export default async function registerDevice(event: AppSyncEvent<{ appId: string; publicKey: string; fingerprint: string }>, services: Services) {
  const { appId, publicKey, fingerprint } = event.arguments;
  return toDevice(await register(accessOf(services), signedInUser(event), appId, publicKey, fingerprint));
}
