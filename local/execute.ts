import {
  GraphQLError,
  defaultFieldResolver,
  execute,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { EarlyReturn, ResolverError, resolverScope, type ResolverScope } from './appsync-runtime.ts';
import type { Caller } from './auth.ts';
import type { ResolverModule } from './resolvers.ts';

/** A data source as a resolver's request object reaches it; answers like AppSync's ctx.result/ctx.error. */
export type DataSource = (request: unknown) => Promise<{ result: unknown } | { error: { message: string; type: string } }>;

export interface LocalApi {
  readonly schema: GraphQLSchema;
  readonly resolvers: ReadonlyMap<string, ResolverModule>;
  readonly dataSources: Readonly<Record<string, DataSource>>;
  readonly authorize: (caller: Caller, typeName: string, fieldName: string) => boolean;
}

export interface GraphqlRequest {
  readonly query: string;
  readonly variables?: Record<string, unknown> | null;
  readonly operationName?: string | null;
}

export interface AppSyncError {
  readonly path: readonly (string | number)[] | null;
  readonly data: unknown;
  readonly errorType: string;
  readonly errorInfo: unknown;
  readonly locations: readonly { line: number; column: number; sourceName: null }[];
  readonly message: string;
}

interface RequestContext {
  readonly caller: Caller;
  readonly headers: Readonly<Record<string, string>>;
  readonly appended: AppSyncError[];
}

const documents = new Map<string, DocumentNode>();

/** Runs one GraphQL request the way AppSync does, returning `{ data, errors }` in AppSync's error shape. */
export async function executeRequest(api: LocalApi, caller: Caller, request: GraphqlRequest, headers: Readonly<Record<string, string>>): Promise<{ data?: unknown; errors?: AppSyncError[] }> {
  let document = documents.get(request.query);
  if (!document) {
    try {
      document = parse(request.query);
    } catch (error) {
      return { errors: [format(error as GraphQLError, 'ValidationError')] };
    }
    const invalid = validate(api.schema, document);
    if (invalid.length > 0) return { errors: invalid.map((error) => format(error, 'ValidationError')) };
    if (documents.size > 1000) documents.clear();
    documents.set(request.query, document);
  }
  const context: RequestContext = { caller, headers, appended: [] };
  const result = await execute({
    schema: api.schema,
    document,
    variableValues: request.variables ?? {},
    operationName: request.operationName ?? null,
    contextValue: context,
    fieldResolver: fieldResolver(api),
  });
  const errors = [...(result.errors ?? []).map((error) => format(error, result.data === undefined ? 'ValidationError' : 'InternalError')), ...context.appended];
  return { ...(result.data === undefined ? {} : { data: result.data }), ...(errors.length > 0 ? { errors } : {}) };
}

function fieldResolver(api: LocalApi): GraphQLFieldResolver<unknown, RequestContext> {
  return async (source, args, context, info) => {
    if (!api.authorize(context.caller, info.parentType.name, info.fieldName)) {
      throw new GraphQLError(`Not Authorized to access ${info.fieldName} on type ${info.parentType.name}`, { extensions: { errorType: 'Unauthorized' } });
    }
    const resolver = api.resolvers.get(`${info.parentType.name}.${info.fieldName}`);
    if (!resolver) return defaultFieldResolver(source, args, context, info);
    return runResolver(api, resolver, source, args, context, info);
  };
}

async function runResolver(api: LocalApi, resolver: ResolverModule, source: unknown, args: Record<string, unknown>, context: RequestContext, info: GraphQLResolveInfo): Promise<unknown> {
  const copy = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));
  const ctx: Record<string, unknown> = {
    arguments: copy(args),
    args: copy(args),
    identity: copy(context.caller.identity ?? null),
    source: copy(source ?? null),
    request: { headers: { ...context.headers }, domainName: null },
    info: {
      fieldName: info.fieldName,
      parentTypeName: info.parentType.name,
      variables: copy(info.variableValues),
      selectionSetList: selectionSetList(info.fieldNodes, info),
      selectionSetGraphQL: '',
    },
    stash: {},
    prev: { result: {} },
  };
  const scope: ResolverScope = { appended: [] };
  try {
    return await resolverScope.run(scope, async () => {
      let dataSourceRequest: unknown;
      try {
        dataSourceRequest = resolver.request(ctx);
      } catch (error) {
        if (error instanceof EarlyReturn) return error.value;
        throw error;
      }
      const dataSource = api.dataSources[resolver.dataSource];
      if (!dataSource) throw new Error(`${resolver.file}: no data source named ${resolver.dataSource}`);
      const outcome = await dataSource(copy(dataSourceRequest));
      if ('error' in outcome) ctx.error = outcome.error;
      else ctx.result = outcome.result;
      return resolver.response(ctx);
    });
  } catch (error) {
    if (error instanceof ResolverError) {
      throw new GraphQLError(error.message, { extensions: { errorType: error.errorType ?? 'CustomTemplateException', errorInfo: error.errorInfo, data: error.data } });
    }
    throw error;
  } finally {
    const path = pathOf(info);
    for (const appended of scope.appended) {
      context.appended.push({ path, data: appended.data ?? null, errorType: appended.errorType ?? 'CustomTemplateException', errorInfo: appended.errorInfo ?? null, locations: [], message: appended.message });
    }
  }
}

/** AppSync's `info.selectionSetList`: every selected field below this one, as slash-separated paths. */
function selectionSetList(nodes: readonly FieldNode[], info: GraphQLResolveInfo): string[] {
  const out: string[] = [];
  const walk = (set: SelectionSetNode | undefined, prefix: string) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === 'Field') {
        if (selection.name.value === '__typename') continue;
        const path = `${prefix}${selection.name.value}`;
        out.push(path);
        walk(selection.selectionSet, `${path}/`);
      } else if (selection.kind === 'InlineFragment') {
        walk(selection.selectionSet, prefix);
      } else {
        walk(info.fragments[selection.name.value]?.selectionSet, prefix);
      }
    }
  };
  for (const node of nodes) walk(node.selectionSet, '');
  return [...new Set(out)];
}

function pathOf(info: GraphQLResolveInfo): (string | number)[] {
  const path: (string | number)[] = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) path.unshift(p.key);
  return path;
}

function format(error: GraphQLError, fallbackType: string): AppSyncError {
  const extensions = (error.extensions ?? {}) as { errorType?: string; errorInfo?: unknown; data?: unknown };
  const original = error.originalError as (Error & { extensions?: { errorType?: string } }) | undefined;
  const errorType = extensions.errorType ?? (original instanceof GraphQLError ? (original.extensions?.errorType as string | undefined) : undefined) ?? fallbackType;
  return {
    path: error.path ?? null,
    data: extensions.data ?? null,
    errorType,
    errorInfo: extensions.errorInfo ?? null,
    locations: (error.locations ?? []).map((location) => ({ line: location.line, column: location.column, sourceName: null })),
    message: error.message,
  };
}
