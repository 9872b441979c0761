import type { AppSyncEvent } from '../../commons/appsync.ts';
import { rotateToken as rotate } from '../../access/tokens.ts';
import type { Services } from '../handler.ts';
import { accessOf, signedInUser, toIssued } from './access.ts';

export default async function rotateToken(event: AppSyncEvent<{ id: string }>, services: Services) {
  return toIssued(await rotate(accessOf(services), signedInUser(event), event.arguments.id));
}
