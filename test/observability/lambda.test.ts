import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { AppSyncEvent } from '../../functions/commons/appsync.ts';
import { capturedJsonLines, ledgerHome, type LedgerHome } from './support.ts';

/*
 * The Lambda handlers as AWS runs them: the ledger data source's entry, given AppSync's direct-Lambda
 * event and a Lambda context, against a real ledger opened from the environment. What they print is
 * what CloudWatch Logs would receive: Powertools' JSON log lines and EMF documents.
 */

type Handler = (event: unknown, context?: Context) => Promise<unknown>;
let home: LedgerHome;
let ledgerHandler: Handler;
let migrateHandler: Handler;
let closeLedger: () => Promise<void>;

beforeAll(async () => {
  home = await ledgerHome();
  const env = { ...home.env, LOGLINEOS_ENVIRONMENT: 'test-env', POWERTOOLS_METRICS_DISABLED: 'false', LOGLINEOS_METRICS_INTERVAL_MS: '1', AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  // Imported after the environment is set, as a Lambda reads it when its module loads.
  ledgerHandler = (await import('../../functions/api/ledger.handler.ts')).handler as Handler;
  migrateHandler = (await import('../../functions/deploy/migrate.handler.ts')).handler as Handler;
  const { logger } = await import('../../functions/commons/observability.ts');
  logger.setLogLevel('INFO');
  const { currentLedger } = await import('../../functions/commons/runtime.ts');
  closeLedger = async () => (await currentLedger()).db.close();
});
afterAll(async () => {
  (await import('../../functions/commons/observability.ts')).logger.setLogLevel('SILENT');
  await closeLedger();
  vi.unstubAllEnvs();
  await home.close();
});

const context = (awsRequestId: string) => ({ functionName: 'LogLineOS-test-Api-LedgerHandler', functionVersion: '$LATEST', awsRequestId, invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ledger', memoryLimitInMB: '1024', getRemainingTimeInMillis: () => 10_000 }) as unknown as Context;

function appSyncEvent(requestId: string, field: string, args: Record<string, unknown>): AppSyncEvent<Record<string, unknown>> {
  return {
    arguments: args,
    identity: { sub: 'alice-observability', issuer: 'https://issuer.test', claims: { 'custom:tenant_id': 'observability' } },
    source: null,
    request: { headers: { 'x-amzn-requestid': requestId } },
    info: { fieldName: field, parentTypeName: 'Mutation', variables: {}, selectionSetList: ['id'] },
  };
}
const note = (text: string) => ({ input: { entityType: 'note', who: 'user:alice', did: 'wrote', this: text } });
const emfOf = (lines: Record<string, unknown>[]) => lines.filter((line) => line._aws !== undefined) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] }; [key: string]: unknown }[];

describe('a Lambda invocation', () => {
  test('publishes the health figures as EMF under LogLineOS/service/environment, with AppSync\'s request id as correlation id', async () => {
    // given a container whose first invocation opened the ledger, logged its cold start and counted it
    const first = await capturedJsonLines(() => ledgerHandler(appSyncEvent('warm-up', 'appendSpan', note('first')), context('lambda-1')));
    expect(first.lines.filter((line) => line.message === 'cold start')).toMatchObject([{ correlation_id: 'warm-up', handler: 'ledger', cold_start: true }]);
    expect(emfOf(first.lines).find((emf) => emf.ColdStart === 1)).toMatchObject({ function_name: 'LogLineOS-test-Api-LedgerHandler', service: 'loglineos' });
    // when AppSync invokes it with request id R for one append
    const { result, lines } = await capturedJsonLines(() => ledgerHandler(appSyncEvent('appsync-request-2', 'appendSpan', note('second')), context('lambda-2')));
    // then the append succeeded and one EMF document counted exactly it
    expect(result).toMatchObject({ this: 'second' });
    const [emf, ...more] = emfOf(lines);
    expect(more).toEqual([]);
    expect(emf?._aws.CloudWatchMetrics).toEqual([{ Namespace: 'LogLineOS', Dimensions: [['service', 'environment']], Metrics: [{ Name: 'SpansAppended', Unit: 'Count' }] }]);
    expect(emf).toMatchObject({ service: 'loglineos', environment: 'test-env', SpansAppended: 1, correlation_id: 'appsync-request-2' });
    // and the invocation's log line carries the same correlation id, the operation and its duration
    const invocation = lines.find((line) => line.message === 'invocation');
    expect(invocation).toMatchObject({ level: 'INFO', correlation_id: 'appsync-request-2', operation: 'Mutation.appendSpan', function_request_id: 'lambda-2', cold_start: false });
    expect(typeof invocation?.durationMs).toBe('number');
    expect(lines.filter((line) => line.message === 'cold start')).toEqual([]);
  });

  test('writes the figures as metric spans once an interval has passed, not counting its own writes', async () => {
    // given LOGLINEOS_METRICS_INTERVAL_MS=1, when one more append is served
    await capturedJsonLines(() => ledgerHandler(appSyncEvent('appsync-request-3', 'appendSpan', note('third')), context('lambda-3')));
    // then the ledger holds metric spans written by the observability writer from this function
    const { currentLedger } = await import('../../functions/commons/runtime.ts');
    const rows = await (await currentLedger()).db.withLedger((tx) => tx.query<{ this: string; metadata: { source: string; sum: number } }>("select this, metadata from ledger.universal_registry where entity_type = 'metric' and owner_id = 'system:observability'"));
    expect(rows.map((row) => row.this)).toContain('SpansAppended');
    expect(rows.every((row) => row.metadata.source === 'lambda:local')).toBe(true);
    // and the spans appended through the API are counted, the metric spans themselves are not
    const appended = rows.filter((row) => row.this === 'SpansAppended').reduce((sum, row) => sum + row.metadata.sum, 0);
    expect(appended).toBeGreaterThanOrEqual(3);
    const next = await capturedJsonLines(() => ledgerHandler(appSyncEvent('appsync-request-4', 'appendSpan', note('fourth')), context('lambda-4')));
    expect(emfOf(next.lines)[0]).toMatchObject({ SpansAppended: 1 });
  });

  test('an unexpected error is logged once, with its errorType and the correlation id the client is told', async () => {
    // when AppSync sends an event the operation cannot read (no input)
    const { error, lines } = await capturedJsonLines(() => ledgerHandler(appSyncEvent('appsync-request-5', 'appendSpan', null as unknown as Record<string, unknown>), context('lambda-5')));
    // then the client gets a masked InternalError quoting AppSync's request id
    expect(error).toMatchObject({ name: 'InternalError', message: expect.stringContaining('appsync-request-5') });
    // and exactly one ERROR line tells the operator what really happened, under the same id
    const errors = lines.filter((line) => line.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: 'unexpected error', correlation_id: 'appsync-request-5', operation: 'Mutation.appendSpan', errorType: 'TypeError', error: expect.objectContaining({ stack: expect.any(String) }) });
    // and the invocation line and the EMF document say InternalError
    expect(lines.find((line) => line.message === 'invocation')).toMatchObject({ errorType: 'InternalError', correlation_id: 'appsync-request-5' });
    expect(emfOf(lines)[0]).toMatchObject({ InternalErrors: 1, correlation_id: 'appsync-request-5' });
  });

  test('a client error is an answer, not operator news: no ERROR line, the errorType on the invocation line', async () => {
    // when a field the data source does not serve is asked for
    const { error, lines } = await capturedJsonLines(() => ledgerHandler(appSyncEvent('appsync-request-6', 'noSuchField', {}), context('lambda-6')));
    // then it fails with its stable errorType, logged at INFO on the invocation line only
    expect(error).toMatchObject({ name: 'NotImplemented' });
    expect(lines.filter((line) => line.level === 'ERROR')).toEqual([]);
    expect(lines.find((line) => line.message === 'invocation')).toMatchObject({ level: 'INFO', errorType: 'NotImplemented', correlation_id: 'appsync-request-6' });
  });

  test('a Lambda not called by AppSync logs under its invocation id: the migrations function, database down', async () => {
    // given a database that refuses connections
    vi.stubEnv('DATABASE_URL', 'postgres://nobody@127.0.0.1:1/none');
    try {
      // when CloudFormation creates the resource
      const { error, lines } = await capturedJsonLines(() => migrateHandler({ RequestType: 'Create', RequestId: 'cfn-1' }, context('lambda-migrate-1')));
      // then it fails with the ledger's stable errorType, on the invocation line under the Lambda request id
      expect(error).toMatchObject({ name: 'ServiceUnavailable' });
      expect(lines.find((line) => line.message === 'invocation')).toMatchObject({ correlation_id: 'lambda-migrate-1', function_request_id: 'lambda-migrate-1', operation: 'migrate', errorType: 'ServiceUnavailable' });
      expect(lines.filter((line) => line.message === 'cold start')).toEqual([]);
    } finally {
      vi.stubEnv('DATABASE_URL', home.env.DATABASE_URL ?? '');
    }
  });
});
