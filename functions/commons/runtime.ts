import { loadConfig } from './config.ts';
import { openLedger, type Ledger } from '../ledger/index.ts';

let ledger: Promise<Ledger> | undefined;

/** The ledger of this Lambda container: opened on first use from the environment, then kept warm. */
export function currentLedger(): Promise<Ledger> {
  ledger ??= openLedger(loadConfig()).catch((error: unknown) => {
    ledger = undefined; // let the next invocation try again
    throw error;
  });
  return ledger;
}
