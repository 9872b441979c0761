import { join, resolve } from 'node:path';

/** Settings from the environment; every one has an embedded default so `npm start` needs none. */
export interface Config {
  /** PostgreSQL connection string; unset means embedded PGlite in `dataDir`. */
  readonly databaseUrl?: string;
  readonly databasePoolSize: number;
  /** Redis connection string; unset means an in-process cache. */
  readonly redisUrl?: string;
  /** Local state: PGlite files and the deployment key file. */
  readonly dataDir: string;
  /** Hex Ed25519 seed of the deployment key; unset means the key file in `dataDir`. */
  readonly signingKeyHex?: string;
  /** `false` turns deployment signing off (LOGLINEOS_SIGNING=off). */
  readonly signing: boolean;
  /** Hex secret that keys API token hashes (32 bytes or more); unset means a key file in `dataDir`. */
  readonly tokenSecretHex?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.LOGLINEOS_DATA_DIR ?? '.data');
  const pool = Number(env.DATABASE_POOL_SIZE ?? 10);
  if (!Number.isInteger(pool) || pool < 1) {
    throw new Error(`DATABASE_POOL_SIZE must be a whole number of 1 or more, got ${JSON.stringify(env.DATABASE_POOL_SIZE)}`);
  }
  return {
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.LOGLINEOS_SIGNING_KEY ? { signingKeyHex: env.LOGLINEOS_SIGNING_KEY.trim().toLowerCase() } : {}),
    ...(env.LOGLINEOS_TOKEN_SECRET ? { tokenSecretHex: env.LOGLINEOS_TOKEN_SECRET.trim().toLowerCase() } : {}),
    databasePoolSize: pool,
    dataDir,
    signing: env.LOGLINEOS_SIGNING !== 'off',
  };
}

export const keyFilePath = (config: Config) => join(config.dataDir, 'keys', 'deployment.key');
export const pgliteDir = (config: Config) => join(config.dataDir, 'pglite');
export const tokenSecretFile = (config: Config) => join(config.dataDir, 'keys', 'token-secret');
