import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'production'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** Everything that differs between environments; the stacks read nothing else from context. */
export interface EnvironmentSettings {
  readonly name: EnvironmentName;
  readonly network: {
    /** Availability zones the VPC spans (2–3). */
    readonly azs: 2 | 3;
    /** NAT gateways for the Lambda subnets' egress (one per AZ in production). */
    readonly natGateways: number;
  };
  readonly database: {
    readonly instanceType: string;
    readonly allocatedStorageGiB: number;
    readonly maxAllocatedStorageGiB: number;
    readonly multiAz: boolean;
    readonly deletionProtection: boolean;
  };
  readonly cache: {
    readonly nodeType: string;
    /** Primary plus replicas; failover and Multi-AZ need at least 2. */
    readonly nodes: number;
    readonly multiAz: boolean;
    readonly snapshotRetentionDays: number;
  };
  readonly lambda: {
    readonly memoryMiB: number;
    readonly timeoutSeconds: number;
  };
  readonly userPool: {
    /** TOTP required at sign-in; dev leaves it optional so testers can sign in from the CLI. */
    readonly mfaRequired: boolean;
    /** Cognito Plus tier: threat protection (compromised credentials, adaptive authentication). */
    readonly threatProtection: boolean;
  };
  /** Bedrock models (foundation model ids in the deployment's region; the functions may call only these). */
  readonly models: {
    readonly textModelId: string;
    /** 1536-dimensional, the memory vectors' size (MEMORY_EMBEDDING_DIMENSIONS). */
    readonly embeddingModelId: string;
  };
  /**
   * The S3 bucket that witnesses the ledger's signed checkpoints. Each note is locked in COMPLIANCE
   * mode for `retentionDays` from its write: nobody, the account's root included, can delete or
   * overwrite it before then, and the retention cannot be shortened or the lock removed afterwards.
   */
  readonly checkpoints: {
    /** Object Lock default retention (COMPLIANCE), in days: how long history stays provably unrewritten. */
    readonly retentionDays: number;
    /**
     * Notes are deleted this many days after they were written (a lifecycle expiration, once the lock
     * has passed); absent keeps them for good. Only dev lets them go, so its bucket empties itself.
     */
    readonly expireAfterDays?: number;
  };
  readonly logRetention: RetentionDays;
  /** What `cdk destroy` does to keys, secrets and logs: dev is disposable, the others keep them. */
  readonly removalPolicy: RemovalPolicy.DESTROY | RemovalPolicy.RETAIN;
  /** What `cdk destroy` does to the database: dev drops it, staging leaves a final snapshot. */
  readonly databaseRemovalPolicy: RemovalPolicy;
}

const MODELS = { textModelId: 'anthropic.claude-3-5-haiku-20241022-v1:0', embeddingModelId: 'amazon.titan-embed-text-v1' } as const;

const DEV: EnvironmentSettings = {
  name: 'dev',
  network: { azs: 2, natGateways: 1 },
  database: { instanceType: 't4g.medium', allocatedStorageGiB: 20, maxAllocatedStorageGiB: 50, multiAz: false, deletionProtection: false },
  cache: { nodeType: 'cache.t4g.micro', nodes: 1, multiAz: false, snapshotRetentionDays: 1 },
  lambda: { memoryMiB: 512, timeoutSeconds: 30 },
  userPool: { mfaRequired: false, threatProtection: false },
  models: MODELS,
  // A day is enough to exercise the lock; a test checkpoint is not worth keeping.
  checkpoints: { retentionDays: 1, expireAfterDays: 2 },
  logRetention: RetentionDays.TWO_WEEKS,
  removalPolicy: RemovalPolicy.DESTROY,
  databaseRemovalPolicy: RemovalPolicy.DESTROY,
};

const STAGING: EnvironmentSettings = {
  name: 'staging',
  network: { azs: 2, natGateways: 1 },
  database: { instanceType: 'r6g.large', allocatedStorageGiB: 50, maxAllocatedStorageGiB: 200, multiAz: false, deletionProtection: false },
  cache: { nodeType: 'cache.t4g.medium', nodes: 2, multiAz: false, snapshotRetentionDays: 1 },
  lambda: { memoryMiB: 1024, timeoutSeconds: 30 },
  userPool: { mfaRequired: true, threatProtection: false },
  models: MODELS,
  // A month covers a release cycle's audits; notes are kept after the lock, like production's.
  checkpoints: { retentionDays: 30 },
  logRetention: RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.RETAIN,
  databaseRemovalPolicy: RemovalPolicy.SNAPSHOT,
};

/** The deployment guide's production sizes (section 12). */
const PRODUCTION: EnvironmentSettings = {
  name: 'production',
  network: { azs: 3, natGateways: 3 },
  database: { instanceType: 'r6g.xlarge', allocatedStorageGiB: 100, maxAllocatedStorageGiB: 1000, multiAz: true, deletionProtection: true },
  cache: { nodeType: 'cache.r6g.large', nodes: 2, multiAz: true, snapshotRetentionDays: 5 },
  lambda: { memoryMiB: 1024, timeoutSeconds: 30 },
  userPool: { mfaRequired: true, threatProtection: true },
  models: MODELS,
  // A year: an auditor checking the ledger yearly always finds the last year's checkpoints locked.
  checkpoints: { retentionDays: 365 },
  logRetention: RetentionDays.ONE_YEAR,
  removalPolicy: RemovalPolicy.RETAIN,
  databaseRemovalPolicy: RemovalPolicy.RETAIN,
};

const SETTINGS: Record<EnvironmentName, EnvironmentSettings> = { dev: DEV, staging: STAGING, production: PRODUCTION };

/** The settings of `-c env=<name>`; an unknown name fails with the names that exist. */
export function environmentSettings(name: unknown): EnvironmentSettings {
  if (typeof name === 'string' && (ENVIRONMENT_NAMES as readonly string[]).includes(name)) return SETTINGS[name as EnvironmentName];
  throw new Error(`choose an environment with -c env=<${ENVIRONMENT_NAMES.join('|')}>, got ${JSON.stringify(name)}`);
}

/**
 * The guide's per-client limit: requests per IP in any 5 minutes, enforced by the API's WAF web ACL.
 * (AppSync has no per-API throttle like API Gateway's burst/rate; its request rate is an account quota.)
 */
export const WAF_RATE_LIMIT_PER_5_MINUTES = 2000;
