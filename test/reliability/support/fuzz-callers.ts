import { randomBytes } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { IamCredential } from '../../../local/auth.ts';
import { SCOPES } from '../../../functions/access/scopes.ts';
import type { TestServer } from '../../support/api.ts';

/*
 * Callers of every auth mode the local AppSync accepts, made as a client makes them: an API key,
 * Cognito users from the local issuer (plain, admin and reviewer groups), an IAM principal that signs
 * each POST with SigV4, and API tokens checked by the Lambda authorizer. Shared by the fuzz and the
 * isolation suites.
 */

export type CallerMode = 'API_KEY' | 'AMAZON_COGNITO_USER_POOLS' | 'AWS_IAM' | 'AWS_LAMBDA' | 'NONE';

export interface FuzzCaller {
  readonly name: string;
  readonly mode: CallerMode;
  /** The user the caller acts as (app tokens act as their app's owner); null for the API key, IAM and nobody. */
  readonly userId: string | null;
  readonly tenantId: string | null;
  /** The request's auth headers; IAM signs the exact body, so it needs it. */
  headers(body: string): Promise<Record<string, string>>;
}

export interface GraphqlAnswer {
  readonly status: number;
  readonly body: {
    data?: Record<string, unknown> | null;
    errors?: { message?: string; errorType?: string; path?: (string | number)[] | null }[];
  };
}

/** One GraphQL POST as `caller`, with extra headers (memory consent, session). */
export async function post(url: string, caller: FuzzCaller, query: string, variables: Record<string, unknown>, extra: Record<string, string> = {}): Promise<GraphqlAnswer> {
  const body = JSON.stringify({ query, variables });
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...extra, ...(await caller.headers(body)) }, body });
  const text = await response.text();
  let parsed: GraphqlAnswer['body'];
  try {
    parsed = JSON.parse(text) as GraphqlAnswer['body'];
  } catch {
    // a body that is not JSON is itself a finding: the caller sees it in the violation
    parsed = { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
  return { status: response.status, body: parsed };
}

/** The local IAM principal the server trusts (pass it as startTestServer's `iam`). */
export function iamPrincipal(): IamCredential {
  return { accessKeyId: `AKIAFUZZ${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(20).toString('base64'), userArn: 'arn:aws:iam::000000000000:role/loglineos-fuzz' };
}

export function apiKeyCaller(apiKey: string): FuzzCaller {
  return { name: 'api-key', mode: 'API_KEY', userId: null, tenantId: null, headers: async () => ({ 'x-api-key': apiKey }) };
}

export async function userCaller(t: TestServer, name: string, user: string, tenant: string | null, groups: string[] = []): Promise<FuzzCaller> {
  const token = await t.issuer.issue({ user, tenant, groups });
  return { name, mode: 'AMAZON_COGNITO_USER_POOLS', userId: user, tenantId: tenant, headers: async () => ({ authorization: token }) };
}

export function iamCaller(url: string, principal: IamCredential): FuzzCaller {
  const target = new URL(url);
  const signer = new SignatureV4({ credentials: principal, region: 'us-east-1', service: 'appsync', sha256: Hash.bind(null, 'sha256'), applyChecksum: false });
  return {
    name: 'iam',
    mode: 'AWS_IAM',
    userId: null,
    tenantId: null,
    async headers(body) {
      const signed = await signer.sign({
        method: 'POST',
        protocol: target.protocol,
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        query: {},
        headers: { 'content-type': 'application/json', host: target.host },
        body,
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = String(value);
      return headers;
    },
  };
}

/** Every scope a token can hold, kernel invocation of the core kernels included. */
export const ALL_TOKEN_SCOPES = [...SCOPES.filter((scope) => scope !== 'admin'), 'kernel:run_code:invoke', 'kernel:observer:invoke'];

/** An app registered by `owner` over the API, and a caller holding its first token (AWS_LAMBDA mode). */
export async function appTokenCaller(url: string, owner: FuzzCaller, name: string, scopes: readonly string[] = ALL_TOKEN_SCOPES): Promise<FuzzCaller> {
  const { body } = await post(url, owner, 'mutation R($input: AppInput!) { registerApp(input: $input) { token { token } } }', { input: { name: `${name}-app`, scopes } });
  const token = (body.data?.registerApp as { token: { token: string } } | undefined)?.token.token;
  if (!token) throw new Error(`registerApp for ${name} failed: ${JSON.stringify(body.errors)}`);
  return { name, mode: 'AWS_LAMBDA', userId: owner.userId, tenantId: owner.tenantId, headers: async () => ({ authorization: token }) };
}

/** Credentials no mode accepts: a forged JWT, an unknown API token, a wrong API key, nothing. */
export function refusedCallers(): FuzzCaller[] {
  const fixed = (name: string, headers: Record<string, string>): FuzzCaller => ({ name, mode: 'NONE', userId: null, tenantId: null, headers: async () => headers });
  return [
    fixed('forged-jwt', { authorization: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.' }),
    fixed('unknown-token', { authorization: `llos_${'A'.repeat(40)}` }),
    fixed('wrong-api-key', { 'x-api-key': 'da2-not-the-key' }),
    fixed('no-auth', {}),
  ];
}
