import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { lambdaTracer } from './aws-tracing.ts';
import { LogLineError } from './errors.ts';
import { ENVIRONMENT_VARIABLE, HEALTH_METRICS, METRICS_NAMESPACE, METRICS_SERVICE, openMetricWindow, type MetricWindow } from './observability-metrics.ts';
import { createMetricSpanRecorder, metricSpanIntervalMs, type MetricSpanRecorder } from './observability-spans.ts';
import type { Ledger } from '../ledger/ledger.ts';

/**
 * Structured logs, EMF metrics and X-Ray traces, the same way on Lambda and in the local server:
 * one JSON line per event (Powertools' logger), the ledger's health figures as EMF metrics per
 * invocation (namespace `LogLineOS`, dimensions `service` and `environment`), and a trace segment per
 * invocation on Lambda only.
 */

export { ENVIRONMENT_VARIABLE, METRICS_NAMESPACE, METRICS_SERVICE } from './observability-metrics.ts';

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * LOGLINEOS_LOG_LEVEL, else POWERTOOLS_LOG_LEVEL, else INFO; under vitest SILENT, so test output
 * stays readable (a test that reads the logs raises the level itself).
 */
export function logLevelFrom(env: NodeJS.ProcessEnv): LogLevel {
  const raw = (env.LOGLINEOS_LOG_LEVEL || env.POWERTOOLS_LOG_LEVEL || '').toUpperCase();
  if (raw === '') return env.VITEST ? 'SILENT' : 'INFO';
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as LogLevel;
  // A bad level must not stop a Lambda from starting; it is reported on the first line instead.
  process.stderr.write(`${JSON.stringify({ level: 'WARN', message: `LOGLINEOS_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}; using INFO` })}\n`);
  return 'INFO';
}

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || METRICS_SERVICE, logLevel: logLevelFrom(process.env) });

export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: METRICS_SERVICE,
  defaultDimensions: { environment: process.env[ENVIRONMENT_VARIABLE] || 'local' },
});

/**
 * EMF goes to stdout, where a test runner's report is: under vitest it is off unless
 * POWERTOOLS_METRICS_DISABLED says otherwise (Powertools itself honours that variable everywhere).
 */
const emfQuietInTests = () => process.env.POWERTOOLS_METRICS_DISABLED === undefined && Boolean(process.env.VITEST);

/**
 * The request id to log and quote: AppSync's (`x-amzn-requestid` in the resolver event's request
 * headers, `requestContext.requestId` for the Lambda authorizer), else the Lambda invocation's,
 * else a fresh one.
 */
export function correlationIdOf(event: unknown, context?: { readonly awsRequestId?: string }): string {
  const e = event as { request?: { headers?: Record<string, unknown> }; requestContext?: { requestId?: unknown } } | null;
  const fromHeaders = e?.request?.headers?.['x-amzn-requestid'];
  if (typeof fromHeaders === 'string' && fromHeaders !== '') return fromHeaders;
  const fromAuthorizer = e?.requestContext?.requestId;
  if (typeof fromAuthorizer === 'string' && fromAuthorizer !== '') return fromAuthorizer;
  return context?.awsRequestId || randomUUID();
}

/** AppSync's errorType of a failure: the domain error's name, else the class name. */
export function errorTypeOf(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? error.name : 'Error';
  return 'Error';
}

function operationOf(event: unknown, fallback: string): string {
  const info = (event as { info?: { parentTypeName?: unknown; fieldName?: unknown } } | null)?.info;
  return typeof info?.parentTypeName === 'string' && typeof info.fieldName === 'string' ? `${info.parentTypeName}.${info.fieldName}` : fallback;
}

// This container's readers of the health figures: EMF per invocation, metric spans per interval.
// Opened by the first Lambda entry, so a process that only imports this module (the local server)
// counts into no window it never drains.
let windows: { readonly emf: MetricWindow; readonly spans: MetricWindow } | undefined;
let spanRecorder: MetricSpanRecorder | undefined;
let coldStart = true;

export interface ObservedOptions {
  /** The container's ledger, once opened: the health figures are also written there as metric spans. */
  readonly ledger?: () => Promise<Ledger>;
}

/**
 * A Lambda entry with the correlation id on every log line, one `invocation` line (operation,
 * duration, errorType), the cold start logged once, an unexpected error logged once with its
 * errorType and stack, the health figures published as EMF, and an X-Ray subsegment.
 */
export function observedHandler<E, R>(name: string, handler: (event: E, context?: Context) => Promise<R>, options: ObservedOptions = {}) {
  windows ??= { emf: openMetricWindow(), spans: openMetricWindow() };
  return async function observed(event: E, context?: Context): Promise<R> {
    const started = performance.now();
    const correlationId = correlationIdOf(event, context);
    const operation = operationOf(event, name);
    if (context) logger.addContext(context);
    logger.appendKeys({ correlation_id: correlationId, operation });
    if (coldStart) {
      coldStart = false;
      logger.info('cold start', { handler: name });
      if (!emfQuietInTests()) metrics.captureColdStartMetric(context?.functionName);
    }
    const traced = await lambdaTracer();
    const segment = traced?.getSegment();
    const subsegment = segment?.addNewSubsegment(`## ${name}`);
    if (traced && subsegment) {
      traced.setSegment(subsegment);
      traced.annotateColdStart();
      traced.addServiceNameAnnotation();
      traced.putAnnotation('operation', operation);
      traced.putAnnotation('correlation_id', correlationId);
    }
    let errorType: string | undefined;
    try {
      return await handler(event, context);
    } catch (error) {
      errorType = errorTypeOf(error);
      // Domain errors are answers to the client; only the unexpected are operator news.
      if (!(error instanceof LogLineError)) logger.error('unexpected error', { errorType, error: error as Error });
      traced?.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      const durationMs = Math.round(performance.now() - started);
      logger.info('invocation', { durationMs, ...(errorType ? { errorType } : {}) });
      publishHealthMetrics(correlationId);
      subsegment?.close();
      if (traced && segment) traced.setSegment(segment);
      // Only after a success: the ledger is open then, and a database outage is not waited for twice.
      if (!errorType) await writeMetricSpansIfDue(options.ledger);
      logger.resetKeys();
    }
  };
}

/** What this container counted since its last invocation ended, as one EMF document. */
function publishHealthMetrics(correlationId: string): void {
  if (!windows) return;
  const snapshot = windows.emf.drain();
  for (const aggregate of snapshot.metrics) {
    const unit = HEALTH_METRICS[aggregate.name].unit === 'Milliseconds' ? MetricUnit.Milliseconds : MetricUnit.Count;
    if (HEALTH_METRICS[aggregate.name].distribution) for (const value of aggregate.samples) metrics.addMetric(aggregate.name, unit, value);
    else metrics.addMetric(aggregate.name, unit, aggregate.sum);
  }
  if (!metrics.hasStoredMetrics() || emfQuietInTests()) {
    metrics.clearMetrics();
    return metrics.clearMetadata();
  }
  metrics.addMetadata('correlation_id', correlationId);
  metrics.publishStoredMetrics();
}

async function writeMetricSpansIfDue(ledger: ObservedOptions['ledger']): Promise<void> {
  if (!ledger) return;
  try {
    const intervalMs = metricSpanIntervalMs(process.env);
    if (intervalMs === 0) return;
    spanRecorder ??= createMetricSpanRecorder(await ledger(), { intervalMs, ...(windows ? { window: windows.spans } : {}), source: `lambda:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local'}` });
    await spanRecorder.flushIfDue();
  } catch (error) {
    // Health figures never fail the request they were counted in.
    logger.warn('metric spans not written', { errorType: errorTypeOf(error), error: error as Error });
  }
}
