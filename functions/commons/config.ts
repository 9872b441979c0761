import { join, resolve } from 'node:path';
import type { PasswordSource } from './db/postgres.ts';

/** Settings from the environment; every one has an embedded default so `npm start` needs none. */
export interface Config {
  /** PostgreSQL connection string; unset means embedded PGlite in `dataDir`. */
  readonly databaseUrl?: string;
  /** The database password when it rotates (on AWS, its secret); unset: the URL's password. */
  readonly databasePassword?: PasswordSource;
  readonly databasePoolSize: number;
  /** Pooled connections kept open while idle (DATABASE_POOL_MIN, default 1; see openPostgres). */
  readonly databasePoolMin: number;
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
  /** Group-commit transactions in flight at once; unset: the ledger's default for the backend. */
  readonly appendGroups?: number;
  /** The name of the Merkle logs in their checkpoints (LOGLINEOS_LOG_ORIGIN). */
  readonly logOrigin?: string;
}

/**
 * A whole-number setting from the environment: `fallback` when unset or empty, else a number within
 * [min, max], or an error naming the variable, the value and the range (a bad setting stops start-up).
 */
export function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
    throw new Error(`${name} must be a whole number ${range}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.LOGLINEOS_DATA_DIR ?? '.data');
  const pool = intSetting(env, 'DATABASE_POOL_SIZE', 10);
  return {
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.LOGLINEOS_SIGNING_KEY ? { signingKeyHex: env.LOGLINEOS_SIGNING_KEY.trim().toLowerCase() } : {}),
    ...(env.LOGLINEOS_TOKEN_SECRET ? { tokenSecretHex: env.LOGLINEOS_TOKEN_SECRET.trim().toLowerCase() } : {}),
    ...(env.LOGLINEOS_APPEND_GROUPS ? { appendGroups: intSetting(env, 'LOGLINEOS_APPEND_GROUPS', 2, 1, 64) } : {}),
    ...(env.LOGLINEOS_LOG_ORIGIN ? { logOrigin: env.LOGLINEOS_LOG_ORIGIN } : {}),
    databasePoolSize: pool,
    databasePoolMin: intSetting(env, 'DATABASE_POOL_MIN', 1, 0, pool),
    dataDir,
    signing: env.LOGLINEOS_SIGNING !== 'off',
  };
}

export const keyFilePath = (config: Config) => join(config.dataDir, 'keys', 'deployment.key');
export const pgliteDir = (config: Config) => join(config.dataDir, 'pglite');
export const tokenSecretFile = (config: Config) => join(config.dataDir, 'keys', 'token-secret');
