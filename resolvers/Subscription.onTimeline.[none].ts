import { extensions, util, type Context, type SubscriptionFilter } from '@aws-appsync/utils';

interface Args {
  entityTypes?: string[] | null;
  traceId?: string | null;
  parentId?: string | null;
}

type Filter = SubscriptionFilter['filterGroup'][number]['filters'][number];

function refuseLong(field: string, value: string | null | undefined): void {
  if (value && value.length > 256) util.error(`${field}: at most 256 characters (got ${value.length}). Send the value as the spans carry it.`, 'ValidationError');
}

export function request(): { payload: null } {
  return { payload: null };
}

/**
 * Subscribes the caller to the spans the database would let them read (SPEC §3.3): public spans
 * for everyone, tenant spans for their tenant, private spans for their owner. The caller's own
 * arguments narrow every group. Internal IAM callers are the user `iam:<role ARN>` with no tenant,
 * as the database sees them (functions/commons/identity.ts): public spans and their own, so what
 * they get live is what timeline(after:) gives them back after a reconnect.
 */
export function response(ctx: Context<Args>): null {
  const args = ctx.args;
  const types = args.entityTypes ?? [];
  if (types.length > 5) util.error(`entityTypes: at most 5 entity types per subscription (got ${types.length}). Subscribe more than once for more.`, 'ValidationError');
  // AppSync refuses a filter string over 256 characters with its own error; no span has such an
  // entity type, trace id or parent id, so the argument is refused here, naming it.
  for (const type of types) refuseLong('entityTypes', type);
  refuseLong('traceId', args.traceId);
  refuseLong('parentId', args.parentId);
  const narrowing: Filter[] = [];
  if (types.length > 0) narrowing.push({ fieldName: 'entityType', operator: 'in', value: types });
  if (args.traceId) narrowing.push({ fieldName: 'traceId', operator: 'eq', value: args.traceId });
  if (args.parentId) narrowing.push({ fieldName: 'parentId', operator: 'eq', value: args.parentId });

  const identity = ctx.identity as { sub?: string; userArn?: string; claims?: Record<string, unknown>; resolverContext?: Record<string, string> } | null | undefined;
  const groups: Filter[][] = [[{ fieldName: 'visibility', operator: 'eq', value: 'public' }]];
  if (identity && identity.userArn) groups.push([{ fieldName: 'ownerId', operator: 'eq', value: `iam:${identity.userArn}` }]);
  // A user signs in (Cognito: sub and the tenant claim); an app token acts as its app's owner, in the
  // owner's tenant (the Lambda authorizer's resolverContext), as the database sees both.
  let user: string | undefined = identity ? identity.sub : undefined;
  let tenant: string | undefined = identity && identity.claims ? (identity.claims['custom:tenant_id'] as string | undefined) : undefined;
  if (identity && identity.resolverContext) {
    user = identity.resolverContext.userId;
    tenant = identity.resolverContext.tenantId;
  }
  if (user) {
    groups.push([{ fieldName: 'ownerId', operator: 'eq', value: user }]);
    if (tenant) {
      groups.push([
        { fieldName: 'tenantId', operator: 'eq', value: tenant },
        { fieldName: 'visibility', operator: 'eq', value: 'tenant' },
      ]);
    }
  }
  extensions.setSubscriptionFilter({ filterGroup: groups.map((group) => ({ filters: group.concat(narrowing) })) });
  return null;
}
