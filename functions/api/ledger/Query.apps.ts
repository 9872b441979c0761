import type { AppSyncEvent } from '../../commons/appsync.ts';
import { listApps } from '../../access/apps.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toApp } from './access.ts';

export default async function apps(event: AppSyncEvent<Record<string, never>>, services: Services) {
  return (await listApps(accessOf(services), signedInUser(event))).map(toApp);
}
