import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openIssuer } from '../../local/issuer.ts';
import { RESOLVERS_DIR } from '../../local/resolvers.ts';
import { SCHEMA_DIR } from '../../local/schema.ts';
import { createLocalServer, type LocalServer } from '../../local/server.ts';
import { openTestLedger, type TestLedger } from '../support/ledger.ts';

/* In dev mode the server picks up edits to the schema and the resolvers without a restart. */

let dir: string;
let ledger: TestLedger;
let server: LocalServer;
let url: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dev-reload-'));
  cpSync(SCHEMA_DIR, join(dir, 'schema'), { recursive: true });
  cpSync(RESOLVERS_DIR, join(dir, 'resolvers'), { recursive: true });
  ledger = await openTestLedger();
  const issuer = await openIssuer(join(dir, 'issuer.json'));
  server = await createLocalServer({ ledger, apiKey: 'da2-dev', issuer, dev: true, schemaDir: join(dir, 'schema'), resolversDir: join(dir, 'resolvers') });
  url = await server.listen(0);
});
afterAll(async () => {
  await server.close();
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ask(query: string): Promise<{ data?: Record<string, unknown> | null; errors?: { message: string }[] }> {
  const response = await fetch(url, { method: 'POST', headers: { 'x-api-key': 'da2-dev', 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
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
    writeFileSync(join(dir, 'resolvers', 'Query.hello.[none].ts'), resolver);
    const schemaFile = join(dir, 'schema', 'schema.graphql');
    writeFileSync(schemaFile, readFileSync(schemaFile, 'utf8').replace('type Query {', 'type Query {\n  hello: String @aws_api_key'));
    // then the server answers it
    expect(await eventually(async () => (await ask('{ hello }')).data?.hello === 'hello from a new resolver')).toBe(true);
  });
});
