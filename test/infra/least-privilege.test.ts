import { describe, expect, it } from 'vitest';
import { APP_DATABASE_USER } from '../../infra/lib/data-stack.ts';
import { MIGRATIONS_RESOURCE_TYPE } from '../../infra/lib/ledger-migrations.ts';
import { resourcesOf, synthesize, type Resources } from './synth.ts';

/*
 * The AWS half of least privilege: which Lambda may read which database secret, how the proxy
 * authenticates, and that both database passwords rotate. test/access/least-privilege.test.ts shows
 * the same role layout working, and refusing, on a real database.
 */

// Given the production app as `cdk synth` builds it (templates only; the bundles are not needed)
const { data, api } = synthesize('production', undefined, { bundling: false });

const logicalIdOf = (resources: Resources, prefix: string): string => {
  const ids = Object.keys(resources).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one resource named ${prefix}…, found ${ids.join(', ') || 'none'}`);
  return ids[0] ?? '';
};
const attachments = resourcesOf(data, 'AWS::SecretsManager::SecretTargetAttachment');
const appSecret = logicalIdOf(attachments, 'AppDatabaseSecretAttachment');
const masterSecret = logicalIdOf(attachments, 'LedgerSecretAttachment');
/** How the Api stack names a Data stack secret: an import of its export. */
const imported = (logicalId: string) => ({ 'Fn::ImportValue': expect.stringMatching(new RegExp(`^LogLineOS-production-Data:ExportsOutputRef${logicalId}`)) as unknown });

const variablesOf = (resources: Resources) =>
  Object.entries(resources).map(([id, fn]) => [id, ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {})] as const);

describe('the database secrets the Lambdas get', () => {
  it('gives every API Lambda that reaches the ledger the app role\'s secret, never the master user\'s', () => {
    // When the Api stack's functions are read
    const withDatabase = variablesOf(resourcesOf(api, 'AWS::Lambda::Function')).filter(([, variables]) => 'DATABASE_SECRET_ARN' in variables);
    // Then there are several, and each names the app secret
    expect(withDatabase.length).toBeGreaterThanOrEqual(5);
    for (const [, variables] of withDatabase) expect(variables.DATABASE_SECRET_ARN).toEqual(imported(appSecret));
    // And no policy of the Api stack grants reading the master secret
    expect(JSON.stringify(api.toJSON())).not.toContain(masterSecret);
  });

  it('lets each of those Lambdas read the app secret', () => {
    const policies = Object.values(resourcesOf(api, 'AWS::IAM::Policy')).map((policy) => JSON.stringify(policy.Properties));
    const readingSecrets = policies.filter((policy) => policy.includes('secretsmanager:GetSecretValue'));
    expect(readingSecrets.length).toBeGreaterThanOrEqual(5);
    for (const policy of readingSecrets) expect(policy).toContain(`ExportsOutputRef${appSecret}`);
  });

  it('gives the master secret to the migration function alone, with the app secret whose role it creates', () => {
    // When the Data stack's functions are read
    const functions = variablesOf(resourcesOf(data, 'AWS::Lambda::Function'));
    const withMaster = functions.filter(([, variables]) => JSON.stringify(variables).includes(masterSecret));
    // Then only the migrator names it, as its connection, and names the app secret beside it
    expect(withMaster.map(([id]) => id)).toEqual([expect.stringMatching(/^MigrationsMigratorFunction/)]);
    expect(withMaster[0]?.[1]).toMatchObject({ DATABASE_SECRET_ARN: { Ref: masterSecret }, APP_DATABASE_SECRET_ARN: { Ref: appSecret } });
    // And the migration resource carries the app role's name, so a new name re-runs it
    data.hasResourceProperties(MIGRATIONS_RESOURCE_TYPE, { AppRole: APP_DATABASE_USER });
  });

  it('generates the app secret for loglineos_app under the data key', () => {
    const [secret] = Object.entries(resourcesOf(data, 'AWS::SecretsManager::Secret')).filter(([id]) => id.startsWith('AppDatabaseSecret'));
    expect(secret?.[1].Properties).toMatchObject({
      KmsKeyId: expect.anything() as unknown,
      GenerateSecretString: { SecretStringTemplate: JSON.stringify({ username: APP_DATABASE_USER }), GenerateStringKey: 'password' },
    });
  });
});

describe('rotation and the proxy', () => {
  it('rotates the app secret and the master secret every 30 days, neither at creation', () => {
    const schedules = Object.values(resourcesOf(data, 'AWS::SecretsManager::RotationSchedule')).map((schedule) => schedule.Properties);
    expect(schedules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ SecretId: { Ref: appSecret }, RotationRules: { ScheduleExpression: 'rate(30 days)' }, RotateImmediatelyOnUpdate: false }),
        expect.objectContaining({ SecretId: { Ref: masterSecret }, RotationRules: { ScheduleExpression: 'rate(30 days)' }, RotateImmediatelyOnUpdate: false }),
      ]),
    );
    expect(schedules).toHaveLength(2);
  });

  it('rotates the app secret with the single-user PostgreSQL rotation, which keeps the role name', () => {
    // The rotation application's id is in a mapping per partition, named after its construct
    const mappings = (data.toJSON() as { Mappings: Record<string, { aws: { applicationId: string } }> }).Mappings;
    const [mapping] = Object.entries(mappings).filter(([id]) => id.startsWith('AppDatabaseSecretRotationSARMapping'));
    expect(mapping?.[1].aws.applicationId).toMatch(/:applications\/SecretsManagerRDSPostgreSQLRotationSingleUser$/);
  });

  it('authenticates clients of the proxy with SCRAM over TLS from either secret, not with IAM', () => {
    data.hasResourceProperties('AWS::RDS::DBProxy', {
      RequireTLS: true,
      Auth: [
        { AuthScheme: 'SECRETS', ClientPasswordAuthType: 'POSTGRES_SCRAM_SHA_256', IAMAuth: 'DISABLED', SecretArn: { Ref: masterSecret } },
        { AuthScheme: 'SECRETS', ClientPasswordAuthType: 'POSTGRES_SCRAM_SHA_256', IAMAuth: 'DISABLED', SecretArn: { Ref: appSecret } },
      ],
    });
  });
});
