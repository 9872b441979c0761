import type { AppSyncEvent } from '../../commons/appsync.ts';
import { listTokens } from '../../access/tokens.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toToken } from './access.ts';

export default async function tokens(event: AppSyncEvent<{ appId: string }>, services: Services) {
  return (await listTokens(accessOf(services), signedInUser(event), event.arguments.appId)).map(toToken);
}
