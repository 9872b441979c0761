import type { AppSyncIdentity } from './appsync.ts';
import type { Identity } from './db/index.ts';
import { ForbiddenError } from './errors.ts';

/** The Cognito attribute that carries a user's tenant. */
export const TENANT_CLAIM = 'custom:tenant_id';
export const ADMIN_GROUP = 'admin';

/**
 * The caller as the ledger sees it, from AppSync's `ctx.identity` (never from the request body):
 * - Cognito/OIDC: `sub` is the user, the `custom:tenant_id` claim the tenant, `cognito:groups` the groups;
 * - IAM (internal callers): the principal's ARN, no tenant;
 * - API key: no identity at all (public data only).
 */
export function identityFrom(identity: AppSyncIdentity): Identity | null {
  if (!identity) return null;
  if ('sub' in identity) {
    const tenant = identity.claims[TENANT_CLAIM];
    const groups = identity.groups ?? (Array.isArray(identity.claims['cognito:groups']) ? (identity.claims['cognito:groups'] as string[]) : []);
    return { userId: identity.sub, tenantId: typeof tenant === 'string' && tenant !== '' ? tenant : null, groups: [...groups] };
  }
  if ('userArn' in identity) return { userId: `iam:${identity.userArn}`, tenantId: null, groups: ['iam'] };
  if ('resolverContext' in identity) {
    const context = identity.resolverContext;
    const user = context.userId;
    if (typeof user !== 'string' || user === '') return null;
    return { userId: user, tenantId: typeof context.tenantId === 'string' && context.tenantId !== '' ? context.tenantId : null, groups: [] };
  }
  return null;
}

/**
 * The caller, or a Forbidden error saying what needs one: anonymous (API key) callers read public
 * spans only. `what` names the action, as in "`what` needs a signed-in caller".
 */
export function requireSignedIn(identity: Identity | null, what: string): Identity {
  if (!identity) throw new ForbiddenError(`${what} needs a signed-in caller; the API key reads public spans only`, { fix: 'Call with a user or app token.' });
  return identity;
}

export const isAdmin = (identity: Identity | null): boolean => identity?.groups?.includes(ADMIN_GROUP) === true || identity?.groups?.includes('iam') === true;
