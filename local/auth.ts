import { timingSafeEqual } from 'node:crypto';
import { errors as joseErrors, type JWTPayload } from 'jose';
import { type GraphQLSchema, isObjectType, type ConstDirectiveNode } from 'graphql';
import type { AppSyncIdentity, CognitoIdentity } from '../functions/commons/appsync.ts';
import type { LocalIssuer } from './issuer.ts';

export type AuthMode = 'API_KEY' | 'AMAZON_COGNITO_USER_POOLS' | 'AWS_IAM' | 'OPENID_CONNECT' | 'AWS_LAMBDA';

export interface Caller {
  readonly mode: AuthMode;
  readonly identity: AppSyncIdentity;
}

/** A request refused before it reaches GraphQL, answered with HTTP 401 as AppSync does. */
export class AuthFailure extends Error {
  readonly errorType = 'UnauthorizedException';
  readonly status = 401;
}

export interface AuthConfig {
  readonly apiKey: string;
  readonly issuer: LocalIssuer;
}

/**
 * Picks the mode from the headers as AppSync does: a JWT in `Authorization` is a user pool token,
 * otherwise `x-api-key` must be the API's key. Tokens are verified, never just decoded.
 */
export async function authenticate(headers: Readonly<Record<string, string | undefined>>, sourceIp: string, config: AuthConfig): Promise<Caller> {
  const authorization = headers.authorization;
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
    rulesFor(typeName, fieldName).some((rule) => {
      if (rule.mode !== caller.mode) return false;
      if (!rule.groups) return true;
      const identity = caller.identity;
      const groups = identity && 'groups' in identity ? (identity.groups ?? []) : [];
      return rule.groups.some((group) => groups.includes(group));
    });
}
