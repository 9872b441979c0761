import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyApi, startTestServer, type TestServer } from '../support/api.ts';

/* In dev mode the server picks up edits to the schema and the resolvers without a restart. */

let t: TestServer;
let url: string;
beforeAll(async () => {
  t = await startTestServer({ dev: true }, (dir) => copyApi(dir));
  url = t.url;
});
afterAll(() => t.close());

async function ask(query: string): Promise<{ data?: Record<string, unknown> | null; errors?: { message: string }[] }> {
  const response = await fetch(url, { method: 'POST', headers: { 'x-api-key': 'da2-test', 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string }[] };
}

async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 200; i += 1) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

describe('dev mode', () => {
  test('a new schema field and its new resolver answer without a restart', async () => {
    // given a field the schema does not have yet
    expect((await ask('{ hello }')).errors?.[0]?.message).toMatch(/hello/);
    // when the schema gains it and a resolver file for it appears
    const resolver = `import { runtime } from '@aws-appsync/utils';
export function request() { return runtime.earlyReturn('hello from a new resolver'); }
export function response(ctx) { return ctx.result; }
`;
    writeFileSync(join(t.dir, 'resolvers', 'Query.hello.[none].ts'), resolver);
    const schemaFile = join(t.dir, 'schema', 'schema.graphql');
    writeFileSync(schemaFile, readFileSync(schemaFile, 'utf8').replace('type Query {', 'type Query {\n  hello: String @aws_api_key'));
    // then the server answers it
    expect(await eventually(async () => (await ask('{ hello }')).data?.hello === 'hello from a new resolver')).toBe(true);
  });
});
