import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { isObjectType } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSchema } from '../../local/schema.ts';
import { deployedResolvers } from '../../infra/lib/resolver-code.ts';
import { WAF_RATE_LIMIT_PER_5_MINUTES } from '../../infra/lib/environments.ts';
import { resourcesOf, synthesize } from './synth.ts';

// Given production, synthesized once for this file: the API and the operations watching it
const { api, operations } = synthesize('production');
const schema = loadSchema();
const logicalIdOf = (type: string) => Object.keys(resourcesOf(api, type))[0] ?? '';

describe('resolvers', () => {
  it('gives every Query, Mutation and Subscription field of the schema an APPSYNC_JS resolver', () => {
    // When the schema's root fields and the template's resolvers are listed
    const fields = ['Query', 'Mutation', 'Subscription'].flatMap((typeName) => {
      const type = schema.getType(typeName);
      return type && isObjectType(type) ? Object.keys(type.getFields()).map((field) => `${typeName}.${field}`) : [];
    });
    const resolvers = Object.values(resourcesOf(api, 'AWS::AppSync::Resolver')).map((resolver) => resolver.Properties ?? {});
    // Then they are the same set, each resolver bundled inline for the JS runtime
    expect(resolvers.map((r) => `${String(r.TypeName)}.${String(r.FieldName)}`).sort()).toEqual(fields.sort());
    for (const resolver of resolvers) {
      expect(resolver.Runtime).toEqual({ Name: 'APPSYNC_JS', RuntimeVersion: '1.0.0' });
      expect(resolver.Code).toEqual(expect.stringMatching(/export \{|export function/));
      // Only @aws-appsync/utils is left to the runtime; everything else is in the bundle.
      for (const [, specifier] of String(resolver.Code).matchAll(/from\s*["']([^"']+)["']/g)) expect(specifier).toBe('@aws-appsync/utils');
    }
  });

  it('wires each resolver to the data source its file names', () => {
    // When each resolver's data source is read, and the data sources the template defines
    const wired = Object.fromEntries(Object.values(resourcesOf(api, 'AWS::AppSync::Resolver')).map((r) => [`${String(r.Properties?.TypeName)}.${String(r.Properties?.FieldName)}`, r.Properties?.DataSourceName]));
    const defined = Object.values(resourcesOf(api, 'AWS::AppSync::DataSource')).map((source) => source.Properties?.Name);
    // Then it is the [dataSource] part of the file name, and it exists
    expect(wired).toEqual(Object.fromEntries(deployedResolvers().map((r) => [r.coordinate, r.dataSource])));
    expect(defined.sort()).toEqual([...new Set(Object.values(wired))].sort());
  });

  describe('a resolver file naming a field the schema lacks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'resolvers-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('fails the synth with the file and the field', () => {
      // Given resolvers/ with Query.nope.[ledger].ts
      writeFileSync(join(dir, 'Query.nope.[ledger].ts'), 'export const request = () => ({}); export const response = () => null;\n');
      // When the deployed resolvers are collected, Then the file is refused by name
      expect(() => deployedResolvers(dir)).toThrow(/Query\.nope\.\[ledger\]\.ts: type Query has no field nope/);
    });
  });
});

describe('data source Lambdas', () => {
  it('runs each on arm64 Node.js 22 in the VPC, traced, with a dead-letter queue and the guide\'s 1024 MB / 30 s', () => {
    api.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      DeadLetterConfig: { TargetArn: Match.anyValue() },
      VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() },
      Environment: { Variables: Match.objectLike({ DATABASE_SECRET_ARN: Match.anyValue(), SIGNING_KEY_SECRET_ARN: Match.anyValue(), DATABASE_HOST: Match.anyValue() }) },
    });
  });

  it('grants publishSpan to the writers only: the Lambda data sources that resolve a mutation', () => {
    // When every IAM statement allowing appsync:GraphQL is collected with its role
    const grants = Object.values(resourcesOf(api, 'AWS::IAM::Policy')).flatMap((policy) =>
      ((policy.Properties?.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement)
        .filter((statement) => JSON.stringify(statement.Action).includes('appsync:GraphQL'))
        .map((statement) => ({ roles: JSON.stringify(policy.Properties?.Roles), resource: JSON.stringify(statement.Resource) })));
    const writers = new Set(deployedResolvers().filter((r) => r.typeName === 'Mutation' && r.fieldName !== 'publishSpan' && r.dataSource !== 'none').map((r) => r.dataSource));
    // Then each grant is on publishSpan alone, held by the writers' roles and no other
    expect(grants.map((grant) => grant.resource)).toEqual([...writers].map(() => expect.stringMatching(/\/types\/Mutation\/fields\/publishSpan"\]\]\}$/)));
    for (const grant of grants) expect([...writers].some((writer) => grant.roles.toLowerCase().includes(`${writer}handler`))).toBe(true);
    // And the writers are told where to publish
    api.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ APPSYNC_GRAPHQL_URL: { 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::GraphQLApi'), 'GraphQLUrl'] } }) },
    });
  });
});

describe('the GraphQL API', () => {
  it('is authorized by Cognito users by default, with an API key and IAM, traced and request-logged', () => {
    api.hasResourceProperties('AWS::AppSync::GraphQLApi', {
      AuthenticationType: 'AMAZON_COGNITO_USER_POOLS',
      AdditionalAuthenticationProviders: [{ AuthenticationType: 'API_KEY' }, { AuthenticationType: 'AWS_IAM' }],
      XrayEnabled: true,
      LogConfig: { CloudWatchLogsRoleArn: Match.anyValue(), FieldLogLevel: 'ERROR', ExcludeVerboseContent: true },
    });
  });

  it('carries the tenant in a custom:tenant_id attribute that only an administrator can write', () => {
    api.hasResourceProperties('AWS::Cognito::UserPool', {
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenant_id', AttributeDataType: 'String', Mutable: true })]),
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
    });
    const client = Object.values(resourcesOf(api, 'AWS::Cognito::UserPoolClient'))[0]?.Properties ?? {};
    expect(client.ReadAttributes).toContain('custom:tenant_id');
    expect(client.WriteAttributes).not.toContain('custom:tenant_id');
  });

  it('sits behind a regional WAF web ACL: 2,000 requests per 5 minutes per IP and the AWS common rules', () => {
    api.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: [
        Match.objectLike({ Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: WAF_RATE_LIMIT_PER_5_MINUTES, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } }),
        Match.objectLike({ Statement: { ManagedRuleGroupStatement: Match.objectLike({ VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' }) } }),
      ],
    });
    api.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::GraphQLApi'), 'Arn'] },
      WebACLArn: { 'Fn::GetAtt': [logicalIdOf('AWS::WAFv2::WebACL'), 'Arn'] },
    });
  });

  it('outputs the API id, the GraphQL and real-time URLs, the API key id and the user pool ids', () => {
    const outputs = api.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiId', 'GraphqlUrl', 'RealtimeUrl', 'ApiKeyId', 'UserPoolId', 'UserPoolClientId']));
    expect(outputs.ApiKeyId?.Value).toEqual({ 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::ApiKey'), 'ApiKeyId'] });
    expect(outputs.RealtimeUrl?.Value).toEqual({ 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::GraphQLApi'), 'RealtimeUrl'] });
  });
});

const alarms = Object.values(resourcesOf(operations, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties ?? {});

describe('operations', () => {
  it('has one dashboard over the API, its Lambdas, the database and the cache', () => {
    // When the dashboard body is read
    const body = JSON.stringify(Object.values(resourcesOf(operations, 'AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody);
    // Then each part of the system is on it, subscriptions and concurrency included
    for (const metric of ['AWS/AppSync', '5XXError', 'Latency', 'ActiveSubscriptions', 'AWS/Lambda', 'ConcurrentExecutions', 'Duration', 'AWS/RDS', 'DatabaseConnections', 'CPUUtilization', 'FreeableMemory', 'WriteLatency', 'AWS/ElastiCache', 'EngineCPUUtilization']) {
      expect(body, metric).toContain(metric);
    }
  });

  it('alarms on API errors and latency, Lambda errors, duration and dead letters, to an encrypted topic', () => {
    // When the alarms' metrics are listed
    const metrics = alarms.map((alarm) => `${String(alarm.Namespace)}:${String(alarm.MetricName)}`);
    // Then errors and latency of each layer are watched
    expect(metrics).toEqual(expect.arrayContaining([
      'AWS/AppSync:5XXError', 'AWS/AppSync:Latency', 'AWS/Lambda:Errors', 'AWS/Lambda:Duration', 'AWS/Lambda:Throttles',
      'AWS/SQS:ApproximateNumberOfMessagesVisible', 'AWS/RDS:CPUUtilization', 'AWS/RDS:WriteLatency', 'AWS/ElastiCache:EngineCPUUtilization',
    ]));
    for (const alarm of alarms) expect(alarm.AlarmActions, String(alarm.AlarmDescription)).toHaveLength(1);
    operations.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('backs the ledger database up daily into a vault, keeping each backup 30 days', () => {
    operations.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanRule: [Match.objectLike({ ScheduleExpression: 'cron(0 5 * * ? *)', Lifecycle: { DeleteAfterDays: 30 } })] },
    });
    operations.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({ Resources: [Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':rds:', ':db:'])]) })] }),
    });
    operations.hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ EncryptionKeyArn: Match.anyValue() }) });
  });
});
