import { timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, type JWTPayload } from 'jose';
import { type GraphQLSchema, isObjectType, type ConstDirectiveNode } from 'graphql';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AuthorizerResult } from '../functions/access/authorizer.ts';
import type { AppSyncIdentity, CognitoIdentity, IamIdentity } from '../functions/commons/appsync.ts';
import type { LocalIssuer } from './issuer.ts';

export type AuthMode = 'API_KEY' | 'AMAZON_COGNITO_USER_POOLS' | 'AWS_IAM' | 'OPENID_CONNECT' | 'AWS_LAMBDA';

export interface Caller {
  readonly mode: AuthMode;
  readonly identity: AppSyncIdentity;
  /** AWS_LAMBDA mode: the fields the authorizer denied (Type.field). */
  readonly deniedFields?: ReadonlySet<string>;
}

/** A request refused before it reaches GraphQL, answered with HTTP 401 as AppSync does. */
export class AuthFailure extends Error {
  readonly errorType = 'UnauthorizedException';
  readonly status = 401;
}

export interface IamCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The principal the key belongs to, e.g. the writer role. */
  readonly userArn: string;
}

export interface AuthConfig {
  readonly apiKey: string;
  readonly issuer: LocalIssuer;
  /** Local IAM principals (the internal writers); requests signed with SigV4 by these keys are IAM callers. */
  readonly iam?: readonly IamCredential[];
  /** The Lambda authorizer (AWS_LAMBDA mode) for API tokens, and how long its answers are cached. */
  readonly authorizer?: (token: string) => Promise<AuthorizerResult>;
  readonly authorizerCacheSeconds?: number;
}


/** The request as signed, for SigV4 verification. */
export interface SignedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/**
 * Picks the mode from the headers as AppSync does: a JWT in `Authorization` is a user pool token,
 * otherwise `x-api-key` must be the API's key. Tokens are verified, never just decoded.
 */
export async function authenticate(headers: Readonly<Record<string, string | undefined>>, sourceIp: string, config: AuthConfig, request?: SignedRequest): Promise<Caller> {
  const authorization = headers.authorization;
  if (authorization?.startsWith('AWS4-HMAC-SHA256 ')) {
    if (!request) throw new AuthFailure('IAM (SigV4) authorization is accepted on POST /graphql and in the real-time header and start messages only.');
    return verifySigV4(authorization, headers, sourceIp, config, request);
  }
  if (authorization && config.authorizer && authorization.startsWith(API_TOKEN_PREFIX)) {
    return lambdaCaller(authorization, config);
  }
  if (authorization) {
    const token = authorization.replace(/^Bearer\s+/i, '');
    const claims = await verifiedClaims(token, config.issuer);
    const groups = Array.isArray(claims['cognito:groups']) ? (claims['cognito:groups'] as string[]) : [];
    const identity: CognitoIdentity = {
      sub: String(claims.sub),
      issuer: String(claims.iss),
      username: String(claims['cognito:username'] ?? claims.sub),
      claims,
      sourceIp: [sourceIp],
      defaultAuthStrategy: 'ALLOW',
      groups,
    };
    return { mode: 'AMAZON_COGNITO_USER_POOLS', identity };
  }
  const key = headers['x-api-key'];
  if (key !== undefined) {
    const given = Buffer.from(key);
    const expected = Buffer.from(config.apiKey);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { mode: 'API_KEY', identity: null };
  }
  throw new AuthFailure('You are not authorized to make this call.');
}

const API_TOKEN_PREFIX = 'llos_';

// AppSync caches each token's answer for the authorizer's TTL (the API's resultsCacheTtl, or the
// answer's ttlOverride); so does the local server, which is why a revocation takes that long.
const lambdaAnswers = new WeakMap<AuthConfig, Map<string, { answer: AuthorizerResult; until: number }>>();

async function lambdaCaller(token: string, config: AuthConfig): Promise<Caller> {
  let cache = lambdaAnswers.get(config);
  if (!cache) lambdaAnswers.set(config, (cache = new Map()));
  const cached = cache.get(token);
  let answer = cached && cached.until > Date.now() ? cached.answer : undefined;
  if (!answer) {
    answer = await (config.authorizer as (token: string) => Promise<AuthorizerResult>)(token);
    const ttl = Math.min(answer.ttlOverride ?? Number.POSITIVE_INFINITY, config.authorizerCacheSeconds ?? 60);
    if (cache.size > 10_000) cache.clear();
    if (ttl > 0) cache.set(token, { answer, until: Date.now() + ttl * 1000 });
  }
  if (!answer.isAuthorized) throw new AuthFailure('You are not authorized to make this call.');
  return { mode: 'AWS_LAMBDA', identity: { resolverContext: answer.resolverContext ?? {} }, deniedFields: new Set(answer.deniedFields ?? []) };
}

const CREDENTIAL = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * SigV4 as AWS checks it: the key must be known, the time within five minutes, and the signature the
 * one this server computes for the same method, path, signed headers and body.
 */
async function verifySigV4(authorization: string, headers: Readonly<Record<string, string | undefined>>, sourceIp: string, config: AuthConfig, request: SignedRequest): Promise<Caller> {
  const match = CREDENTIAL.exec(authorization);
  const credential = match ? config.iam?.find((c) => c.accessKeyId === match[1]) : undefined;
  if (!match || !credential) throw new AuthFailure('The security token included in the request is invalid.');
  const [, , , region = '', service = '', signedHeaders = ''] = match;
  const amzDate = headers['x-amz-date'] ?? '';
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new AuthFailure('Signature expired: the request time (x-amz-date) is more than 5 minutes away from the server time.');
  }
  const signed: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) signed[name] = headers[name] ?? '';
  // applyChecksum off: the signer must not add an x-amz-content-sha256 the client did not sign
  // (AppSync's real-time headers have none); when the client signed one, it is in `signed`.
  const signer = new SignatureV4({ credentials: credential, region, service, sha256: Hash.bind(null, 'sha256'), applyChecksum: false });
  const [path, query = ''] = request.path.split('?');
  const expected = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: (headers.host ?? '').split(':')[0] ?? '', path: path ?? '/', query: Object.fromEntries(new URLSearchParams(query)), headers: signed, body: request.body },
    { signingDate },
  );
  const given = Buffer.from(authorization);
  const wanted = Buffer.from(String(expected.headers.authorization ?? ''));
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new AuthFailure('The request signature we calculated does not match the signature you provided.');
  }
  const identity: IamIdentity = { accountId: credential.userArn.split(':')[4] ?? 'local', userArn: credential.userArn, username: credential.userArn.split('/').at(-1) ?? credential.accessKeyId, sourceIp: [sourceIp] };
  return { mode: 'AWS_IAM', identity };
}

// Verified tokens, until they expire: a client sends the same token on every request, and an ES256
// verification costs more than the rest of a small request.
// Kept per issuer, so a token one server accepted is never taken by another.
const verifiedBy = new WeakMap<LocalIssuer, Map<string, JWTPayload>>();
const MAX_CACHED_TOKENS = 10_000;

async function verifiedClaims(token: string, issuer: LocalIssuer): Promise<JWTPayload> {
  let verified = verifiedBy.get(issuer);
  if (!verified) verifiedBy.set(issuer, (verified = new Map()));
  const cached = verified.get(token);
  if (cached && (cached.exp ?? 0) * 1000 > Date.now()) return cached;
  if (cached) {
    verified.delete(token);
    throw new AuthFailure('Token has expired.');
  }
  let claims: JWTPayload;
  try {
    claims = await issuer.verify(token);
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new AuthFailure('Token has expired.');
    throw new AuthFailure('Valid authorization header not provided.');
  }
  if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value ?? '');
  verified.set(token, claims);
  return claims;
}

const MODE_OF_DIRECTIVE: Readonly<Record<string, AuthMode>> = {
  aws_api_key: 'API_KEY',
  aws_cognito_user_pools: 'AMAZON_COGNITO_USER_POOLS',
  aws_auth: 'AMAZON_COGNITO_USER_POOLS',
  aws_iam: 'AWS_IAM',
  aws_oidc: 'OPENID_CONNECT',
  aws_lambda: 'AWS_LAMBDA',
};

interface Rule {
  readonly mode: AuthMode;
  readonly groups?: readonly string[];
}

function rulesOf(directives: readonly ConstDirectiveNode[] | undefined): Rule[] {
  const rules: Rule[] = [];
  for (const directive of directives ?? []) {
    const mode = MODE_OF_DIRECTIVE[directive.name.value];
    if (!mode) continue;
    const groupsArg = directive.arguments?.find((arg) => arg.name.value === 'cognito_groups');
    const groups = groupsArg?.value.kind === 'ListValue' ? groupsArg.value.values.flatMap((v) => (v.kind === 'StringValue' ? [v.value] : [])) : undefined;
    rules.push(groups ? { mode, groups } : { mode });
  }
  return rules;
}

/**
 * AppSync's rule: a field's auth directives replace its type's, a type's replace the API default,
 * and several directives are OR'ed.
 */
export function createAuthorizer(schema: GraphQLSchema, defaultMode: AuthMode = 'AMAZON_COGNITO_USER_POOLS') {
  const cache = new Map<string, Rule[]>();
  const rulesFor = (typeName: string, fieldName: string): Rule[] => {
    const key = `${typeName}.${fieldName}`;
    let rules = cache.get(key);
    if (!rules) {
      const type = schema.getType(typeName);
      const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
      const fieldRules = rulesOf(field?.astNode?.directives);
      const typeRules = isObjectType(type) ? rulesOf(type.astNode?.directives) : [];
      rules = fieldRules.length > 0 ? fieldRules : typeRules.length > 0 ? typeRules : [{ mode: defaultMode }];
      cache.set(key, rules);
    }
    return rules;
  };
  return (caller: Caller, typeName: string, fieldName: string): boolean =>
    !caller.deniedFields?.has(`${typeName}.${fieldName}`) &&
    rulesFor(typeName, fieldName).some((rule) => {
      if (rule.mode !== caller.mode) return false;
      if (!rule.groups) return true;
      const identity = caller.identity;
      const groups = identity && 'groups' in identity ? (identity.groups ?? []) : [];
      return rule.groups.some((group) => groups.includes(group));
    });
}
