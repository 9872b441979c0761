import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { WITNESS_MISSED } from '../../functions/api/ledger/checkpoint-pass.ts';
import type { BundledFunction } from '../../infra/lib/bundled-function.ts';
import { CheckpointBucket, WITNESS_BUCKET_VARIABLE } from '../../infra/lib/checkpoint-bucket.ts';
import { ENVIRONMENT_NAMES, environmentSettings } from '../../infra/lib/environments.ts';
import { resourcesOf, synthesize, type Synthesized } from './synth.ts';

// Given dev and production, each synthesized once for this file (templates only: no Lambda bundles)
const synthesized = { dev: synthesize('dev', undefined, { bundling: false }), production: synthesize('production', undefined, { bundling: false }) };
const NAMES = ['dev', 'production'] as const;

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

const bucketIdOf = (s: Synthesized) => s.deployment.data.getLogicalId(s.deployment.data.checkpoints.bucket.node.defaultChild as CfnElement);

/** What an Fn::ImportValue in the API stack imports: the value the data stack exports under that name. */
function imported(s: Synthesized, value: unknown): unknown {
  const name = (value as { 'Fn::ImportValue'?: unknown } | undefined)?.['Fn::ImportValue'];
  const outputs = s.data.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
  const found = Object.values(outputs).find((output) => output.Export?.Name === name);
  if (!found) throw new Error(`the data stack exports nothing named ${JSON.stringify(name)}`);
  return found.Value;
}

/** A function's environment and the IAM statements of its role, from the API template. */
function deployed(s: Synthesized, bundled: BundledFunction | undefined) {
  if (!bundled) throw new Error('no such function');
  const idOf = (element: unknown) => s.deployment.api.getLogicalId(element as CfnElement);
  const properties = resourcesOf(s.api, 'AWS::Lambda::Function')[idOf(bundled.function.node.defaultChild)]?.Properties ?? {};
  const role = idOf(bundled.function.role?.node.defaultChild);
  const statements = Object.values(resourcesOf(s.api, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement);
  const variables = (properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
  const s3Actions = statements.flatMap((statement) => [statement.Action].flat()).filter((action) => action.startsWith('s3:'));
  return { properties, variables, statements, s3Actions, logicalId: idOf(bundled.function.node.defaultChild) };
}

const witnesses = (s: Synthesized) => ({ ledger: s.deployment.api.functions.get('ledger'), LedgerCheckpoints: s.deployment.api.scheduled.get('LedgerCheckpoints') });
const bucketOf = (data: Template, id: string) => resourcesOf(data, 'AWS::S3::Bucket')[id];

describe.each(NAMES)('the checkpoint bucket (%s)', (name) => {
  const s = synthesized[name];
  const settings = environmentSettings(name);
  const bucketId = bucketIdOf(s);
  const bucket = () => bucketOf(s.data, bucketId);

  it('locks every note in COMPLIANCE mode for the environment\'s retention, versioned', () => {
    // When the bucket's lock and versioning are read
    const properties = bucket()?.Properties ?? {};
    // Then Object Lock is on, with the environment's retention in COMPLIANCE mode, over versions
    expect(properties.ObjectLockEnabled).toBe(true);
    expect(properties.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: settings.checkpoints.retentionDays } } });
    expect(properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('is encrypted, private, TLS-only and retained by CloudFormation', () => {
    // When the bucket and its policy are read
    const found = bucket();
    const policies = Object.values(resourcesOf(s.data, 'AWS::S3::BucketPolicy')).filter((policy) => JSON.stringify(policy.Properties?.Bucket) === JSON.stringify({ Ref: bucketId }));
    const statements = policies.flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: (Statement & { Condition?: unknown })[] }).Statement);
    // Then it is encrypted at rest, closed to the public, owned by the account, and kept on teardown
    expect(found?.Properties?.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(found?.Properties?.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(found?.Properties?.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(found).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    // And its policy only refuses (plain HTTP, TLS below 1.2): every grant is on a writer's role
    expect(statements.map((statement) => statement.Effect)).toEqual(['Deny', 'Deny']);
    expect(statements.map((statement) => statement.Condition)).toEqual([{ Bool: { 'aws:SecureTransport': 'false' } }, { NumericLessThan: { 's3:TlsVersion': 1.2 } }]);
  });

  it('expires noncurrent versions after the retention; only dev lets current notes go', () => {
    // When the lifecycle rules are read
    const rules = (bucket()?.Properties?.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    // Then a version hidden by a delete marker goes once its lock has passed, with stale markers and uploads
    expect(rules).toContainEqual({ Id: 'NoncurrentAfterRetention', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: settings.checkpoints.retentionDays }, ExpiredObjectDeleteMarker: true, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } });
    // And current notes expire only where the environment says so, never before their lock ends
    const expiring = rules.filter((rule) => 'ExpirationInDays' in rule);
    expect(expiring.map((rule) => rule.ExpirationInDays)).toEqual(settings.checkpoints.expireAfterDays === undefined ? [] : [settings.checkpoints.expireAfterDays]);
    for (const rule of expiring) expect(rule.ExpirationInDays).toBeGreaterThanOrEqual(settings.checkpoints.retentionDays);
  });

  it('is named by the data stack\'s CheckpointBucket output, for auditors', () => {
    const outputs = s.data.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;
    expect(outputs.CheckpointBucket?.Value).toEqual({ Ref: bucketId });
    expect(outputs.CheckpointBucket?.Description).toContain(`locked ${settings.checkpoints.retentionDays} day`);
  });

  it('is written by the ledger Lambda and the LedgerCheckpoints job alone: s3:PutObject under checkpoints/, nothing else', () => {
    // When each function's witness setting and S3 permissions are read
    const arn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
    for (const [job, bundled] of Object.entries(witnesses(s))) {
      const fn = deployed(s, bundled);
      // Then the witness functions are told the bucket, and may put objects under checkpoints/ only
      expect(imported(s, fn.variables[WITNESS_BUCKET_VARIABLE]), job).toEqual({ Ref: bucketId });
      const puts = fn.statements.filter((statement) => [statement.Action].flat().some((action) => action.startsWith('s3:')));
      expect(puts.map((statement) => [statement.Effect, statement.Action]), job).toEqual([['Allow', 's3:PutObject']]);
      const [objects] = puts.map((statement) => statement.Resource as { 'Fn::Join': [string, [unknown, string]] });
      expect(objects?.['Fn::Join'][1][1], job).toBe('/checkpoints/*');
      expect(imported(s, objects?.['Fn::Join'][1][0]), job).toEqual(arn);
      // And nothing that deletes a note, shortens or bypasses its lock
      for (const action of fn.s3Actions) expect(action, job).not.toMatch(/^s3:(\*|Delete|BypassGovernanceRetention|PutObjectRetention|PutObjectLegalHold|PutBucket)/);
    }
    // And no other function of the API can reach the bucket
    const others = [...s.deployment.api.functions.entries(), ...s.deployment.api.scheduled.entries(), ['authorizer', s.deployment.api.authorizer] as const]
      .filter(([fnName]) => !(fnName in witnesses(s)));
    expect(others.length).toBeGreaterThan(3);
    for (const [fnName, bundled] of others) {
      const fn = deployed(s, bundled);
      expect(fn.s3Actions, fnName).toEqual([]);
      expect(fn.variables, fnName).not.toHaveProperty(WITNESS_BUCKET_VARIABLE);
    }
  });

  it('LedgerCheckpoints runs every minute from an EventBridge rule, through the ledger bundle\'s scheduled handler', () => {
    // When the rule targeting the job is found
    const job = deployed(s, witnesses(s).LedgerCheckpoints);
    const rules = Object.values(resourcesOf(s.api, 'AWS::Events::Rule')).map((rule) => rule.Properties ?? {})
      .filter((rule) => JSON.stringify(rule.Targets).includes(JSON.stringify({ 'Fn::GetAtt': [job.logicalId, 'Arn'] })));
    // Then one enabled rule runs it each minute, without EventBridge retries (the next pass catches up)
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', Targets: [expect.objectContaining({ RetryPolicy: { MaximumRetryAttempts: 0 } })] });
    expect(job.properties.Handler).toBe('index.scheduled');
    // And it opens the ledger, signs and publishes as the ledger's data source does
    const ledger = deployed(s, witnesses(s).ledger);
    for (const variable of ['DATABASE_SECRET_ARN', 'DATABASE_HOST', 'SIGNING_KEY_SECRET_ARN', WITNESS_BUCKET_VARIABLE, 'APPSYNC_GRAPHQL_URL']) {
      expect(job.variables[variable], variable).toEqual(ledger.variables[variable]);
    }
  });

  it('alarms when a checkpoint misses the bucket: the job\'s logged witness errors are counted', () => {
    // When the job's log group filters and the operations alarms are read
    const job = witnesses(s).LedgerCheckpoints;
    const logGroup = s.deployment.api.getLogicalId(job?.logGroup.node.defaultChild as CfnElement);
    const metric = { MetricNamespace: `LogLineOS/${name}`, MetricName: 'CheckpointWitnessFailures', MetricValue: '1', DefaultValue: 0 };
    // Then the line runCheckpointPass logs for a missed checkpoint is counted from the job's logs
    s.api.hasResourceProperties('AWS::Logs::MetricFilter', { LogGroupName: { Ref: logGroup }, FilterPattern: `"${WITNESS_MISSED}"`, MetricTransformations: [metric] });
    // And one such line in five minutes raises an alarm to the topic
    s.operations.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: `LogLineOS/${name}`, MetricName: 'CheckpointWitnessFailures', Statistic: 'Sum', Period: 300, Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
  });

  it('acknowledges exactly two cdk-nag findings for it: no access-log bucket, and the checkpoints/ prefix', () => {
    // When the acknowledgements recorded on the bucket and the witness functions are collected
    const acknowledged = (scope: IConstruct | undefined) => (scope?.node.metadata ?? [])
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.keys(entry.data as Record<string, string>).map((id) => id.replace(/^Annotation::/, '')));
    const onBucket = acknowledged(s.deployment.data.checkpoints.bucket);
    const acks = Object.values(witnesses(s)).flatMap((bundled) => acknowledged(bundled?.function)).filter((id) => id.includes('Checkpoint'));
    // Then S1 alone on the bucket (S2 and S10 hold), and the prefix wildcard on each witness
    expect(onBucket).toEqual(['AwsSolutions-S1']);
    const prefix = `AwsSolutions-IAM5[Resource::LogLineOS-${name}-Data-CheckpointBucketArn/checkpoints/*]`;
    expect(acks).toEqual([prefix, prefix]);
  });
});

describe('checkpoint settings', () => {
  // The retentions the README's deployment section documents.
  const DOCUMENTED_RETENTION_DAYS = { dev: 1, staging: 30, production: 365 };

  it.each(ENVIRONMENT_NAMES)('%s locks notes for its documented retention, and any expiry comes after the lock', (name) => {
    const { retentionDays, expireAfterDays } = environmentSettings(name).checkpoints;
    expect(retentionDays).toBe(DOCUMENTED_RETENTION_DAYS[name]);
    if (name !== 'dev') expect(expireAfterDays).toBeUndefined();
    else expect(expireAfterDays).toBeGreaterThanOrEqual(retentionDays);
  });

  it('an expiry shorter than the lock is refused with both values', () => {
    // Given settings that would expire notes a week into a 30-day lock
    const settings = { ...environmentSettings('dev'), checkpoints: { retentionDays: 30, expireAfterDays: 7 } };
    // When the bucket is made, Then it is refused
    expect(() => new CheckpointBucket(new Stack(new App(), 'S'), 'Checkpoints', { settings })).toThrow(/expireAfterDays must be at least checkpoints\.retentionDays \(30\), got 7/);
  });
});
