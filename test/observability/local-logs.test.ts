import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { logger } from '../../functions/commons/observability.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { capturedJsonLines } from './support.ts';

/*
 * The local server logs each GraphQL request as the Lambdas log an invocation: one JSON line from
 * the same logger, under the request id it answers with (AppSync's x-amzn-requestid).
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  logger.setLogLevel('INFO');
});
afterAll(async () => {
  logger.setLogLevel('SILENT');
  await api.close();
});

async function post(headers: Record<string, string>, query: string) {
  const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { requestId: response.headers.get('x-amzn-requestid'), body: (await response.json()) as { errors?: { errorType: string; message: string }[] } };
}

describe('the local server\'s request log', () => {
  test('one line per request with its request id, operation, caller mode, duration and errorType', async () => {
    // given a signed-in user
    const token = await api.token('alice-logs', 'logs');
    // when they append a span, send a span the ledger refuses, and someone calls without credentials
    const { result, lines } = await capturedJsonLines(async () => [
      await post({ authorization: token }, 'mutation Note { appendSpan(input: {entityType: "note", who: "user:alice", did: "wrote", this: "logged"}) { id } }'),
      await post({ authorization: token }, 'mutation { appendSpan(input: {entityType: "note", who: "user:alice", did: "wrote", this: "x", ownerId: "bob"}) { id } }'),
      await post({}, '{ timelineHead }'),
    ]);
    const [ok, refused, anonymous] = result ?? [];
    const requests = lines.filter((line) => line.message === 'graphql request');
    // then each answer carries its request id, and exactly one line was logged under each
    expect(requests.map((line) => line.correlation_id)).toEqual([ok?.requestId, refused?.requestId, anonymous?.requestId]);
    expect(new Set(requests.map((line) => line.correlation_id)).size).toBe(3);
    // and the lines say what ran, for whom, how long it took and how it failed
    expect(requests[0]).toMatchObject({ level: 'INFO', service: 'loglineos', operation: 'mutation Note appendSpan', callerMode: 'AMAZON_COGNITO_USER_POOLS', durationMs: expect.any(Number) });
    expect(requests[0]).not.toHaveProperty('errorType');
    expect(refused?.body.errors?.[0]?.errorType).toBe('Forbidden');
    expect(requests[1]).toMatchObject({ operation: 'mutation appendSpan', errorType: 'Forbidden' });
    expect(requests[2]).toMatchObject({ errorType: anonymous?.body.errors?.[0]?.errorType });
    expect(requests[2]).not.toHaveProperty('callerMode');
  });
});
