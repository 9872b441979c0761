import { SEEDS } from './seeds.ts';
import { configFromEnvironment } from '../commons/runtime.ts';
import { openLedger } from '../ledger/index.ts';

/** The part of a CloudFormation custom resource event (through the CDK provider) used here. */
export interface MigrationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
}

export interface MigrationResult {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly Applied: string };
}

const PHYSICAL_ID = 'loglineos-ledger-migrations';

/**
 * Custom resource handler run by `cdk deploy`: opening the ledger applies pending migrations. A
 * failure throws, which fails the resource and rolls the deploy back. Deleting the resource leaves
 * the database alone (its data outlives the stack's resources).
 */
export async function handler(event: MigrationEvent): Promise<MigrationResult> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID, Data: { Applied: '' } };
  const ledger = await openLedger(await configFromEnvironment(), SEEDS);
  try {
    const applied = ledger.migrated.join(',');
    console.log(JSON.stringify({ level: 'info', message: 'ledger migrated', applied: ledger.migrated }));
    return { PhysicalResourceId: PHYSICAL_ID, Data: { Applied: applied } };
  } finally {
    await ledger.db.close();
  }
}
