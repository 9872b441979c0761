import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { isObjectType } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSchema } from '../../local/schema.ts';
import { TOKEN_VALIDATION_REGEX } from '../../infra/lib/api-stack.ts';
import type { BundledFunction } from '../../infra/lib/bundled-function.ts';
import { deployedResolvers } from '../../infra/lib/resolver-code.ts';
import { WAF_RATE_LIMIT_PER_5_MINUTES } from '../../infra/lib/environments.ts';
import { resourcesOf, synthesize } from './synth.ts';

// Given production, synthesized once for this file: the API and the operations watching it
const { api, operations, deployment } = synthesize('production');
const schema = loadSchema();
const logicalIdOf = (type: string) => Object.keys(resourcesOf(api, type))[0] ?? '';
const idOf = (element: unknown) => deployment.api.getLogicalId(element as CfnElement);

/** A bundled function's template properties, and the secrets its role may read. */
function deployed(bundled: BundledFunction) {
  const properties = resourcesOf(api, 'AWS::Lambda::Function')[idOf(bundled.function.node.defaultChild)]?.Properties ?? {};
  const role = idOf(bundled.function.role?.node.defaultChild);
  const statements = Object.values(resourcesOf(api, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement);
  const readable = statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:GetSecretValue')).flatMap((statement) => [statement.Resource].flat());
  const variables = (properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
  return { properties, variables, readable };
}

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

  it('tells each where the token secret is and lets it read that secret (issueToken hashes with it)', () => {
    // When each data source Lambda's environment and readable secrets are listed
    expect(deployment.api.functions.size).toBeGreaterThan(0);
    for (const [name, bundled] of deployment.api.functions) {
      const { variables, readable } = deployed(bundled);
      // Then TOKEN_SECRET_ARN is set, and is among the secrets its role may read
      expect(variables.TOKEN_SECRET_ARN, name).toEqual({ 'Fn::ImportValue': expect.stringMatching(/TokenSecret/) });
      expect(readable, name).toContainEqual(variables.TOKEN_SECRET_ARN);
    }
  });

  it('grants the publish mutations to the writers only: the Lambda data sources that resolve a mutation', () => {
    // When every IAM statement allowing appsync:GraphQL is collected with its role
    const grants = Object.values(resourcesOf(api, 'AWS::IAM::Policy')).flatMap((policy) =>
      ((policy.Properties?.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement)
        .filter((statement) => JSON.stringify(statement.Action).includes('appsync:GraphQL'))
        .map((statement) => ({ roles: JSON.stringify(policy.Properties?.Roles), resource: JSON.stringify(statement.Resource) })));
    const writers = new Set(deployedResolvers().filter((r) => r.typeName === 'Mutation' && r.dataSource !== 'none').map((r) => r.dataSource));
    const publishMutations = deployedResolvers().filter((r) => r.typeName === 'Mutation' && r.dataSource === 'none').map((r) => r.fieldName);
    // Then each grant is on IAM-only publish mutations alone, held by writers' roles (or their scheduled jobs) and no other
    expect(grants.length).toBeGreaterThanOrEqual(writers.size);
    for (const grant of grants) {
      expect(publishMutations.some((field) => grant.resource.includes(`/types/Mutation/fields/${field}"`)), grant.resource).toBe(true);
      expect([...writers, 'kernelpasses', 'memoryreaper'].some((writer) => grant.roles.toLowerCase().includes(writer)), grant.roles).toBe(true);
    }
    // And the writers are told where to publish
    api.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ APPSYNC_GRAPHQL_URL: { 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::GraphQLApi'), 'GraphQLUrl'] } }) },
    });
  });
});

describe('the GraphQL API', () => {
  it('is authorized by Cognito users by default, with an API key, IAM and app tokens, traced and request-logged', () => {
    api.hasResourceProperties('AWS::AppSync::GraphQLApi', {
      AuthenticationType: 'AMAZON_COGNITO_USER_POOLS',
      AdditionalAuthenticationProviders: [{ AuthenticationType: 'API_KEY' }, { AuthenticationType: 'AWS_IAM' }, Match.objectLike({ AuthenticationType: 'AWS_LAMBDA' })],
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

describe('the API token authorizer', () => {
  const authorizer = deployment.api.authorizer;
  const authorizerId = idOf(authorizer.function.node.defaultChild);

  it('is the AWS_LAMBDA mode, its decisions cached for the authorizer\'s 60 s and tokens checked by shape first', () => {
    api.hasResourceProperties('AWS::AppSync::GraphQLApi', {
      AdditionalAuthenticationProviders: Match.arrayWith([{
        AuthenticationType: 'AWS_LAMBDA',
        LambdaAuthorizerConfig: {
          AuthorizerUri: { 'Fn::GetAtt': [authorizerId, 'Arn'] },
          AuthorizerResultTtlInSeconds: 60,
          IdentityValidationExpression: '^llos_[A-Za-z0-9_-]{32}$',
        },
      }]),
    });
  });

  it('lets tokens shaped like issueToken\'s reach the authorizer, and nothing else (Cognito JWTs, API keys, padded tokens)', () => {
    // Given the regex as AppSync applies it, and a token made as issueToken makes one
    const shape = new RegExp(TOKEN_VALIDATION_REGEX);
    const issued = `llos_${randomBytes(24).toString('base64url')}`;
    // Then the token passes and the other credentials the Authorization header carries do not
    expect(shape.test(issued)).toBe(true);
    for (const other of ['eyJraWQiOiJ4In0.eyJzdWIiOiJ5In0.c2ln', 'da2-abcdefghijklmnopqrstuvwxyz', `${issued} `, `Bearer ${issued}`, issued.slice(0, -1), `llos_${'a'.repeat(31)}!`]) {
      expect(shape.test(other), other).toBe(false);
    }
  });

  it('may be invoked by this API alone', () => {
    api.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [authorizerId, 'Arn'] },
      Principal: 'appsync.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [logicalIdOf('AWS::AppSync::GraphQLApi'), 'Arn'] },
    });
  });

  it('runs on arm64 in the VPC\'s Lambda subnets, opens the ledger like the data sources and reads the token secret', () => {
    // When the authorizer's template properties and readable secrets are read
    const { properties, variables, readable } = deployed(authorizer);
    const ledgerFunction = deployment.api.functions.get('ledger');
    if (!ledgerFunction) throw new Error('the ledger data source has no Lambda');
    const ledger = deployed(ledgerFunction);
    // Then it is placed and bundled like the ledger Lambda, with a timeout suited to an authorizer
    expect(properties).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs22.x', Timeout: 10, TracingConfig: { Mode: 'Active' } });
    expect(properties.VpcConfig).toEqual(ledger.properties.VpcConfig);
    // And it has the ledger's database and signing settings and the token secret, but not the cache
    for (const name of ['DATABASE_SECRET_ARN', 'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_NAME', 'DATABASE_POOL_SIZE', 'SIGNING_KEY_SECRET_ARN', 'TOKEN_SECRET_ARN']) {
      expect(variables[name], name).toEqual(ledger.variables[name]);
    }
    expect(variables).not.toHaveProperty('REDIS_AUTH_SECRET_ARN');
    const names = (arns: unknown[]) => arns.map((arn) => JSON.stringify(arn)).sort();
    expect(names(readable)).toEqual(names([variables.DATABASE_SECRET_ARN, variables.SIGNING_KEY_SECRET_ARN, variables.TOKEN_SECRET_ARN]));
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

  it('shows the authorizer\'s errors and duration and alarms on them', () => {
    // When the dashboard body and the alarm descriptions are read
    const body = JSON.stringify(Object.values(resourcesOf(operations, 'AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody);
    const watched = alarms.map((alarm) => `${String(alarm.MetricName)} ${String(alarm.AlarmDescription)} ${String(alarm.Threshold)}`);
    // Then the authorizer is on the Lambda graphs, and alarms fire on its errors and on a p99 near its 10 s timeout
    for (const label of ['AuthorizerHandler Errors', 'AuthorizerHandler Duration', 'AuthorizerHandler Invocations']) expect(body, label).toContain(label);
    expect(watched).toEqual(expect.arrayContaining([expect.stringMatching(/^Errors AuthorizerHandler: /), 'Duration AuthorizerHandler: p99 duration above 80% of its timeout 8000']));
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
