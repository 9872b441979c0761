import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadConfig, type Config } from './config.ts';

/**
 * On AWS the Lambda's environment names secrets instead of holding them: the database credentials
 * (RDS's JSON secret, reached through RDS Proxy at DATABASE_HOST), the deployment signing seed and
 * the cache's AUTH token. Locally none of these is set and `loadConfig` alone applies.
 */
export function usesAwsSecrets(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DATABASE_SECRET_ARN || env.SIGNING_KEY_SECRET_ARN || env.REDIS_AUTH_SECRET_ARN || env.TOKEN_SECRET_ARN);
}

/** The Config of a deployed Lambda: `loadConfig` plus the values read from Secrets Manager. */
export async function loadAwsConfig(env: NodeJS.ProcessEnv = process.env, client: SecretsManagerClient = new SecretsManagerClient({})): Promise<Config> {
  const base = loadConfig(env);
  const [databaseUrl, signingKeyHex, redisUrl, tokenSecretHex] = await Promise.all([
    env.DATABASE_SECRET_ARN ? databaseUrlFromSecret(env, env.DATABASE_SECRET_ARN, client) : undefined,
    env.SIGNING_KEY_SECRET_ARN ? signingKeyFromSecret(env.SIGNING_KEY_SECRET_ARN, client) : undefined,
    env.REDIS_AUTH_SECRET_ARN ? redisUrlFromSecret(env, env.REDIS_AUTH_SECRET_ARN, client) : undefined,
    env.TOKEN_SECRET_ARN ? secretString(env.TOKEN_SECRET_ARN, client).then((value) => value.trim().toLowerCase()) : undefined,
  ]);
  return {
    ...base,
    ...(databaseUrl ? { databaseUrl } : {}),
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

/** RDS's secret is JSON with username and password; TLS is verified against the proxy's certificate. */
async function databaseUrlFromSecret(env: NodeJS.ProcessEnv, arn: string, client: SecretsManagerClient): Promise<string> {
  const host = required(env, 'DATABASE_HOST', 'DATABASE_SECRET_ARN (the RDS Proxy endpoint)');
  const port = env.DATABASE_PORT ?? '5432';
  if (!/^\d{1,5}$/.test(port)) throw new Error(`DATABASE_PORT must be a port number, got ${JSON.stringify(port)}`);
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
  const database = env.DATABASE_NAME ?? (typeof secret.dbname === 'string' ? secret.dbname : undefined);
  if (!database) throw new Error(`DATABASE_NAME is not set and secret ${arn} has no dbname; set DATABASE_NAME`);
  const user = encodeURIComponent(secret.username);
  const password = encodeURIComponent(secret.password);
  return `postgres://${user}:${password}@${host}:${port}/${encodeURIComponent(database)}?sslmode=verify-full`;
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
