import { SEEDS } from '../deploy/seeds.ts';
import { loadAwsConfig, usesAwsSecrets } from './aws-config.ts';
import { loadConfig, type Config } from './config.ts';
import { openLedger, type Ledger } from '../ledger/index.ts';
import { loadTokenSecret } from '../access/secret.ts';

let ledger: Promise<Ledger> | undefined;

/** The environment's Config; on AWS its secrets are read from Secrets Manager. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  return usesAwsSecrets(env) ? loadAwsConfig(env) : Promise.resolve(loadConfig(env));
}

/**
 * The ledger of this Lambda container: opened on first use from the environment (secrets read once
 * per container), then kept warm.
 */
export function currentLedger(): Promise<Ledger> {
  ledger ??= configFromEnvironment()
    .then((config) => openLedger(config, SEEDS))
    .catch((error: unknown) => {
      ledger = undefined; // let the next invocation try again
      throw error;
    });
  return ledger;
}

let tokenSecret: Promise<Buffer> | undefined;

/** The token-hash secret of this container, read once. */
export function currentTokenSecret(): Promise<Buffer> {
  tokenSecret ??= configFromEnvironment()
    .then(loadTokenSecret)
    .catch((error: unknown) => {
      tokenSecret = undefined;
      throw error;
    });
  return tokenSecret;
}
