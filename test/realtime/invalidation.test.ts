import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openIssuer } from '../../local/issuer.ts';
import { RESOLVERS_DIR } from '../../local/resolvers.ts';
import { SCHEMA_DIR } from '../../local/schema.ts';
import { createLocalServer, type LocalServer } from '../../local/server.ts';
import { openTestLedger, type TestLedger } from '../support/ledger.ts';
import { RealtimeTestClient } from '../support/realtime.ts';

/*
 * extensions.invalidateSubscriptions ends the subscriptions whose invalidation filter the mutation's
 * payload passes, as AppSync does. The product's schema has no such mutation yet, so this runs on a
 * copy of the schema and resolvers with one added.
 */

let dir: string;
let ledger: TestLedger;
let server: LocalServer;
let url: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'invalidation-'));
  cpSync(SCHEMA_DIR, join(dir, 'schema'), { recursive: true });
  cpSync(RESOLVERS_DIR, join(dir, 'resolvers'), { recursive: true });
  const schemaFile = join(dir, 'schema', 'schema.graphql');
  writeFileSync(schemaFile, readFileSync(schemaFile, 'utf8').replace('type Mutation {', 'type Mutation {\n  closeTimelines(owner: String!): Boolean @aws_api_key'));
  const onTimeline = join(dir, 'resolvers', 'Subscription.onTimeline.[none].ts');
  writeFileSync(onTimeline, readFileSync(onTimeline, 'utf8').replace(
    'export function response(ctx: Context<Args>): null {',
    `export function response(ctx: Context<Args>): null {
  extensions.setSubscriptionInvalidationFilter({ filterGroup: [{ filters: [{ fieldName: 'owner', operator: 'eq', value: 'tester' }] }] });`,
  ));
  writeFileSync(join(dir, 'resolvers', 'Mutation.closeTimelines.[none].ts'), `import { extensions, type Context } from '@aws-appsync/utils';
export function request(): { payload: null } { return { payload: null }; }
export function response(ctx: Context<{ owner: string }>): boolean {
  extensions.invalidateSubscriptions({ subscriptionField: 'onTimeline', payload: { owner: ctx.args.owner } });
  return true;
}
`);
  ledger = await openTestLedger();
  server = await createLocalServer({ ledger, apiKey: 'da2-inv', issuer: await openIssuer(join(dir, 'issuer.json')), schemaDir: join(dir, 'schema'), resolversDir: join(dir, 'resolvers') });
  url = await server.listen(0);
});
afterAll(async () => {
  await server.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const close = (owner: string) =>
  fetch(url, { method: 'POST', headers: { 'x-api-key': 'da2-inv', 'content-type': 'application/json' }, body: JSON.stringify({ query: `mutation { closeTimelines(owner: "${owner}") }` }) });

describe('subscription invalidation', () => {
  test('a mutation whose payload passes the invalidation filter ends the subscription; another does not', async () => {
    const client = await RealtimeTestClient.open(url, { 'x-api-key': 'da2-inv' });
    await client.init();
    client.start('s', 'subscription { onTimeline { id } }', {}, { 'x-api-key': 'da2-inv' }, new URL(url).host);
    await client.next((f) => f.type === 'start_ack');
    await close('someone-else');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.frames.some((f) => f.type === 'complete')).toBe(false);
    expect(server.realtime.subscriptionCount).toBe(1);
    await close('tester');
    await client.next((f) => f.type === 'complete' && f.id === 's');
    expect(server.realtime.subscriptionCount).toBe(0);
    client.close();
  });
});
