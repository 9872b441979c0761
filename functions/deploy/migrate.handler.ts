import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ensureAppRole } from './app-role.ts';
import { SEEDS } from './seeds.ts';
import { readDatabaseSecret } from '../commons/aws-config.ts';
import { tracedAwsClient } from '../commons/aws-tracing.ts';
import { configFromEnvironment } from '../commons/runtime.ts';
import { logger, observedHandler } from '../commons/observability.ts';
import { openLedger } from '../ledger/index.ts';

/** The part of a CloudFormation custom resource event (through the CDK provider) used here. */
export interface MigrationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
}

export interface MigrationResult {
  readonly PhysicalResourceId: string;
  /** AppRole: the role the API's Lambdas log in as, when APP_DATABASE_SECRET_ARN names its secret. */
  readonly Data: { readonly Applied: string; readonly AppRole?: string };
}

const PHYSICAL_ID = 'loglineos-ledger-migrations';

/**
 * Custom resource handler run by `cdk deploy`: opening the ledger applies pending migrations, then
 * the API's login role is created or brought back to its layout with its secret's password
 * (APP_DATABASE_SECRET_ARN; app-role.ts). This function alone logs in as the master user. A failure
 * throws, which fails the resource and rolls the deploy back. Deleting the resource leaves the
 * database alone (its data outlives the stack's resources).
 */
export const handler = observedHandler('migrate', async (event: MigrationEvent): Promise<MigrationResult> => {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID, Data: { Applied: '' } };
  const ledger = await openLedger(await configFromEnvironment(), SEEDS);
  try {
    const applied = ledger.migrated.join(',');
    logger.info('ledger migrated', { applied: ledger.migrated });
    const appSecretArn = process.env.APP_DATABASE_SECRET_ARN;
    if (!appSecretArn) return { PhysicalResourceId: PHYSICAL_ID, Data: { Applied: applied } };
    const appRole = await ensureAppRole(ledger.db, await readDatabaseSecret(appSecretArn, tracedAwsClient(new SecretsManagerClient({}))));
    logger.info('app role ready', { ...appRole });
    return { PhysicalResourceId: PHYSICAL_ID, Data: { Applied: applied, AppRole: appRole.role } };
  } finally {
    await ledger.db.close();
  }
});
