import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyApi, startTestServer, type TestServer } from '../support/api.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * extensions.invalidateSubscriptions ends the subscriptions whose invalidation filter the mutation's
 * payload passes, as AppSync does. The product's schema has no such mutation yet, so this runs on a
 * copy of the schema and resolvers with one added.
 */

let t: TestServer;
let url: string;
beforeAll(async () => {
  t = await startTestServer({}, (dir) => {
    const copy = copyApi(dir, {
      fields: { Mutation: 'closeTimelines(owner: String!): Boolean @aws_api_key' },
      resolvers: {
        'Mutation.closeTimelines.[none].ts': `import { extensions, type Context } from '@aws-appsync/utils';
export function request(): { payload: null } { return { payload: null }; }
export function response(ctx: Context<{ owner: string }>): boolean {
  extensions.invalidateSubscriptions({ subscriptionField: 'onTimeline', payload: { owner: ctx.args.owner } });
  return true;
}
`,
      },
    });
    const onTimeline = join(copy.resolversDir, 'Subscription.onTimeline.[none].ts');
    writeFileSync(onTimeline, readFileSync(onTimeline, 'utf8').replace(
      'export function response(ctx: Context<Args>): null {',
      `export function response(ctx: Context<Args>): null {
  extensions.setSubscriptionInvalidationFilter({ filterGroup: [{ filters: [{ fieldName: 'owner', operator: 'eq', value: 'tester' }] }] });`,
    ));
    return copy;
  });
  url = t.url;
});
afterAll(() => t.close());

const close = (owner: string) =>
  fetch(url, { method: 'POST', headers: { 'x-api-key': 'da2-test', 'content-type': 'application/json' }, body: JSON.stringify({ query: `mutation { closeTimelines(owner: "${owner}") }` }) });

describe('subscription invalidation', () => {
  test('a mutation whose payload passes the invalidation filter ends the subscription; another does not', async () => {
    const client = await RealtimeTestClient.open(url, { 'x-api-key': 'da2-test' });
    await client.init();
    client.start('s', 'subscription { onTimeline { id } }', {}, { 'x-api-key': 'da2-test' }, new URL(url).host);
    await client.next((f) => f.type === 'start_ack');
    await close('someone-else');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.frames.some((f) => f.type === 'complete')).toBe(false);
    expect(t.server.realtime.subscriptionCount).toBe(1);
    await close('tester');
    await client.next((f) => f.type === 'complete' && f.id === 's');
    expect(t.server.realtime.subscriptionCount).toBe(0);
    client.close();
  });
});
