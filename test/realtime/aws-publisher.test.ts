import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAppSyncPublisher } from '../../functions/commons/appsync-publisher.ts';
import { spanEvent } from '../../functions/commons/publisher.ts';
import { appendSpan } from '../../functions/ledger/index.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * The AWS writer's publish path, end to end against the local AppSync: a SigV4-signed publishSpan
 * (the only caller the schema allows is IAM), verified by the server, delivered to a subscriber.
 */

const writer = { accessKeyId: 'AKIALOCALWRITER00001', secretAccessKey: randomBytes(20).toString('base64'), userArn: 'arn:aws:iam::000000000000:role/loglineos-writer' };
let t: TestServer;
let url: string;
beforeAll(async () => {
  t = await startTestServer({ iam: [writer] });
  url = t.url;
});
afterAll(() => t.close());

describe('publishing from AWS Lambda (SigV4, IAM)', () => {
  test('a signed publishSpan reaches the subscribers, with the whole event', async () => {
    // given a subscriber and a committed public span
    const client = await RealtimeTestClient.open(url, { 'x-api-key': 'da2-test' });
    await client.init();
    client.start('s', 'subscription { onTimeline(entityTypes: ["aws_pub"]) { id cursor visibility span } }', {}, { 'x-api-key': 'da2-test' }, new URL(url).host);
    await client.next((f) => f.type === 'start_ack');
    const span = await appendSpan(t.ledger, { userId: 'lambda-user', tenantId: 't' }, { entityType: 'aws_pub', who: 'x', did: 'y', this: 'z', visibility: 'public' });
    // when the writer publishes it as AWS would
    await createAppSyncPublisher({ graphqlUrl: url, region: 'us-east-1', credentials: writer }).publish(spanEvent(span));
    // then
    const frame = await client.next((f) => f.type === 'data');
    expect((frame.payload?.data as { onTimeline: unknown }).onTimeline).toMatchObject({ id: span.id, visibility: 'public' });
    client.close();
  });

  test('a wrong secret, or a user token, cannot publish', async () => {
    const span = await appendSpan(t.ledger, { userId: 'lambda-user', tenantId: 't' }, { entityType: 'aws_pub', who: 'x', did: 'y', this: 'z' });
    const forged = createAppSyncPublisher({ graphqlUrl: url, region: 'us-east-1', credentials: { ...writer, secretAccessKey: 'wrong' } });
    await expect(forged.publish(spanEvent(span))).rejects.toThrow(/401 UnauthorizedException/);
    const stranger = createAppSyncPublisher({ graphqlUrl: url, region: 'us-east-1', credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' } });
    await expect(stranger.publish(spanEvent(span))).rejects.toThrow(/401 UnauthorizedException/);
    const token = await t.issuer.issue({ user: 'mallory', tenant: 't' });
    const response = await fetch(url, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation P($e: SpanEventInput!) { publishSpan(event: $e) { id } }', variables: { e: spanEvent(span) } }) });
    expect(((await response.json()) as { errors: { errorType: string }[] }).errors[0]?.errorType).toBe('Unauthorized');
  });
});
