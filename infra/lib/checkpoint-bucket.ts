import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import type { EnvironmentSettings } from './environments.ts';

/** Where the S3 witness puts notes (functions/ledger/witnesses.ts); writers may put nowhere else. */
export const CHECKPOINT_PREFIX = 'checkpoints/';
/** The variable that gives the ledger's functions the bucket (functions/api/ledger/data-source.ts). */
export const WITNESS_BUCKET_VARIABLE = 'LOGLINEOS_WITNESS_BUCKET';

export interface CheckpointBucketProps {
  readonly settings: EnvironmentSettings;
}

/**
 * The witness of the ledger's signed checkpoints outside the database: an S3 bucket with Object Lock
 * in COMPLIANCE mode, so a note once written cannot be deleted or overwritten by anyone, the
 * account's root included, until its retention (a setting per environment) has passed. A ledger whose
 * history was rewritten behind the API cannot produce a log consistent with the notes kept here.
 */
export class CheckpointBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** The bucket's ARN as other stacks import it, exported on first use. */
  private exportedArn: string | undefined;

  constructor(scope: Construct, id: string, props: CheckpointBucketProps) {
    super(scope, id);
    const { retentionDays, expireAfterDays } = props.settings.checkpoints;
    const retention = Duration.days(retentionDays);
    if (expireAfterDays !== undefined && expireAfterDays < retentionDays) {
      throw new Error(`checkpoints.expireAfterDays must be at least checkpoints.retentionDays (${retentionDays}), got ${expireAfterDays}: expiring a note still under Object Lock would only hide it behind a delete marker`);
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(retention),
      versioned: true,
      // S3-managed keys, not KMS: a locked note under a customer key is readable only while that key
      // is enabled, and a key scheduled for deletion would silence the witness the lock protects. The
      // notes are signed public statements (origin, size, root hash, time) and carry no span content.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [
        {
          id: 'NoncurrentAfterRetention',
          // A version is noncurrent only once a delete marker covers it; S3 keeps it locked regardless.
          noncurrentVersionExpiration: retention,
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        ...(expireAfterDays !== undefined ? [{ id: 'ExpireNotes', expiration: Duration.days(expireAfterDays) }] : []),
      ],
      // Every environment retains the bucket: CloudFormation cannot delete a bucket that holds locked
      // objects (a DESTROY would leave `cdk destroy` failed), and nothing can delete the objects before
      // their retention anyway. Dev's notes expire, so its orphaned bucket empties itself.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'The project has no access-log bucket (a new one would be unlogged itself). The only writers are the ledger Lambda roles, allowed s3:PutObject under checkpoints/ alone; each note is Object-Locked, SHA-256-checksummed and Ed25519-signed, so its integrity does not rest on who wrote it. Turn on CloudTrail S3 data events for this bucket to audit reads.',
    });
  }

  /**
   * Lets a function keep notes: the bucket's name in its environment and s3:PutObject under
   * checkpoints/ only. Object Lock applies the default retention itself, so no retention action is
   * granted, and no delete, read or bypass either; a checksummed put needs nothing more.
   */
  grantWitness(fn: iam.IGrantable & IConstruct & { addEnvironment(key: string, value: string): unknown }): void {
    fn.addEnvironment(WITNESS_BUCKET_VARIABLE, this.bucket.bucketName);
    const home = Stack.of(this);
    // From another stack, through an export named here, so the acknowledgement below can name it.
    const [bucketArn, shown] = Stack.of(fn) === home
      ? [this.bucket.bucketArn, `<${home.getLogicalId(this.bucket.node.defaultChild as CfnElement)}.Arn>`]
      : [(this.exportedArn ??= home.exportValue(this.bucket.bucketArn, { name: `${home.stackName}-CheckpointBucketArn` })), `${home.stackName}-CheckpointBucketArn`];
    fn.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [`${bucketArn}/${CHECKPOINT_PREFIX}*`] }));
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${shown}/${CHECKPOINT_PREFIX}*]`,
      reason: 'Each checkpoint is a new object named by its log, size and time (checkpoints/<origin>/<size>-<time>.note); the wildcard is the checkpoints/ prefix of the witness bucket, for s3:PutObject alone.',
    });
  }
}
