import { extensions, util, type Context, type SubscriptionFilter } from '@aws-appsync/utils';

type Filter = SubscriptionFilter['filterGroup'][number]['filters'][number];

export function request(): { payload: null } {
  return { payload: null };
}

/**
 * A run's events reach its owner only: the filter pins the run id, the caller's user id and, for a
 * caller in a tenant, that tenant, all taken from ctx.identity (Cognito, or an app token's
 * resolverContext). Internal IAM callers may follow any run. Anyone else is refused.
 */
export function response(ctx: Context<{ runId: string }>): null {
  const identity = ctx.identity as { sub?: string; userArn?: string; claims?: Record<string, unknown>; resolverContext?: Record<string, unknown> } | null | undefined;
  const runId: Filter = { fieldName: 'runId', operator: 'eq', value: ctx.args.runId };
  if (identity && identity.userArn) {
    extensions.setSubscriptionFilter({ filterGroup: [{ filters: [runId] }] });
    return null;
  }
  let user: string | undefined;
  let tenant: string | undefined;
  if (identity && identity.sub) {
    user = identity.sub;
    tenant = identity.claims ? (identity.claims['custom:tenant_id'] as string | undefined) : undefined;
  } else if (identity && identity.resolverContext) {
    user = identity.resolverContext.userId as string | undefined;
    tenant = identity.resolverContext.tenantId as string | undefined;
  }
  if (!user) util.unauthorized();
  const filters: Filter[] = [runId, { fieldName: 'ownerId', operator: 'eq', value: user }];
  if (tenant) filters.push({ fieldName: 'tenantId', operator: 'eq', value: tenant });
  extensions.setSubscriptionFilter({ filterGroup: [{ filters }] });
  return null;
}
