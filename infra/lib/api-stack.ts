import { join } from 'node:path';
import { ArnFormat, type CfnElement, CfnOutput, Duration, Expiration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as appsync from 'aws-cdk-lib/aws-appsync';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { DECISION_TTL_SECONDS } from '../../functions/access/authorizer.ts';
import { WITNESS_MISSED } from '../../functions/api/ledger/checkpoint-pass.ts';
import { BundledFunction, PROJECT_ROOT } from './bundled-function.ts';
import type { CheckpointBucket } from './checkpoint-bucket.ts';
import { DATA_SOURCE_NEEDS, type DataSourceNeeds } from './data-source-needs.ts';
import { WAF_RATE_LIMIT_PER_5_MINUTES, type EnvironmentSettings } from './environments.ts';
import { deployedResolvers } from './resolver-code.ts';

export interface ApiStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
  readonly vpc: ec2.IVpc;
  readonly lambdaSecurityGroup: ec2.ISecurityGroup;
  readonly key: kms.IKey;
  readonly databaseSecret: secretsmanager.ISecret;
  readonly signingKeySecret: secretsmanager.ISecret;
  readonly cacheAuthSecret: secretsmanager.ISecret;
  /** The key of the API tokens' HMAC, read by every function that issues or checks tokens. */
  readonly tokenSecret: secretsmanager.ISecret;
  readonly databaseEnvironment: Record<string, string>;
  readonly cacheEnvironment: Record<string, string>;
  /** The Object Lock bucket that witnesses the ledger's signed checkpoints. */
  readonly checkpoints: CheckpointBucket;
}

/** A resolver naming this data source runs in AppSync alone (no Lambda, no data store). */
export const NONE_DATA_SOURCE = 'none';
/** The mutation that puts a committed span on the live timeline (IAM only). */
export const PUBLISH_MUTATION = 'Mutation.publishSpan';
export const SCHEMA_FILE = join(PROJECT_ROOT, 'schema/schema.graphql');
/** The Lambda authorizer's entry (AWS_LAMBDA auth mode: app API tokens). */
export const AUTHORIZER_ENTRY = 'functions/api/authorizer.handler.ts';
/**
 * An app token as `issueToken` makes it (`llos_` and 24 random bytes in base64url); AppSync refuses
 * anything else before invoking the authorizer, so junk in the header costs no Lambda call.
 */
export const TOKEN_VALIDATION_REGEX = '^llos_[A-Za-z0-9_-]{32}$';
/** An authorizer call that takes longer has failed its caller anyway; it bounds a cold start too. */
const AUTHORIZER_TIMEOUT = Duration.seconds(10);

/**
 * The GraphQL API: AppSync with the deployed schema, Cognito users (default), an API key for public
 * reads, IAM for internal callers and app API tokens checked by a Lambda authorizer; every resolver
 * in `resolvers/` wired from its file name; one Lambda per data source
 * (`functions/api/<dataSource>.handler.ts`); a WAF web ACL in front.
 */
export class ApiStack extends Stack {
  readonly api: appsync.GraphqlApi;
  readonly userPool: cognito.UserPool;
  readonly userPoolClient: cognito.UserPoolClient;
  readonly webAcl: wafv2.CfnWebACL;
  /** The Lambda of each data source, by data source name. */
  readonly functions = new Map<string, BundledFunction>();
  /** The Lambda authorizer of app API tokens. */
  readonly authorizer: BundledFunction;
  /** Lambdas that EventBridge runs on a schedule (kernel passes, the memory reaper, checkpoints), by job id. */
  readonly scheduled = new Map<string, BundledFunction>();
  /** Checkpoints a witness missed in the scheduled passes (a count of their logged errors), for an alarm. */
  witnessFailures: cloudwatch.Metric | undefined;
  /** Wraps each tenant's memory data key (envelope encryption of secret and pii memories). */
  readonly memoryKey: kms.Key;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { settings } = props;
    // AppSync's invoke permission on the authorizer names this API as its source, so no other API
    // (of any account) can call it; cdk.json leaves the flag unset, so it is set for this stack.
    this.node.setContext(cxapi.APPSYNC_GRAPHQLAPI_SCOPE_LAMBDA_FUNCTION_PERMISSION, true);

    this.memoryKey = new kms.Key(this, 'MemoryKey', {
      description: `LogLineOS ${settings.name}: wraps the per-tenant data keys of secret and pii memories`,
      enableKeyRotation: true,
      removalPolicy: settings.removalPolicy,
    });
    this.userPool = this.createUserPool(settings);
    this.userPoolClient = this.userPool.addClient('AppClient', {
      authFlows: { userSrp: true, userPassword: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, emailVerified: true }).withCustomAttributes('tenant_id'),
      // Not custom:tenant_id: the tenant is the caller's identity, so only an administrator sets it.
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true }),
    });

    this.authorizer = this.ledgerFunction('AuthorizerHandler', AUTHORIZER_ENTRY, 'the API token authorizer', props, { timeout: AUTHORIZER_TIMEOUT });

    this.api = new appsync.GraphqlApi(this, 'Api', {
      name: `loglineos-${settings.name}`,
      definition: appsync.Definition.fromFile(SCHEMA_FILE),
      authorizationConfig: {
        defaultAuthorization: {
          authorizationType: appsync.AuthorizationType.USER_POOL,
          userPoolConfig: { userPool: this.userPool, defaultAction: appsync.UserPoolDefaultAction.ALLOW },
        },
        additionalAuthorizationModes: [
          {
            authorizationType: appsync.AuthorizationType.API_KEY,
            // AppSync's longest; every deploy moves the expiry a year ahead.
            apiKeyConfig: { name: 'PublicRead', description: 'Reads public spans only', expires: Expiration.after(Duration.days(365)) },
          },
          { authorizationType: appsync.AuthorizationType.IAM },
          {
            authorizationType: appsync.AuthorizationType.LAMBDA,
            // The authorizer's own ttlOverride only shortens this (a token close to its expiry).
            lambdaAuthorizerConfig: { handler: this.authorizer.function, resultsCacheTtl: Duration.seconds(DECISION_TTL_SECONDS), validationRegex: TOKEN_VALIDATION_REGEX },
          },
        ],
      },
      xrayEnabled: true,
      queryDepthLimit: 10,
    });

    this.logRequests(settings);
    this.wireResolvers(props);
    this.webAcl = this.protectWithWaf(settings);

    const apiKey = this.api.node.findChild('PublicReadApiKey') as appsync.CfnApiKey;
    const cfnApi = this.api.node.defaultChild as appsync.CfnGraphQLApi;
    new CfnOutput(this, 'ApiId', { value: this.api.apiId, description: 'AppSync API id (for the aws appsync CLI)' });
    new CfnOutput(this, 'GraphqlUrl', { value: this.api.graphqlUrl, description: 'GraphQL endpoint (HTTPS POST)' });
    new CfnOutput(this, 'RealtimeUrl', { value: cfnApi.attrRealtimeUrl, description: 'Real-time endpoint for subscriptions (WSS)' });
    new CfnOutput(this, 'ApiKeyId', { value: apiKey.attrApiKeyId, description: 'Public-read API key id (its value: aws appsync list-api-keys)' });
    new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
  }

  /**
   * Request logging into a log group made here with its retention, by a role that may write only to
   * that group (the L2 logConfig would add the broad AWS-managed policy and a log-retention Lambda).
   */
  private logRequests(settings: EnvironmentSettings): void {
    const logGroupName = `/aws/appsync/apis/${this.api.apiId}`;
    new logs.LogGroup(this, 'ApiLogs', { logGroupName, retention: settings.logRetention, removalPolicy: settings.removalPolicy });
    const role = new iam.Role(this, 'ApiLogsRole', {
      assumedBy: new iam.ServicePrincipal('appsync.amazonaws.com'),
      description: 'AppSync request logging into the API log group',
    });
    const logStreams = this.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${logGroupName}:log-stream:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logStreams] }));
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/appsync/apis/<${this.getLogicalId(this.api.node.defaultChild as CfnElement)}.ApiId>:log-stream:*]`,
      reason: 'AppSync names a new log stream per period; the wildcard covers the streams of this API\'s own log group and nothing else.',
    });
    const cfnApi = this.api.node.defaultChild as appsync.CfnGraphQLApi;
    // Field errors and request summaries are logged; verbose content (headers, arguments, resolver
    // context) is not, because arguments carry span and memory content and headers carry tokens.
    cfnApi.logConfig = { cloudWatchLogsRoleArn: role.roleArn, fieldLogLevel: 'ERROR', excludeVerboseContent: true };
    Validations.of(cfnApi).acknowledge({
      id: 'AwsSolutions-ASC3',
      reason: 'Request logging is on (role, field level ERROR); only verbose content is excluded, because it would copy span and memory content and authorization headers into CloudWatch Logs.',
    });
  }

  private createUserPool(settings: EnvironmentSettings): cognito.UserPool {
    const pool = new cognito.UserPool(this, 'Users', {
      userPoolName: `loglineos-${settings.name}`,
      // Users are created by an administrator, who also assigns their tenant.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      customAttributes: { tenant_id: new cognito.StringAttribute({ minLen: 1, maxLen: 128, mutable: true }) },
      passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true },
      mfa: settings.userPool.mfaRequired ? cognito.Mfa.REQUIRED : cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: settings.userPool.threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      ...(settings.userPool.threatProtection ? { standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION } : {}),
      deletionProtection: settings.removalPolicy === 'retain',
      removalPolicy: settings.removalPolicy,
    });
    if (!settings.userPool.mfaRequired) {
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG2',
        reason: `MFA is optional only in ${settings.name}, whose testers sign in from the CLI (README); staging and production require TOTP.`,
      });
    }
    if (!settings.userPool.threatProtection) {
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason: `The Plus tier (threat protection) is billed per active user and is enabled in production; ${settings.name} has test users only, and its API sits behind the same WAF rate limit.`,
      });
    }
    return pool;
  }

  /**
   * Data sources and resolvers, all from the file names in resolvers/. A Lambda data source that
   * resolves a mutation writes spans, so it alone may publish them to the live timeline.
   */
  private wireResolvers(props: ApiStackProps): void {
    const resolvers = deployedResolvers();
    const dataSources = new Map<string, appsync.BaseDataSource>();
    for (const name of new Set(resolvers.map((resolver) => resolver.dataSource))) {
      dataSources.set(
        name,
        name === NONE_DATA_SOURCE
          ? this.api.addNoneDataSource(NONE_DATA_SOURCE, { description: 'Resolvers that run in AppSync alone' })
          : this.lambdaDataSource(name, props),
      );
    }
    for (const resolver of resolvers) {
      const dataSource = dataSources.get(resolver.dataSource);
      if (!dataSource) throw new Error(`no data source ${resolver.dataSource} for ${resolver.coordinate}`);
      dataSource.createResolver(`${resolver.typeName}${resolver.fieldName[0]?.toUpperCase()}${resolver.fieldName.slice(1)}`, {
        typeName: resolver.typeName,
        fieldName: resolver.fieldName,
        runtime: appsync.FunctionRuntime.JS_1_0_0,
        code: appsync.Code.fromInline(resolver.code),
      });
    }
    // A data source that writes publishes what it committed through IAM-only mutations; it alone may.
    const writers = new Set(resolvers.filter((r) => r.typeName === 'Mutation' && r.dataSource !== NONE_DATA_SOURCE).map((r) => r.dataSource));
    const published = new Set(resolvers.filter((r) => r.typeName === 'Mutation' && r.dataSource === NONE_DATA_SOURCE).map((r) => r.fieldName));
    for (const [name, bundled] of [...this.functions, ...this.scheduled]) {
      const publishes = this.needsOf(name).publishes;
      if (publishes.length === 0 || (this.functions.has(name) && !writers.has(name))) continue;
      for (const mutation of publishes) {
        if (!published.has(mutation)) throw new Error(`${name} publishes Mutation.${mutation}, which has no [none] resolver in resolvers/`);
        this.api.grantMutation(bundled.function, mutation);
      }
      bundled.function.addEnvironment('APPSYNC_GRAPHQL_URL', this.api.graphqlUrl);
    }
  }

  /** A data source's needs; a scheduled job has those of the data source it belongs to. */
  private needsOf(name: string): DataSourceNeeds {
    const owner = Object.entries(DATA_SOURCE_NEEDS).find(([, needs]) => needs.schedules?.some((job) => job.id === name))?.[0] ?? name;
    return DATA_SOURCE_NEEDS[owner] ?? { publishes: ['publishSpan'] };
  }

  private lambdaDataSource(name: string, props: ApiStackProps): appsync.LambdaDataSource {
    const fn = this.dataSourceFunction(name, props).function;
    const dataSource = this.api.addLambdaDataSource(name, fn, { description: `Lambda functions/api/${name}.handler.ts` });
    Validations.of(dataSource).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'AppSync may invoke this one function, any of its versions or aliases (the suffix after its ARN); no other function.',
    });
    return dataSource;
  }

  /**
   * The one Lambda of a data source: the handler, its secrets, where to find the data stores, and
   * what DATA_SOURCE_NEEDS adds (timeout, sandbox files, models, memory key, self-invocation,
   * the checkpoint bucket, schedules).
   */
  private dataSourceFunction(name: string, props: ApiStackProps): BundledFunction {
    const needs = this.needsOf(name);
    const pascal = `${name[0]?.toUpperCase()}${name.slice(1)}`;
    const bundled = this.ledgerFunction(`${pascal}Handler`, `functions/api/${name}.handler.ts`, `the ${name} data source`, props, {
      cache: true,
      ...this.functionOptions(needs),
      // Known before the function exists, so its own role can name it (no dependency cycle).
      ...(needs.selfInvokeVariable ? { functionName: `loglineos-${props.settings.name}-${name}` } : {}),
    });
    this.grantNeeds(bundled, needs, props);
    if (needs.selfInvokeVariable) {
      const functionName = `loglineos-${props.settings.name}-${name}`;
      bundled.function.addEnvironment(needs.selfInvokeVariable, functionName);
      bundled.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.formatArn({ service: 'lambda', resource: 'function', resourceName: functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }));
    }
    this.functions.set(name, bundled);
    for (const job of needs.schedules ?? []) {
      const scheduled = this.ledgerFunction(job.id, job.entry, job.description, props, { cache: true, ...this.functionOptions(needs), handler: job.handler });
      this.grantNeeds(scheduled, needs, props);
      new events.Rule(this, `${job.id}Schedule`, {
        description: `LogLineOS ${props.settings.name}: ${job.description}`,
        schedule: events.Schedule.rate(job.every),
        targets: [new targets.LambdaFunction(scheduled.function, { deadLetterQueue: scheduled.deadLetterQueue, retryAttempts: 0 })],
      });
      this.scheduled.set(job.id, scheduled);
      if (needs.witnessBucket) this.countWitnessFailures(scheduled, props.settings);
    }
    return bundled;
  }

  /**
   * A pass whose witness missed a checkpoint still succeeds (the checkpoint is in the ledger), so
   * the function's errors do not show it; its logged error lines are counted instead.
   */
  private countWitnessFailures(scheduled: BundledFunction, settings: EnvironmentSettings): void {
    const metric = { metricNamespace: `LogLineOS/${settings.name}`, metricName: 'CheckpointWitnessFailures' };
    scheduled.logGroup.addMetricFilter('WitnessFailures', { ...metric, filterPattern: logs.FilterPattern.literal(`"${WITNESS_MISSED}"`), metricValue: '1', defaultValue: 0 });
    this.witnessFailures = new cloudwatch.Metric({ namespace: metric.metricNamespace, metricName: metric.metricName, statistic: 'Sum', period: Duration.minutes(5) });
  }

  private functionOptions(needs: DataSourceNeeds): { timeout?: Duration; memoryMiB?: number; sandbox?: boolean } {
    return { ...(needs.timeout ? { timeout: needs.timeout } : {}), ...(needs.memoryMiB ? { memoryMiB: needs.memoryMiB } : {}), ...(needs.sandbox ? { sandbox: true } : {}) };
  }

  /** Models, memory keys and the checkpoint bucket: exactly the configured models, exactly the memory key, checkpoints/ only. */
  private grantNeeds(bundled: BundledFunction, needs: DataSourceNeeds, props: ApiStackProps): void {
    const { settings } = props;
    const fn = bundled.function;
    const model = (id: string) => this.formatArn({ service: 'bedrock', account: '', resource: 'foundation-model', resourceName: id });
    if (needs.bedrock?.text) {
      fn.addEnvironment('LOGLINEOS_MODEL_PROVIDER', 'bedrock');
      fn.addEnvironment('LOGLINEOS_MODEL_ID', settings.models.textModelId);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], resources: [model(settings.models.textModelId)] }));
    }
    // Memory search embeds the query; prompts search memories for context, so they embed too.
    if (needs.bedrock?.embeddings || needs.memoryKey) {
      fn.addEnvironment('MEMORY_EMBEDDINGS', 'bedrock');
      fn.addEnvironment('MEMORY_EMBEDDING_MODEL', settings.models.embeddingModelId);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources: [model(settings.models.embeddingModelId)] }));
    }
    if (needs.memoryKey) {
      fn.addEnvironment('MEMORY_KMS_KEY_ID', this.memoryKey.keyArn);
      this.memoryKey.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
    }
    if (needs.witnessBucket) props.checkpoints.grantWitness(fn);
  }

  /**
   * A Lambda that opens the ledger (and signs what it appends) and knows the token key: the database
   * and signing secrets, the token secret and, for a data source, the cache.
   */
  private ledgerFunction(
    id: string,
    entry: string,
    what: string,
    props: ApiStackProps,
    options: { cache?: boolean; timeout?: Duration; memoryMiB?: number; sandbox?: boolean; handler?: string; functionName?: string },
  ): BundledFunction {
    const bundled = new BundledFunction(this, id, {
      entry,
      description: `LogLineOS ${props.settings.name}: ${what}`,
      settings: props.settings,
      vpc: props.vpc,
      securityGroup: props.lambdaSecurityGroup,
      key: props.key,
      ...(options.timeout ? { timeout: options.timeout } : {}),
      ...(options.memoryMiB ? { memoryMiB: options.memoryMiB } : {}),
      ...(options.sandbox ? { sandbox: true } : {}),
      ...(options.handler ? { handler: options.handler } : {}),
      ...(options.functionName ? { functionName: options.functionName } : {}),
      environment: {
        ...props.databaseEnvironment,
        ...(options.cache ? props.cacheEnvironment : {}),
        SIGNING_KEY_SECRET_ARN: props.signingKeySecret.secretArn,
        TOKEN_SECRET_ARN: props.tokenSecret.secretArn,
        // One request at a time per container; RDS Proxy multiplexes the rest.
        DATABASE_POOL_SIZE: '2',
      },
    });
    bundled.allowSecretRead(props.databaseSecret, props.signingKeySecret, props.tokenSecret, ...(options.cache ? [props.cacheAuthSecret] : []));
    return bundled;
  }

  private protectWithWaf(settings: EnvironmentSettings): wafv2.CfnWebACL {
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: `loglineos-${settings.name}-api`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`loglineos-${settings.name}-api`),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 1,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: WAF_RATE_LIMIT_PER_5_MINUTES, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        {
          name: 'AWSManagedRulesCommonRuleSet',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // WAF sees only the first 8 KB of an AppSync body and this rule blocks anything longer,
              // but a span may be up to 256 KB; the API validates sizes itself, so only count here.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility('AWSManagedRulesCommonRuleSet'),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.arn, webAclArn: webAcl.attrArn });
    return webAcl;
  }
}
