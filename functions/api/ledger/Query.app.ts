import type { AppSyncEvent } from '../../commons/appsync.ts';
import { getApp } from '../../access/apps.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toApp } from './access.ts';

export default async function app(event: AppSyncEvent<{ id: string }>, services: Services) {
  const found = await getApp(accessOf(services), signedInUser(event), event.arguments.id);
  return found ? toApp(found) : null;
}
