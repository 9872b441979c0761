import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIssuer, type LocalIssuer } from '../../local/issuer.ts';
import { RESOLVERS_DIR } from '../../local/resolvers.ts';
import { SCHEMA_DIR } from '../../local/schema.ts';
import { createLocalServer, type LocalServer, type LocalServerOptions } from '../../local/server.ts';
import { openTestLedger, type TestLedger } from './ledger.ts';

export interface TestApi {
  readonly url: string;
  readonly apiKey: string;
  readonly issuer: LocalIssuer;
  readonly ledger: TestLedger;
  readonly server: LocalServer;
  /** A user token from the local issuer. */
  token(user: string, tenant: string | null, groups?: string[]): Promise<string>;
  /** POSTs a GraphQL request with the given auth headers; returns status and parsed body. */
  request(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: GraphqlBody }>;
  close(): Promise<void>;
}

export interface GraphqlBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; errorType: string; errorInfo?: unknown; path?: (string | number)[] | null; locations?: unknown[] }[];
}

/** The local AppSync server on a fresh test database, with helpers to call it as a client would. */
export async function startTestApi(): Promise<TestApi> {
  const apiKey = 'da2-testtesttesttesttesttest';
  const { server, url, ledger, issuer, close } = await startTestServer({ apiKey, keepAliveMs: 1000 });
  return {
    url,
    apiKey,
    issuer,
    ledger,
    server,
    token: (user, tenant, groups = []) => issuer.issue({ user, tenant, groups }),
    async request(headers, query, variables) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
      return { status: response.status, body: (await response.json()) as GraphqlBody };
    },
    close,
  };
}

export interface TestServer {
  readonly server: LocalServer;
  readonly url: string;
  readonly ledger: TestLedger;
  readonly issuer: LocalIssuer;
  /** A throwaway folder for the test's own files (keys, copies of schema/ and resolvers/). */
  readonly dir: string;
  close(): Promise<void>;
}

/**
 * A local server on a fresh test database with the given options; `prepare` runs first with the
 * throwaway folder (to copy or edit sources) and returns options that depend on it.
 */
export async function startTestServer(
  options: Partial<Omit<LocalServerOptions, 'ledger' | 'issuer'>> = {},
  prepare?: (dir: string) => Partial<LocalServerOptions>,
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'loglineos-server-'));
  const ledger = await openTestLedger();
  const issuer = await openIssuer(join(dir, 'issuer.json'));
  const server = await createLocalServer({ apiKey: 'da2-test', ...options, ...(prepare?.(dir) ?? {}), ledger, issuer });
  const url = await server.listen(0);
  return {
    server,
    url,
    ledger,
    issuer,
    dir,
    async close() {
      await server.close();
      await ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A copy of the product's schema and resolvers in `dir`, for a server started on it (startTestServer's
 * `prepare`): `fields` adds SDL lines at the top of a root type, `resolvers` adds or replaces files.
 */
export function copyApi(
  dir: string,
  added: { readonly fields?: Partial<Record<'Query' | 'Mutation', string>>; readonly resolvers?: Readonly<Record<string, string>> } = {},
): { schemaDir: string; resolversDir: string } {
  const schemaDir = join(dir, 'schema');
  const resolversDir = join(dir, 'resolvers');
  cpSync(SCHEMA_DIR, schemaDir, { recursive: true });
  cpSync(RESOLVERS_DIR, resolversDir, { recursive: true });
  const schemaFile = join(schemaDir, 'schema.graphql');
  let schema = readFileSync(schemaFile, 'utf8');
  for (const [type, sdl] of Object.entries(added.fields ?? {})) schema = schema.replace(`type ${type} {`, `type ${type} {\n  ${sdl}`);
  writeFileSync(schemaFile, schema);
  for (const [file, code] of Object.entries(added.resolvers ?? {})) writeFileSync(join(resolversDir, file), code);
  return { schemaDir, resolversDir };
}
