import type { AppSyncEvent } from '../../commons/appsync.ts';
import { issueToken as issue } from '../../access/tokens.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toIssued } from './access.ts';

export default async function issueToken(event: AppSyncEvent<{ appId: string; scopes: string[]; ttlSeconds?: number | null }>, services: Services) {
  const { appId, scopes, ttlSeconds } = event.arguments;
  return toIssued(await issue(accessOf(services), signedInUser(event), appId, scopes, ttlSeconds));
}
