import type { AppSyncEvent } from '../../commons/appsync.ts';
import { updateApp as update } from '../../access/apps.ts';
import type { Services } from '../handler.ts';
import { accessOf, appInput, signedInUser, toApp } from './access.ts';

export default async function updateApp(event: AppSyncEvent<{ id: string; input: Record<string, unknown> }>, services: Services) {
  return toApp(await update(accessOf(services), signedInUser(event), event.arguments.id, appInput(event.arguments.input)));
}
