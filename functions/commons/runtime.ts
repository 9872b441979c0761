import { SEEDS } from '../deploy/seeds.ts';
import { loadAwsConfig, usesAwsSecrets } from './aws-config.ts';
import { loadConfig, type Config } from './config.ts';
import { openLedger, type Ledger } from '../ledger/index.ts';
import { loadTokenSecret } from '../access/secret.ts';

let ledger: Promise<Ledger> | undefined;
let config: Promise<Config> | undefined;

/** The environment's Config; on AWS its secrets are read from Secrets Manager. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  return usesAwsSecrets(env) ? loadAwsConfig(env) : Promise.resolve(loadConfig(env));
}

/** This container's Config, read once (a failure is retried by the next call). */
export function currentConfig(): Promise<Config> {
  config ??= configFromEnvironment().catch((error: unknown) => {
    config = undefined;
    throw error;
  });
  return config;
}

/**
 * The settings data sources read: the process environment, plus what the container's Config learned
 * from Secrets Manager that data sources take as a variable (the cache's URL with its auth token).
 */
export async function currentEnvironment(): Promise<NodeJS.ProcessEnv> {
  const { redisUrl } = await currentConfig();
  return redisUrl && !process.env.REDIS_URL ? { ...process.env, REDIS_URL: redisUrl } : process.env;
}

/**
 * The ledger of this Lambda container: opened on first use from the environment (secrets read once
 * per container), then kept warm.
 */
export function currentLedger(): Promise<Ledger> {
  ledger ??= currentConfig()
    .then((loaded) => openLedger(loaded, SEEDS))
    .catch((error: unknown) => {
      ledger = undefined; // let the next invocation try again
      throw error;
    });
  return ledger;
}

let tokenSecret: Promise<Buffer> | undefined;

/** The token-hash secret of this container, read once. */
export function currentTokenSecret(): Promise<Buffer> {
  tokenSecret ??= currentConfig()
    .then(loadTokenSecret)
    .catch((error: unknown) => {
      tokenSecret = undefined;
      throw error;
    });
  return tokenSecret;
}
