import { observedHandler } from '../../commons/observability.ts';
import { currentLedger } from '../../commons/runtime.ts';
import { containerServices } from '../lambda-entry.ts';
import { createMemoryServices, type MemoryServices } from '../../memory/index.ts';
import { reapAll } from '../../memory/reaper.ts';

let services: Promise<MemoryServices> | undefined;

/**
 * The TTL reaper on AWS: an EventBridge schedule (e.g. rate(15 minutes)) invokes it; it forgets
 * every memory whose TTL has passed and answers how many. Needs the same database, KMS key and
 * cache settings as the memory data source.
 */
export const handler = observedHandler('memory.reaper', async (): Promise<{ reaped: number }> => {
  services ??= containerServices().then((base) => createMemoryServices(base));
  return { reaped: await reapAll(await services) };
}, { ledger: currentLedger });
