import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAwsConfig, usesAwsSecrets } from '../../functions/commons/aws-config.ts';
import { loadConfig } from '../../functions/commons/config.ts';

const DATABASE_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ledger-db';
const SIGNING_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-key';
const CACHE_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cache-auth';
const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-secret';
const TOKEN_KEY = '0f'.repeat(32);
const SEED = 'ab'.repeat(32);

/** The environment the CDK app gives the ledger Lambda. */
const deployed = (overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  DATABASE_SECRET_ARN: DATABASE_ARN,
  DATABASE_HOST: 'loglineos-dev-ledger.proxy-abc.eu-west-1.rds.amazonaws.com',
  DATABASE_PORT: '5432',
  DATABASE_NAME: 'loglineos',
  DATABASE_POOL_SIZE: '2',
  SIGNING_KEY_SECRET_ARN: SIGNING_ARN,
  REDIS_AUTH_SECRET_ARN: CACHE_ARN,
  REDIS_HOST: 'master.loglineos.abc.euw1.cache.amazonaws.com',
  REDIS_PORT: '6380',
  TOKEN_SECRET_ARN: TOKEN_ARN,
  ...overrides,
});

describe('loadAwsConfig', () => {
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  const secrets = mockClient(client);
  beforeEach(() => {
    secrets.reset();
    secrets.on(GetSecretValueCommand, { SecretId: DATABASE_ARN }).resolves({ SecretString: JSON.stringify({ username: 'ledger_admin', password: 'p@ss/w:rd', engine: 'postgres', dbname: 'other' }) });
    secrets.on(GetSecretValueCommand, { SecretId: SIGNING_ARN }).resolves({ SecretString: `${SEED.toUpperCase()}\n` });
    secrets.on(GetSecretValueCommand, { SecretId: CACHE_ARN }).resolves({ SecretString: 'token+with/odd=chars' });
    secrets.on(GetSecretValueCommand, { SecretId: TOKEN_ARN }).resolves({ SecretString: TOKEN_KEY });
  });

  it('builds the database URL to the proxy over verified TLS, the signing seed and the cache URL from the secrets', async () => {
    // When the deployed environment is loaded
    const config = await loadAwsConfig(deployed(), client);
    // Then the user is URL-encoded, the proxy host and DATABASE_NAME are used, TLS is verified, and
    // the password stays out of the URL: the pool asks the secret's password source at each login
    expect(config.databaseUrl).toBe('postgres://ledger_admin@loglineos-dev-ledger.proxy-abc.eu-west-1.rds.amazonaws.com:5432/loglineos?sslmode=verify-full');
    await expect(config.databasePassword?.current()).resolves.toBe('p@ss/w:rd');
    expect(config.signingKeyHex).toBe(SEED);
    expect(config.redisUrl).toBe('rediss://:token%2Bwith%2Fodd%3Dchars@master.loglineos.abc.euw1.cache.amazonaws.com:6380');
    expect(config.databasePoolSize).toBe(2);
    expect(config.databasePoolMin).toBe(1);
    expect(config.signing).toBe(true);
    expect(config.tokenSecretHex).toBe(TOKEN_KEY);
    // And each secret is read once
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId).sort()).toEqual([CACHE_ARN, DATABASE_ARN, SIGNING_ARN, TOKEN_ARN].sort());
  });

  it('falls back to the secret\'s dbname when DATABASE_NAME is unset', async () => {
    const config = await loadAwsConfig(deployed({ DATABASE_NAME: undefined }), client);
    expect(new URL(config.databaseUrl ?? '').pathname).toBe('/other');
  });

  it('reads only the secrets that are named', async () => {
    // Given the migrator's environment: the database only, signing off
    const env = deployed({ SIGNING_KEY_SECRET_ARN: undefined, REDIS_AUTH_SECRET_ARN: undefined, TOKEN_SECRET_ARN: undefined, LOGLINEOS_SIGNING: 'off' });
    // When it is loaded
    const config = await loadAwsConfig(env, client);
    // Then only the database secret was read
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(config.signingKeyHex).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.tokenSecretHex).toBeUndefined();
    expect(config.signing).toBe(false);
  });

  it('refuses a signing seed that is not 64 hex characters, without echoing it', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: SIGNING_ARN }).resolves({ SecretString: 'not-a-seed-but-a-secret' });
    const failure = loadAwsConfig(deployed(), client);
    await expect(failure).rejects.toThrow(`secret ${SIGNING_ARN} must hold the deployment's Ed25519 seed as 64 hex characters, got 23 characters, not all hex`);
    await expect(failure).rejects.not.toThrow(/not-a-seed/);
  });

  it('refuses a database secret without username and password, and one that is not JSON', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: DATABASE_ARN }).resolves({ SecretString: JSON.stringify({ username: 'ledger_admin' }) });
    await expect(loadAwsConfig(deployed(), client)).rejects.toThrow(/lacks a string username and password/);
    secrets.on(GetSecretValueCommand, { SecretId: DATABASE_ARN }).resolves({ SecretString: 'hunter2' });
    await expect(loadAwsConfig(deployed(), client)).rejects.toThrow(/is not JSON/);
  });

  it('names the secret and the likely fix when Secrets Manager refuses', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: DATABASE_ARN }).rejects(new ResourceNotFoundException({ message: 'Secrets Manager can\'t find the specified secret.', $metadata: {} }));
    await expect(loadAwsConfig(deployed(), client)).rejects.toThrow(`reading secret ${DATABASE_ARN} failed: Secrets Manager can't find the specified secret.; check the function's role may read it and decrypt its key`);
  });

  it('requires the proxy host with the database secret', async () => {
    await expect(loadAwsConfig(deployed({ DATABASE_HOST: undefined }), client)).rejects.toThrow('DATABASE_HOST is not set; it is required with DATABASE_SECRET_ARN (the RDS Proxy endpoint)');
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).not.toContain(DATABASE_ARN);
  });
});

describe('DATABASE_POOL_MIN', () => {
  it('defaults to 1, may be 0, and above the pool size is refused naming the variable, the range and the value', () => {
    expect(loadConfig({}).databasePoolMin).toBe(1);
    expect(loadConfig({ DATABASE_POOL_MIN: '0' }).databasePoolMin).toBe(0);
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '2', DATABASE_POOL_MIN: '3' })).toThrow('DATABASE_POOL_MIN must be a whole number from 0 to 2, got "3"');
  });
});

describe('usesAwsSecrets', () => {
  it('is false for the local environment, whose config needs no AWS', () => {
    expect(usesAwsSecrets({ DATABASE_URL: 'postgres://localhost/test', LOGLINEOS_SIGNING_KEY: SEED })).toBe(false);
    expect(usesAwsSecrets(deployed())).toBe(true);
  });
});

describe('the settings a Lambda container gives its data sources', () => {
  it('carry the cache URL built from Secrets Manager, so memory uses the shared cache on AWS', async () => {
    // Given the deployed environment (every SecretsManagerClient mocked) and a fresh container
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand, { SecretId: DATABASE_ARN }).resolves({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    secrets.on(GetSecretValueCommand, { SecretId: SIGNING_ARN }).resolves({ SecretString: SEED });
    secrets.on(GetSecretValueCommand, { SecretId: CACHE_ARN }).resolves({ SecretString: 'cache-token' });
    secrets.on(GetSecretValueCommand, { SecretId: TOKEN_ARN }).resolves({ SecretString: TOKEN_KEY });
    for (const [name, value] of Object.entries(deployed())) vi.stubEnv(name, value);
    vi.stubEnv('REDIS_URL', undefined);
    vi.resetModules();
    try {
      const { currentEnvironment } = await import('../../functions/commons/runtime.ts');
      // When the data sources' settings are read twice
      const env = await currentEnvironment();
      await currentEnvironment();
      // Then REDIS_URL is the authenticated TLS URL, and each secret was read once per container
      expect(env.REDIS_URL).toBe('rediss://:cache-token@master.loglineos.abc.euw1.cache.amazonaws.com:6380');
      expect(env.DATABASE_SECRET_ARN).toBe(DATABASE_ARN);
      expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(4);
    } finally {
      secrets.restore();
      vi.unstubAllEnvs();
    }
  });
});
