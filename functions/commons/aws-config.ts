import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracedAwsClient } from './aws-tracing.ts';
import { loadConfig, type Config } from './config.ts';
import type { PasswordSource } from './db/postgres.ts';

/**
 * On AWS the Lambda's environment names secrets instead of holding them: the database credentials
 * (an RDS-style JSON secret of the role the Lambda logs in as, reached through RDS Proxy at
 * DATABASE_HOST; the API's Lambdas get the app role's, only the migrator the master user's), the deployment signing seed and
 * the cache's AUTH token. Locally none of these is set and `loadConfig` alone applies.
 */
export function usesAwsSecrets(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DATABASE_SECRET_ARN || env.SIGNING_KEY_SECRET_ARN || env.REDIS_AUTH_SECRET_ARN || env.TOKEN_SECRET_ARN);
}

/** The Config of a deployed Lambda: `loadConfig` plus the values read from Secrets Manager. */
export async function loadAwsConfig(env: NodeJS.ProcessEnv = process.env, client: SecretsManagerClient = tracedAwsClient(new SecretsManagerClient({}))): Promise<Config> {
  const base = loadConfig(env);
  const [database, signingKeyHex, redisUrl, tokenSecretHex] = await Promise.all([
    env.DATABASE_SECRET_ARN ? databaseFromSecret(env, env.DATABASE_SECRET_ARN, client) : undefined,
    env.SIGNING_KEY_SECRET_ARN ? signingKeyFromSecret(env.SIGNING_KEY_SECRET_ARN, client) : undefined,
    env.REDIS_AUTH_SECRET_ARN ? redisUrlFromSecret(env, env.REDIS_AUTH_SECRET_ARN, client) : undefined,
    env.TOKEN_SECRET_ARN ? secretString(env.TOKEN_SECRET_ARN, client).then((value) => value.trim().toLowerCase()) : undefined,
  ]);
  return {
    ...base,
    ...(database ?? {}),
    ...(signingKeyHex ? { signingKeyHex } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    ...(tokenSecretHex ? { tokenSecretHex } : {}),
  };
}

async function secretString(arn: string, client: SecretsManagerClient): Promise<string> {
  let value: string | undefined;
  try {
    value = (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } catch (error) {
    throw new Error(`reading secret ${arn} failed: ${error instanceof Error ? error.message : String(error)}; check the function's role may read it and decrypt its key`, { cause: error });
  }
  if (!value) throw new Error(`secret ${arn} has no SecretString; store the value as text`);
  return value;
}

const required = (env: NodeJS.ProcessEnv, name: string, why: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set; it is required with ${why}`);
  return value;
};

/** The fields of an RDS database secret (JSON) that a login needs. */
export interface DatabaseSecret {
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
}

/** Reads an RDS-style database secret: JSON with at least a string username and password. */
export async function readDatabaseSecret(arn: string, client: SecretsManagerClient): Promise<DatabaseSecret> {
  let secret: { username?: unknown; password?: unknown; dbname?: unknown };
  try {
    secret = JSON.parse(await secretString(arn, client)) as typeof secret;
  } catch (error) {
    if (error instanceof SyntaxError) throw new Error(`secret ${arn} is not JSON; it must be RDS's {"username", "password", …} secret`, { cause: error });
    throw error;
  }
  if (typeof secret.username !== 'string' || typeof secret.password !== 'string') {
    throw new Error(`secret ${arn} lacks a string username and password; it must be RDS's {"username", "password", …} secret`);
  }
  return { username: secret.username, password: secret.password, ...(typeof secret.dbname === 'string' ? { dbname: secret.dbname } : {}) };
}

/** How long a warm Lambda trusts the password it read, unless the server refuses it sooner. */
export const DATABASE_SECRET_TTL_MS = 15 * 60_000;

/**
 * The password of a rotating database secret, for the pool's new connections. It is read again after
 * `ttlMs`, and at once when the server refused it (`refresh`), so a rotation reaches a warm Lambda
 * without a redeploy. Concurrent readers share one GetSecretValue. The secret must keep naming the
 * role the pool logs in as (single-user rotation changes only the password).
 */
export function secretPassword(
  arn: string,
  username: string,
  client: SecretsManagerClient,
  options: { readonly ttlMs?: number; readonly now?: () => number; readonly initial?: string } = {},
): PasswordSource {
  const ttlMs = options.ttlMs ?? DATABASE_SECRET_TTL_MS;
  const now = options.now ?? Date.now;
  let cached: { password: Promise<string>; readAt: number } | undefined = options.initial === undefined ? undefined : { password: Promise.resolve(options.initial), readAt: now() };
  const read = async (): Promise<string> => {
    const secret = await readDatabaseSecret(arn, client);
    if (secret.username !== username) {
      throw new Error(`secret ${arn} now names the user ${JSON.stringify(secret.username)}, but this pool logs in as ${JSON.stringify(username)}; rotate it with the single-user rotation, or redeploy so the Lambdas log in as the new user`);
    }
    return secret.password;
  };
  return {
    current() {
      if (!cached || now() - cached.readAt >= ttlMs) {
        const entry = { password: read(), readAt: now() };
        // A failed read is not kept: the next connection reads again.
        entry.password.catch(() => {
          if (cached === entry) cached = undefined;
        });
        cached = entry;
      }
      return cached.password;
    },
    refresh() {
      cached = undefined;
    },
  };
}

/**
 * RDS's secret names the user; the password stays out of the URL and is read through `secretPassword`,
 * so a rotation needs no new Config. TLS is verified against the proxy's certificate.
 */
async function databaseFromSecret(env: NodeJS.ProcessEnv, arn: string, client: SecretsManagerClient): Promise<{ databaseUrl: string; databasePassword: PasswordSource }> {
  const host = required(env, 'DATABASE_HOST', 'DATABASE_SECRET_ARN (the RDS Proxy endpoint)');
  const port = env.DATABASE_PORT ?? '5432';
  if (!/^\d{1,5}$/.test(port)) throw new Error(`DATABASE_PORT must be a port number, got ${JSON.stringify(port)}`);
  const secret = await readDatabaseSecret(arn, client);
  const database = env.DATABASE_NAME ?? secret.dbname;
  if (!database) throw new Error(`DATABASE_NAME is not set and secret ${arn} has no dbname; set DATABASE_NAME`);
  return {
    databaseUrl: `postgres://${encodeURIComponent(secret.username)}@${host}:${port}/${encodeURIComponent(database)}?sslmode=verify-full`,
    // Starts from the password just read rather than reading the secret again for the first connection.
    databasePassword: secretPassword(arn, secret.username, client, { initial: secret.password }),
  };
}

async function signingKeyFromSecret(arn: string, client: SecretsManagerClient): Promise<string> {
  const seed = (await secretString(arn, client)).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(seed)) {
    throw new Error(`secret ${arn} must hold the deployment's Ed25519 seed as 64 hex characters, got ${seed.length} characters${/^[0-9a-f]*$/.test(seed) ? '' : ', not all hex'}`);
  }
  return seed;
}

/** The cache speaks TLS only (`rediss:`) and takes the AUTH token as the password. */
async function redisUrlFromSecret(env: NodeJS.ProcessEnv, arn: string, client: SecretsManagerClient): Promise<string> {
  const host = required(env, 'REDIS_HOST', 'REDIS_AUTH_SECRET_ARN (the cache primary endpoint)');
  const port = env.REDIS_PORT ?? '6379';
  if (!/^\d{1,5}$/.test(port)) throw new Error(`REDIS_PORT must be a port number, got ${JSON.stringify(port)}`);
  const token = (await secretString(arn, client)).trim();
  return `rediss://:${encodeURIComponent(token)}@${host}:${port}`;
}
