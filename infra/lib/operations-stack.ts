import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type * as appsync from 'aws-cdk-lib/aws-appsync';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { BundledFunction } from './bundled-function.ts';
import type { EnvironmentSettings } from './environments.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE, type HealthMetric } from '../../functions/commons/observability-metrics.ts';

export interface OperationsStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
  readonly api: appsync.IGraphqlApi;
  readonly functions: readonly BundledFunction[];
  readonly database: rds.DatabaseInstance;
  readonly proxy: rds.DatabaseProxy;
  readonly cache: elasticache.CfnReplicationGroup;
  /** Checkpoints the witness bucket missed (the LedgerCheckpoints job's logged errors). */
  readonly witnessFailures?: cloudwatch.IMetric;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Prompt runs whose p99 stays above this for 15 minutes are an alarm (runs time out at 300 s by default). */
export const PROMPT_LATENCY_P99_ALARM_MS = 60_000;

/**
 * Watching and keeping: one dashboard over the API, its Lambdas, the database, the cache and the
 * ledger's own health (the EMF metrics the functions publish: namespace LogLineOS, dimensions service
 * and environment, as functions/commons/observability.ts writes them); alarms on errors, latency,
 * failed verifications and unexpected errors to an SNS topic; a daily AWS Backup of the ledger
 * database kept 30 days.
 */
export class OperationsStack extends Stack {
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsStackProps) {
    super(scope, id, props);
    const { settings, api, database, proxy, cache } = props;

    const key = new kms.Key(this, 'OperationsKey', {
      description: `LogLineOS ${settings.name}: alarm topic and backup vault`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: `LogLineOS ${settings.name} alarms`, masterKey: key, enforceSSL: true });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Subscribe to be told when an alarm fires' });

    const appsyncMetric = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({ namespace: 'AWS/AppSync', metricName, dimensionsMap: { GraphQLAPIId: api.apiId }, statistic, period: FIVE_MINUTES });
    const cacheNodes = Array.from({ length: settings.cache.nodes }, (_, index) => `${cache.ref}-${String(index + 1).padStart(3, '0')}`);
    const cacheMetric = (metricName: string, node: string, statistic = 'Average') =>
      new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: node }, statistic, period: FIVE_MINUTES });
    const proxyMetric = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/RDS', metricName, dimensionsMap: { ProxyName: proxy.dbProxyName }, statistic: 'Maximum', period: FIVE_MINUTES });

    const health = (metricName: HealthMetric, statistic = 'Sum', label?: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: METRICS_SERVICE, environment: settings.name }, statistic, period: FIVE_MINUTES, ...(label ? { label } : {}) });
    const cacheHitRate = new cloudwatch.MathExpression({
      expression: 'IF(hits + misses > 0, 100 * hits / (hits + misses))',
      usingMetrics: { hits: health('MemoryCacheHits'), misses: health('MemoryCacheMisses') },
      label: 'memory cache hit rate (%)',
      period: FIVE_MINUTES,
    });

    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string, comparison = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods = 1) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        comparisonOperator: comparison,
        evaluationPeriods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      created.addOkAction(new actions.SnsAction(this.alarmTopic));
      return created;
    };

    const alarms = [
      alarm('ApiServerErrors', appsyncMetric('5XXError'), 5, 'AppSync answered more than 5 server errors in 5 minutes'),
      alarm('ApiLatency', appsyncMetric('Latency', 'p99'), 3000, 'AppSync p99 latency above 3 s for 15 minutes', undefined, 3),
      alarm('DatabaseCpu', database.metricCPUUtilization({ period: FIVE_MINUTES }), 80, 'Ledger database CPU above 80% for 15 minutes', undefined, 3),
      alarm('DatabaseConnections', database.metricDatabaseConnections({ period: FIVE_MINUTES, statistic: 'Maximum' }), 180, 'Ledger database above 180 of its 200 connections'),
      alarm('DatabaseFreeStorage', database.metricFreeStorageSpace({ period: FIVE_MINUTES, statistic: 'Minimum' }), 10 * 1024 ** 3, 'Ledger database below 10 GiB of free storage', cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD),
      alarm('DatabaseWriteLatency', database.metric('WriteLatency', { period: FIVE_MINUTES, statistic: 'Average' }), 0.05, 'Ledger database write latency above 50 ms for 15 minutes', undefined, 3),
      alarm('CacheCpu', cacheMetric('EngineCPUUtilization', cacheNodes[0] ?? cache.ref), 80, 'Cache primary engine CPU above 80% for 15 minutes', undefined, 3),
      alarm('CacheMemory', cacheMetric('DatabaseMemoryUsagePercentage', cacheNodes[0] ?? cache.ref), 90, 'Cache primary above 90% of its memory (evicting)'),
      alarm('LedgerVerificationFailures', health('VerificationFailures'), 0, 'A chain failed verification: a span was edited, removed or reordered behind the API (see the logs of the verifying function)'),
      alarm('InternalErrors', health('InternalErrors'), 5, 'More than 5 unexpected errors in 5 minutes (masked as InternalError; their correlation ids are in the logs)'),
      alarm('PromptLatency', health('PromptLatency', 'p99'), PROMPT_LATENCY_P99_ALARM_MS, `Prompt runs: p99 latency above ${PROMPT_LATENCY_P99_ALARM_MS / 1000} s for 15 minutes`, undefined, 3),
    ];
    if (props.witnessFailures) {
      alarms.push(alarm('CheckpointWitnessFailures', props.witnessFailures, 0, 'A signed checkpoint did not reach the Object Lock witness bucket (see the LedgerCheckpoints logs)'));
    }
    for (const bundled of props.functions) {
      const fn = bundled.function;
      const name = bundled.node.id;
      const timeoutMs = (fn.timeout ?? Duration.seconds(settings.lambda.timeoutSeconds)).toMilliseconds();
      alarms.push(
        alarm(`${name}Errors`, fn.metricErrors({ period: FIVE_MINUTES }), 5, `${name}: more than 5 errors in 5 minutes`),
        alarm(`${name}Duration`, fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' }), timeoutMs * 0.8, `${name}: p99 duration above 80% of its timeout`),
        alarm(`${name}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES }), 0, `${name}: invocations throttled`),
        alarm(`${name}DeadLetters`, bundled.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }), 0, `${name}: failed asynchronous invocations in its dead-letter queue`),
      );
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `loglineos-${settings.name}` });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const lambdaMetric = (metricName: string, bundled: BundledFunction, statistic: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName, dimensionsMap: { FunctionName: bundled.function.functionName }, statistic, period: FIVE_MINUTES, label: `${bundled.node.id} ${metricName}` });
    this.dashboard.addWidgets(
      graph('API requests and errors', [appsyncMetric('Requests'), appsyncMetric('4XXError'), appsyncMetric('5XXError')]),
      graph('API latency (ms)', [appsyncMetric('Latency', 'p50'), appsyncMetric('Latency', 'p90'), appsyncMetric('Latency', 'p99')]),
      graph('Subscriptions', [appsyncMetric('ActiveConnections', 'Maximum'), appsyncMetric('ActiveSubscriptions', 'Maximum')], [appsyncMetric('ConnectSuccess'), appsyncMetric('SubscribeSuccess'), appsyncMetric('PublishDataMessageSuccess')]),
    );
    this.dashboard.addWidgets(
      graph('Lambda invocations and errors', props.functions.flatMap((f) => [lambdaMetric('Invocations', f, 'Sum'), lambdaMetric('Errors', f, 'Sum'), lambdaMetric('Throttles', f, 'Sum')])),
      graph('Lambda duration (ms)', props.functions.flatMap((f) => [lambdaMetric('Duration', f, 'p50'), lambdaMetric('Duration', f, 'p99')])),
      graph('Lambda concurrency', props.functions.map((f) => lambdaMetric('ConcurrentExecutions', f, 'Maximum'))),
    );
    this.dashboard.addWidgets(
      graph('Database connections', [database.metricDatabaseConnections({ period: FIVE_MINUTES, statistic: 'Maximum' }), proxyMetric('ClientConnections'), proxyMetric('DatabaseConnections')]),
      graph('Database CPU and memory', [database.metricCPUUtilization({ period: FIVE_MINUTES })], [database.metricFreeableMemory({ period: FIVE_MINUTES })]),
      graph('Database latency (s)', [database.metric('ReadLatency', { period: FIVE_MINUTES }), database.metric('WriteLatency', { period: FIVE_MINUTES })]),
    );
    this.dashboard.addWidgets(
      graph('Cache CPU and memory', cacheNodes.map((node) => cacheMetric('EngineCPUUtilization', node)), cacheNodes.map((node) => cacheMetric('DatabaseMemoryUsagePercentage', node))),
      graph('Cache connections and hits', cacheNodes.map((node) => cacheMetric('CurrConnections', node, 'Maximum')), cacheNodes.map((node) => cacheMetric('CacheHitRate', node))),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 8, height: 6 }),
    );
    this.dashboard.addWidgets(
      graph('Ledger appends and verification failures', [health('SpansAppended', 'Sum', 'spans appended')], [health('VerificationFailures', 'Sum', 'verification failures'), health('InternalErrors', 'Sum', 'internal errors')]),
      graph('Kernel runs and refusals', [health('KernelRuns', 'Sum', 'kernel runs'), health('KernelRefusals', 'Sum', 'kernel refusals')]),
      graph('Prompt latency (ms) and tokens', [health('PromptLatency', 'p50', 'prompt latency p50'), health('PromptLatency', 'p99', 'prompt latency p99')], [health('PromptTokens', 'Sum', 'prompt tokens')]),
    );
    this.dashboard.addWidgets(graph('Memory cache hit rate (%)', [cacheHitRate]));

    // RDS keeps its own 30 days of automated backups; the vault's copies outlive the instance.
    // The vault is always retained: a teardown never deletes backups.
    const vault = new backup.BackupVault(this, 'BackupVault', { encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
    const plan = new backup.BackupPlan(this, 'BackupPlan', {
      backupVault: vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'DailyLedger',
          scheduleExpression: events.Schedule.cron({ minute: '0', hour: '5' }),
          deleteAfter: Duration.days(30),
        }),
      ],
    });
    const selection = plan.addSelection('Ledger', { resources: [backup.BackupResource.fromRdsDatabaseInstance(database)] });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason: 'The role may only be assumed by backup.amazonaws.com; AWS maintains this policy as what AWS Backup needs to snapshot the selected resources.',
    });
  }
}
