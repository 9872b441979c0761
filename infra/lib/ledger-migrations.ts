import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CfnElement, CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IDependable } from 'constructs';
import { BundledFunction, PROJECT_ROOT } from './bundled-function.ts';
import type { EnvironmentSettings } from './environments.ts';

export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'functions/ledger/migrations');
export const MIGRATIONS_RESOURCE_TYPE = 'Custom::LedgerMigrations';

/** A digest of every migration file: a new or changed migration updates the resource, so it runs. */
export function migrationsChecksum(dir = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.sql')).sort()) {
    hash.update(file).update('\0').update(readFileSync(join(dir, file))).update('\0');
  }
  return hash.digest('hex');
}

export interface LedgerMigrationsProps {
  readonly settings: EnvironmentSettings;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly key: kms.IKey;
  /** The master user's login: the migrator alone reads it. */
  readonly masterSecret: secretsmanager.ISecret;
  /** The app role's login, whose role and password the migrator sets. */
  readonly appSecret: secretsmanager.ISecret;
  readonly appUser: string;
  /** The environment the Lambdas connect with (the proxy's host, port and database name). */
  readonly databaseEnvironment: Record<string, string>;
  /** What must exist before migrating (the database instance and its proxy target). */
  readonly after: readonly IDependable[];
}

/**
 * Applies the ledger's migrations during `cdk deploy`: a custom resource whose handler opens the
 * ledger (which migrates) through RDS Proxy as the master user, then creates or checks the app's
 * login role with its secret's password. A failed migration fails the resource, and with it the
 * deploy, which CloudFormation then rolls back.
 */
export class LedgerMigrations extends Construct {
  readonly handler: BundledFunction;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: LedgerMigrationsProps) {
    super(scope, id);
    this.handler = new BundledFunction(this, 'Migrator', {
      entry: 'functions/deploy/migrate.handler.ts',
      description: 'LogLineOS: applies the ledger migrations on deploy',
      settings: props.settings,
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      key: props.key,
      timeout: Duration.minutes(10),
      environment: {
        ...props.databaseEnvironment,
        DATABASE_SECRET_ARN: props.masterSecret.secretArn,
        APP_DATABASE_SECRET_ARN: props.appSecret.secretArn,
        LOGLINEOS_SIGNING: 'off',
      },
    });
    this.handler.allowSecretRead(props.masterSecret, props.appSecret);

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: props.settings.logRetention, removalPolicy: props.settings.removalPolicy }),
    });
    Validations.of(provider).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The CDK custom resource framework function writes only its own logs; AWS maintains this policy as the minimum for any function.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.handler.function.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: 'The framework may invoke the migrator function only, any of its versions (the suffix after its ARN).',
      },
    );
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: MIGRATIONS_RESOURCE_TYPE,
      // A new app role name also re-runs it; a rotated password needs no run (the rotation sets it).
      properties: { MigrationsChecksum: migrationsChecksum(), AppRole: props.appUser },
    });
    for (const dependency of props.after) this.resource.node.addDependency(dependency);
  }
}
