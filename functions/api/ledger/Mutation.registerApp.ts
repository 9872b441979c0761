import type { AppSyncEvent } from '../../commons/appsync.ts';
import { registerApp as register } from '../../access/apps.ts';
import type { Services } from '../handler.ts';
import { accessOf, appInput, signedInUser, toApp, toIssued } from './access.ts';

export default async function registerApp(event: AppSyncEvent<{ input: Record<string, unknown> }>, services: Services) {
  const { app, token } = await register(accessOf(services), signedInUser(event), appInput(event.arguments.input));
  return { app: toApp(app), token: toIssued(token) };
}
