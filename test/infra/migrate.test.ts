import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/deploy/migrate.handler.ts';
import { SEEDS } from '../../functions/deploy/seeds.ts';
import { ledgerMigrations } from '../../functions/ledger/index.ts';

describe('the migrations custom resource handler', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'migrate-'));
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const migrations = ledgerMigrations().map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
  const seeded = SEEDS.flatMap((seed) => seed.spans().map((span) => `seed ${seed.name}:${span.id}`));
  const all = [...migrations, ...seeded].join(',');

  it('applies every migration and seed on create, and nothing more on update', async () => {
    // Given a fresh embedded database (no AWS secrets named, signing off as on the migrator)
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('LOGLINEOS_DATA_DIR', dataDir);
    vi.stubEnv('LOGLINEOS_SIGNING', 'off');
    // When CloudFormation creates, then updates, the resource
    const created = await handler({ RequestType: 'Create' });
    const updated = await handler({ RequestType: 'Update', PhysicalResourceId: created.PhysicalResourceId });
    // Then the first applied every migration and seed and the second found nothing to do, under one id
    expect(created.Data.Applied).toBe(all);
    expect(updated).toEqual({ PhysicalResourceId: created.PhysicalResourceId, Data: { Applied: '' } });
  });

  it('creates the API\'s login role from the secret APP_DATABASE_SECRET_ARN names, and refuses the master user as that role', async () => {
    // Given the migrated database and the app secret (Secrets Manager mocked at its client)
    const secrets = mockClient(SecretsManagerClient);
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-database';
    secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify({ username: 'loglineos_app', password: 'a-generated-password-0123456789' }) });
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('LOGLINEOS_DATA_DIR', dataDir);
    vi.stubEnv('LOGLINEOS_SIGNING', 'off');
    vi.stubEnv('APP_DATABASE_SECRET_ARN', arn);
    try {
      // When CloudFormation updates the resource, Then the role is reported beside the (empty) migrations
      await expect(handler({ RequestType: 'Update', PhysicalResourceId: 'loglineos-ledger-migrations' })).resolves.toEqual({ PhysicalResourceId: 'loglineos-ledger-migrations', Data: { Applied: '', AppRole: 'loglineos_app' } });
      // When the secret names the migrating user itself (PGlite's is postgres), Then the deploy fails
      secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify({ username: 'postgres', password: 'a-generated-password-0123456789' }) });
      await expect(handler({ RequestType: 'Update', PhysicalResourceId: 'loglineos-ledger-migrations' })).rejects.toThrow('the app role postgres is the migrating role itself; the API must never log in as the master user: give its secret another username');
    } finally {
      secrets.restore();
    }
  });

  it('fails when the database cannot be migrated, which fails the deploy', async () => {
    // Given a database that refuses connections
    vi.stubEnv('DATABASE_URL', 'postgres://nobody@127.0.0.1:1/none');
    vi.stubEnv('LOGLINEOS_SIGNING', 'off');
    // When the resource is created, Then the handler rejects
    await expect(handler({ RequestType: 'Create' })).rejects.toThrow(/ECONNREFUSED|connect/);
  });

  it('leaves the database alone when the resource is deleted', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://nobody@127.0.0.1:1/none');
    await expect(handler({ RequestType: 'Delete', PhysicalResourceId: 'loglineos-ledger-migrations' })).resolves.toEqual({ PhysicalResourceId: 'loglineos-ledger-migrations', Data: { Applied: '' } });
  });
});
