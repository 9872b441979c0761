import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_VARIABLE, HEALTH_METRIC_NAMES, METRICS_NAMESPACE, METRICS_SERVICE } from '../../functions/commons/observability-metrics.ts';
import { PROMPT_LATENCY_P99_ALARM_MS } from '../../infra/lib/operations-stack.ts';
import { resourcesOf, synthesize } from '../infra/synth.ts';

/*
 * The Operations stack reads the EMF metrics the functions write: the same namespace, the same
 * dimensions (service, environment), and the environment each function is told it runs in.
 */

// Given staging, synthesized once without building the bundles
const { api, data, operations } = synthesize('staging', undefined, { bundling: false });
const dimensions = [{ Name: 'environment', Value: 'staging' }, { Name: 'service', Value: METRICS_SERVICE }];
const alarms = Object.values(resourcesOf(operations, 'AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties ?? {});
const alarmOn = (metricName: string) => alarms.find((alarm) => alarm.Namespace === METRICS_NAMESPACE && alarm.MetricName === metricName);

describe('the ledger\'s health on CloudWatch', () => {
  it('tells every function its environment, the dimension its EMF metrics carry', () => {
    const functions = [api, data].flatMap((template) => Object.values(resourcesOf(template, 'AWS::Lambda::Function')));
    const ours = functions.filter((fn) => JSON.stringify(fn.Properties?.Environment ?? {}).includes('DATABASE_'));
    expect(ours.length).toBeGreaterThanOrEqual(5);
    for (const fn of ours) expect((fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables[ENVIRONMENT_VARIABLE]).toBe('staging');
  });

  it('graphs every health figure from the LogLineOS namespace with the service and environment dimensions', () => {
    const body = JSON.stringify(Object.values(resourcesOf(operations, 'AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody);
    for (const name of HEALTH_METRIC_NAMES) {
      expect(body, name).toContain(`[\\"${METRICS_NAMESPACE}\\",\\"${name}\\",\\"environment\\",\\"staging\\",\\"service\\",\\"${METRICS_SERVICE}\\"`);
    }
    expect(body).toContain('100 * hits / (hits + misses)');
    for (const title of ['Ledger appends and verification failures', 'Kernel runs and refusals', 'Prompt latency (ms) and tokens', 'Memory cache hit rate (%)']) expect(body, title).toContain(title);
  });

  it('alarms on any failed verification, on unexpected errors and on slow prompt runs, to the alarm topic', () => {
    expect(alarmOn('VerificationFailures')).toMatchObject({ Dimensions: dimensions, Statistic: 'Sum', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Period: 300 });
    expect(alarmOn('InternalErrors')).toMatchObject({ Dimensions: dimensions, Statistic: 'Sum', Threshold: 5 });
    expect(alarmOn('PromptLatency')).toMatchObject({ Dimensions: dimensions, ExtendedStatistic: 'p99', Threshold: PROMPT_LATENCY_P99_ALARM_MS, EvaluationPeriods: 3 });
    for (const name of ['VerificationFailures', 'InternalErrors', 'PromptLatency']) expect(alarmOn(name)?.AlarmActions, name).toHaveLength(1);
  });
});
