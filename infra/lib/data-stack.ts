import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { CheckpointBucket } from './checkpoint-bucket.ts';
import type { EnvironmentSettings } from './environments.ts';
import { LedgerMigrations } from './ledger-migrations.ts';

export interface DataStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
  readonly vpc: ec2.IVpc;
  readonly lambdaSecurityGroup: ec2.ISecurityGroup;
}

export const DATABASE_NAME = 'loglineos';
/** The role the API's Lambdas log in as; the migration resource creates it (functions/deploy/app-role.ts). */
export const APP_DATABASE_USER = 'loglineos_app';
/** How often the database passwords rotate; warm Lambdas pick a new one up without a redeploy. */
const PASSWORD_ROTATION = Duration.days(30);
/** RDS Proxy listens on PostgreSQL's port whatever the instance's port is. */
export const PROXY_PORT = 5432;
const DATABASE_PORT = 5433;
const CACHE_PORT = 6380;

/** Secrets Manager's generator, restricted to lower-case hex: 64 characters are 256 random bits. */
const HEX_SECRET_STRING: secretsmanager.SecretStringGenerator = {
  passwordLength: 64,
  excludeUppercase: true,
  excludePunctuation: true,
  includeSpace: false,
  requireEachIncludedType: false,
  excludeCharacters: 'ghijklmnopqrstuvwxyz',
};

/**
 * The ledger's PostgreSQL 16 behind RDS Proxy, the Valkey cache, the secrets the Lambdas read, the
 * migrations that run on every deploy, and the Object Lock bucket that witnesses the ledger's signed
 * checkpoints. Everything but that bucket is encrypted with one customer-managed key (the bucket
 * uses S3-managed keys; checkpoint-bucket.ts says why).
 */
export class DataStack extends Stack {
  readonly key: kms.Key;
  readonly database: rds.DatabaseInstance;
  readonly proxy: rds.DatabaseProxy;
  /** The app role's login (loglineos_app), the only database secret the API's Lambdas may read. */
  readonly databaseSecret: secretsmanager.ISecret;
  /** The master user's login: RDS, its rotation, the proxy and the migration resource only. */
  readonly masterSecret: secretsmanager.ISecret;
  readonly signingKeySecret: secretsmanager.Secret;
  readonly cacheAuthSecret: secretsmanager.Secret;
  readonly tokenSecret: secretsmanager.Secret;
  readonly cache: elasticache.CfnReplicationGroup;
  /** What a Lambda needs in its environment to reach the ledger as the app role (credentials come from its secret). */
  readonly databaseEnvironment: Record<string, string>;
  readonly cacheEnvironment: Record<string, string>;
  readonly migrations: LedgerMigrations;
  /** Where the ledger's S3 witness keeps each signed checkpoint, locked for the environment's retention. */
  readonly checkpoints: CheckpointBucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { settings, vpc, lambdaSecurityGroup } = props;
    const dataSubnets = { subnetGroupName: 'data' };

    this.key = new kms.Key(this, 'DataKey', {
      description: `LogLineOS ${settings.name}: ledger database, cache, secrets and dead-letter queues`,
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
    });

    // Database
    const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc,
      description: 'RDS Proxy of the ledger: PostgreSQL from the Lambdas only',
      allowAllOutbound: false,
    });
    const databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'Ledger database: PostgreSQL from its RDS Proxy only',
      allowAllOutbound: false,
    });
    proxySecurityGroup.addIngressRule(lambdaSecurityGroup, ec2.Port.tcp(PROXY_PORT), 'Lambdas to RDS Proxy');
    databaseSecurityGroup.addIngressRule(proxySecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'RDS Proxy to the database');
    proxySecurityGroup.addEgressRule(databaseSecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'RDS Proxy to the database');

    const parameters = new rds.ParameterGroup(this, 'LedgerParameters', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      description: 'LogLineOS ledger: memory sized to the instance class, TLS required',
      parameters: {
        // Both are counted in 8 kB pages and DBInstanceClassMemory is in bytes: 25% and 75% of memory.
        shared_buffers: '{DBInstanceClassMemory/32768}',
        effective_cache_size: '{DBInstanceClassMemory*3/32768}',
        max_connections: '200',
        work_mem: '16384', // kB
        'rds.force_ssl': '1',
        log_min_duration_statement: '1000', // ms: slow statements reach the exported log
      },
    });

    // Named so that its exported-log groups can be created here with a retention, rather than by a
    // log-retention helper Lambda; RDS writes into a log group that already exists.
    const instanceIdentifier = `loglineos-${settings.name}-ledger`;
    const exportedLogs = ['postgresql', 'upgrade'];
    for (const log of exportedLogs) {
      new logs.LogGroup(this, `${log[0]?.toUpperCase()}${log.slice(1)}Log`, {
        logGroupName: `/aws/rds/instance/${instanceIdentifier}/${log}`,
        retention: settings.logRetention,
        removalPolicy: settings.removalPolicy,
      });
    }
    this.database = new rds.DatabaseInstance(this, 'Ledger', {
      instanceIdentifier,
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: new ec2.InstanceType(settings.database.instanceType),
      vpc,
      vpcSubnets: dataSubnets,
      securityGroups: [databaseSecurityGroup],
      port: DATABASE_PORT,
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret('ledger_admin', { encryptionKey: this.key }),
      parameterGroup: parameters,
      storageType: rds.StorageType.GP3,
      allocatedStorage: settings.database.allocatedStorageGiB,
      maxAllocatedStorage: settings.database.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: this.key,
      multiAz: settings.database.multiAz,
      deletionProtection: settings.database.deletionProtection,
      backupRetention: Duration.days(30),
      preferredBackupWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'sun:04:30-sun:05:30',
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      publiclyAccessible: false,
      iamAuthentication: true,
      cloudwatchLogsExports: exportedLogs,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.key,
      monitoringInterval: Duration.seconds(60),
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      removalPolicy: settings.databaseRemovalPolicy,
    });
    Validations.of(this.database).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      reason: 'The enhanced-monitoring role may only be assumed by monitoring.rds.amazonaws.com; AWS maintains this policy as exactly what RDS needs to publish OS metrics to its own RDSOSMetrics log group.',
    });
    if (!settings.database.multiAz) {
      Validations.of(this.database).acknowledge({
        id: 'AwsSolutions-RDS3',
        reason: `${settings.name} runs one instance to halve its cost; production runs Multi-AZ (asserted in test/infra).`,
      });
    }
    if (!settings.database.deletionProtection) {
      Validations.of(this.database).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: `${settings.name} is torn down with cdk destroy (README); production has deletion protection (asserted in test/infra).`,
      });
    }
    if (!this.database.secret) throw new Error('the ledger database has no generated secret');
    this.masterSecret = this.database.secret;
    // Not at creation: a rotation racing the first migration would change the password under it.
    this.database.addRotationSingleUser({ automaticallyAfter: PASSWORD_ROTATION, rotateImmediatelyOnUpdate: false, vpcSubnets: { subnetGroupName: 'lambda' } });

    // The API's own login, never the master user. Attached to the instance so that its rotation
    // function finds the host. Single-user rotation: the role changes its own password, keeping its
    // name (grants and memberships stay with it); the Lambdas read the new one when the proxy refuses
    // the old (functions/commons/aws-config.ts). Not at creation, for the same reason as above: the
    // role exists only once the migration resource has run.
    const appSecret = new rds.DatabaseSecret(this, 'AppDatabaseSecret', {
      username: APP_DATABASE_USER,
      encryptionKey: this.key,
    });
    appSecret.applyRemovalPolicy(settings.removalPolicy);
    this.databaseSecret = appSecret.attach(this.database);
    new secretsmanager.SecretRotation(this, 'AppDatabaseSecretRotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.databaseSecret,
      target: this.database,
      vpc,
      vpcSubnets: { subnetGroupName: 'lambda' },
      automaticallyAfter: PASSWORD_ROTATION,
      rotateImmediatelyOnUpdate: false,
    });

    // Identity is set per transaction and locks are transaction-scoped, so nothing needs a pinned
    // session; SET statements (the only pinning the proxy can be told to skip) are excluded.
    this.proxy = this.database.addProxy('Proxy', {
      dbProxyName: `loglineos-${settings.name}-ledger`,
      vpc,
      vpcSubnets: dataSubnets,
      securityGroups: [proxySecurityGroup],
      // The proxy logs in to the database with each user's secret; clients prove the same password
      // with SCRAM over TLS. Not IAM authentication: README "Least privilege" says why.
      secrets: [this.masterSecret, this.databaseSecret],
      clientPasswordAuthType: rds.ClientPasswordAuthType.POSTGRES_SCRAM_SHA_256,
      iamAuth: false,
      requireTLS: true,
      sessionPinningFilters: [rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
      maxConnectionsPercent: 90,
      idleClientTimeout: Duration.minutes(30),
    });
    this.databaseEnvironment = {
      DATABASE_SECRET_ARN: this.databaseSecret.secretArn,
      DATABASE_HOST: this.proxy.endpoint,
      DATABASE_PORT: String(PROXY_PORT),
      DATABASE_NAME,
    };

    // The deployment's Ed25519 seed: 64 hex characters (256 random bits).
    this.signingKeySecret = new secretsmanager.Secret(this, 'SigningKey', {
      description: `LogLineOS ${settings.name}: the deployment's Ed25519 signing seed (hex)`,
      encryptionKey: this.key,
      removalPolicy: settings.removalPolicy,
      generateSecretString: HEX_SECRET_STRING,
    });
    Validations.of(this.signingKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The deployment signing key is not a password: every signed span records its public key, and replacing the key is a ledger key ceremony (a new manifest and key id), not a scheduled rotation.',
    });

    // The key of the API tokens' HMAC: 64 hex characters (256 random bits).
    this.tokenSecret = new secretsmanager.Secret(this, 'TokenSecret', {
      description: `LogLineOS ${settings.name}: the key of API token hashes (HMAC-SHA-256, hex)`,
      encryptionKey: this.key,
      removalPolicy: settings.removalPolicy,
      generateSecretString: HEX_SECRET_STRING,
    });
    Validations.of(this.tokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The ledger finds a presented API token by its HMAC under this key, so a new key makes every issued token unknown at once; replacing it is a planned reissue of every app token, not a scheduled rotation.',
    });

    // Cache
    const cacheSecurityGroup = new ec2.SecurityGroup(this, 'CacheSecurityGroup', {
      vpc,
      description: 'Valkey cache: TLS from the Lambdas only',
      allowAllOutbound: false,
    });
    cacheSecurityGroup.addIngressRule(lambdaSecurityGroup, ec2.Port.tcp(CACHE_PORT), 'Lambdas to the cache');
    this.cacheAuthSecret = new secretsmanager.Secret(this, 'CacheAuthToken', {
      description: `LogLineOS ${settings.name}: the cache's AUTH token`,
      encryptionKey: this.key,
      removalPolicy: settings.removalPolicy,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.cacheAuthSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'ElastiCache changes an AUTH token only through ModifyReplicationGroup (ROTATE then SET); Secrets Manager has no managed rotation function for it. Rotate by updating the secret and redeploying.',
    });
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'CacheSubnets', {
      description: 'LogLineOS cache: isolated data subnets',
      subnetIds: vpc.selectSubnets(dataSubnets).subnetIds,
    });
    const cacheParameters = new elasticache.CfnParameterGroup(this, 'CacheParameters', {
      cacheParameterGroupFamily: 'valkey8',
      description: 'LogLineOS cache: evict least recently used keys, close idle clients',
      properties: { 'maxmemory-policy': 'allkeys-lru', timeout: '300' },
    });
    const failover = settings.cache.nodes > 1;
    this.cache = new elasticache.CfnReplicationGroup(this, 'Cache', {
      replicationGroupDescription: `LogLineOS ${settings.name} cache and session memory`,
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: settings.cache.nodeType,
      numCacheClusters: settings.cache.nodes,
      automaticFailoverEnabled: failover,
      multiAzEnabled: settings.cache.multiAz,
      port: CACHE_PORT,
      cacheSubnetGroupName: subnetGroup.ref,
      cacheParameterGroupName: cacheParameters.ref,
      securityGroupIds: [cacheSecurityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: this.key.keyArn,
      authToken: this.cacheAuthSecret.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: settings.cache.snapshotRetentionDays,
      snapshotWindow: '02:00-03:00',
      preferredMaintenanceWindow: 'sun:05:30-sun:06:30',
      autoMinorVersionUpgrade: true,
    });
    if (!settings.cache.multiAz) {
      Validations.of(this.cache).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason: `The cache holds only derived data (reads are rebuilt from the ledger); ${settings.name} runs without Multi-AZ to save cost, production with it (asserted in test/infra).`,
      });
    }
    this.cacheEnvironment = {
      REDIS_HOST: this.cache.attrPrimaryEndPointAddress,
      REDIS_PORT: String(CACHE_PORT),
      REDIS_AUTH_SECRET_ARN: this.cacheAuthSecret.secretArn,
    };

    this.checkpoints = new CheckpointBucket(this, 'Checkpoints', { settings });
    new CfnOutput(this, 'CheckpointBucket', {
      value: this.checkpoints.bucket.bucketName,
      description: `The ledger's signed checkpoints, each locked ${settings.checkpoints.retentionDays} day${settings.checkpoints.retentionDays === 1 ? '' : 's'} in COMPLIANCE mode (aws s3 ls s3://<name>/checkpoints/ --recursive)`,
    });

    this.migrations = new LedgerMigrations(this, 'Migrations', {
      settings,
      vpc,
      securityGroup: lambdaSecurityGroup,
      key: this.key,
      masterSecret: this.masterSecret,
      appSecret: this.databaseSecret,
      appUser: APP_DATABASE_USER,
      databaseEnvironment: this.databaseEnvironment,
      after: [this.database, this.proxy],
    });
  }
}
