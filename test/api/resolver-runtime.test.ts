import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { util } from '../../local/appsync-runtime.ts';
import { copyApi, startTestServer, type TestServer } from '../support/api.ts';

/*
 * The local APPSYNC_JS runtime keeps a field's state (appended errors) in a scope set around each
 * synchronous request/response call. Fields of one query resolve interleaved (their data sources are
 * async), so each field's errors must land on its own path and nowhere else.
 */

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({}, (dir) =>
    copyApi(dir, {
      fields: { Query: 'noted(label: String!): String @aws_api_key\n  promised: String @aws_api_key' },
      resolvers: {
        'Query.noted.[none].ts': `import { util } from '@aws-appsync/utils';
export function request(ctx) { util.appendError('before ' + ctx.args.label, 'Before'); return { payload: ctx.args.label }; }
export function response(ctx) { util.appendError('after ' + ctx.args.label, 'After'); return ctx.result; }
`,
        'Query.promised.[none].ts': `export async function request() { return { payload: 'never' }; }
export function response(ctx) { return ctx.result; }
`,
      },
    }),
  );
});
afterAll(() => t.close());

async function ask(query: string): Promise<{ data?: Record<string, unknown> | null; errors?: { message: string; errorType: string; path: unknown[] | null }[] }> {
  const response = await fetch(t.url, { method: 'POST', headers: { 'x-api-key': 'da2-test', 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; errorType: string; path: unknown[] | null }[] };
}

describe('the local resolver runtime', () => {
  test('util.appendError from request and response handlers of interleaved fields lands on each field alone', async () => {
    const aliases = ['a', 'b', 'c', 'd', 'e', 'f'];
    const body = await ask(`{ ${aliases.map((alias) => `${alias}: noted(label: "${alias}")`).join(' ')} }`);
    expect(body.data).toEqual(Object.fromEntries(aliases.map((alias) => [alias, alias])));
    const byPath = new Map<string, string[]>();
    for (const error of body.errors ?? []) {
      const key = JSON.stringify(error.path);
      byPath.set(key, [...(byPath.get(key) ?? []), `${error.errorType}: ${error.message}`]);
    }
    expect(byPath.size).toBe(aliases.length);
    for (const alias of aliases) expect(byPath.get(JSON.stringify([alias]))?.sort()).toEqual([`After: after ${alias}`, `Before: before ${alias}`]);
  });

  test('util.appendError outside a resolver is refused', () => {
    expect(() => util.appendError('stray', 'Stray')).toThrow(/outside a resolver/);
  });

  test('an async request handler is an error that says APPSYNC_JS handlers are synchronous', async () => {
    const body = await ask('{ promised }');
    expect(body.data).toEqual({ promised: null });
    expect(body.errors?.[0]?.message).toMatch(/returned a Promise; APPSYNC_JS handlers are synchronous/);
    expect(body.errors?.[0]?.path).toEqual(['promised']);
  });
});
