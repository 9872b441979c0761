import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Services } from '../handler.ts';
import { identityFrom } from '../../commons/identity.ts';
import { publishCommitted } from '../../commons/publisher.ts';
import { appendSpan as append } from '../../ledger/index.ts';
import { checkDeviceSignature } from '../../access/devices.ts';
import { accessOf } from './access.ts';
import { parseJsonFields, toGraphqlSpan } from './shape.ts';

export default async function appendSpan(event: AppSyncEvent<{ input: Record<string, unknown> }>, services: Services) {
  const { ledger, publisher } = services;
  const input = parseJsonFields(event.arguments.input);
  await checkDeviceSignature(accessOf(services), input);
  const span = await append(ledger, identityFrom(event.identity), input);
  await publishCommitted(publisher, span);
  return toGraphqlSpan(span);
}
