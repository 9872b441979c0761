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
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { EarlyReturn, ResolverError, inResolverScope, type ResolverScope } from './appsync-runtime.ts';
import type { Caller } from './auth.ts';
import { jsonCopy as copy } from './json-copy.ts';
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
  readonly invalidations: { subscriptionField: string; payload: Record<string, unknown> }[];
  /** Set while a subscription starts: what its response handler asked for. */
  subscription?: { filter?: unknown; invalidationFilter?: unknown };
  /** Set while an event is delivered: root fields come from the published payload, not resolvers. */
  readonly event?: boolean;
}

export interface ExecutionOutcome {
  readonly body: { data?: unknown; errors?: AppSyncError[] };
  /** For a mutation: each root field's result, for the subscriptions that listen to it. */
  readonly mutationResults: readonly { field: string; value: unknown }[];
  readonly invalidations: readonly { subscriptionField: string; payload: Record<string, unknown> }[];
}

const documents = new Map<string, DocumentNode>();

/** Parses and validates a request's document (cached by text); errors come back in AppSync's shape. */
export function prepareDocument(api: LocalApi, query: string): DocumentNode | AppSyncError[] {
  let document = documents.get(query);
  if (!document) {
    try {
      document = parse(query);
    } catch (error) {
      return [format(error as GraphQLError, 'ValidationError')];
    }
    const invalid = validate(api.schema, document);
    if (invalid.length > 0) return invalid.map((error) => format(error, 'ValidationError'));
    if (documents.size > 1000) documents.clear();
    documents.set(query, document);
  }
  return document;
}

export function operationOf(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  return operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
}

/** Runs one GraphQL query or mutation the way AppSync does, with AppSync's error shape. */
export async function executeRequest(api: LocalApi, caller: Caller, request: GraphqlRequest, headers: Readonly<Record<string, string>>): Promise<ExecutionOutcome> {
  const none = { mutationResults: [], invalidations: [] };
  const document = prepareDocument(api, request.query);
  if (Array.isArray(document)) return { body: { errors: document }, ...none };
  const operation = operationOf(document, request.operationName);
  if (operation?.operation === 'subscription') {
    return { body: { errors: [{ path: null, data: null, errorType: 'UnsupportedOperation', errorInfo: null, locations: [], message: 'Subscriptions are served over the real-time endpoint (/graphql/realtime), not over HTTP.' }] }, ...none };
  }
  const context: RequestContext = { caller, headers, appended: [], invalidations: [] };
  const result = await execute({
    schema: api.schema,
    document,
    variableValues: request.variables ?? {},
    operationName: request.operationName ?? null,
    contextValue: context,
    fieldResolver: fieldResolver(api),
  });
  const errors = [...(result.errors ?? []).map((error) => format(error, result.data === undefined ? 'ValidationError' : 'InternalError')), ...context.appended];
  const data = result.data as Record<string, unknown> | null | undefined;
  const mutationResults =
    operation?.operation === 'mutation' && data
      ? operation.selectionSet.selections.flatMap((selection) => {
          if (selection.kind !== 'Field') return [];
          const value = data[selection.alias?.value ?? selection.name.value];
          return value === null || value === undefined ? [] : [{ field: selection.name.value, value }];
        })
      : [];
  return {
    body: { ...(result.data === undefined ? {} : { data: result.data }), ...(errors.length > 0 ? { errors } : {}) },
    mutationResults,
    invalidations: context.invalidations,
  };
}

/**
 * Starts a subscription: runs its resolver once (AppSync does this on `start`) and returns the
 * filters its response handler set. Throws the resolver's error as a GraphQLError.
 */
export async function startSubscription(api: LocalApi, caller: Caller, document: DocumentNode, variables: Record<string, unknown>, headers: Readonly<Record<string, string>>): Promise<{ filter?: unknown; invalidationFilter?: unknown; errors?: AppSyncError[] }> {
  const context: RequestContext = { caller, headers, appended: [], invalidations: [], subscription: {} };
  const result = await execute({ schema: api.schema, document, variableValues: variables, contextValue: context, fieldResolver: fieldResolver(api) });
  if (result.errors?.length) return { errors: result.errors.map((error) => format(error, result.data === undefined ? 'ValidationError' : 'InternalError')) };
  return { ...context.subscription };
}

/** Shapes one published payload for one subscriber: their selection, their auth rules, nothing else. */
export async function deliverEvent(api: LocalApi, caller: Caller, document: DocumentNode, variables: Record<string, unknown>, field: string, payload: unknown): Promise<{ data?: unknown; errors?: AppSyncError[] }> {
  const context: RequestContext = { caller, headers: {}, appended: [], invalidations: [], event: true };
  const result = await execute({ schema: api.schema, document, rootValue: { [field]: payload }, variableValues: variables, contextValue: context, fieldResolver: fieldResolver(api) });
  const errors = (result.errors ?? []).map((error) => format(error, 'InternalError'));
  return { ...(result.data === undefined ? {} : { data: result.data }), ...(errors.length > 0 ? { errors } : {}) };
}

function fieldResolver(api: LocalApi): GraphQLFieldResolver<unknown, RequestContext> {
  return async (source, args, context, info) => {
    if (!api.authorize(context.caller, info.parentType.name, info.fieldName)) {
      throw new GraphQLError(`Not Authorized to access ${info.fieldName} on type ${info.parentType.name}`, { extensions: { errorType: 'Unauthorized' } });
    }
    const resolver = context.event && info.parentType.name === 'Subscription' ? undefined : api.resolvers.get(`${info.parentType.name}.${info.fieldName}`);
    if (!resolver) return defaultFieldResolver(source, args, context, info);
    return runResolver(api, resolver, source, args, context, info);
  };
}

async function runResolver(api: LocalApi, resolver: ResolverModule, source: unknown, args: Record<string, unknown>, context: RequestContext, info: GraphQLResolveInfo): Promise<unknown> {
  const argumentsCopy = copy(args);
  const ctx: Record<string, unknown> = {
    arguments: argumentsCopy,
    args: argumentsCopy,
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
  const scope: ResolverScope = { appended: [], ...(info.parentType.name === 'Mutation' ? { invalidations: [] } : {}) };
  try {
    let dataSourceRequest: unknown;
    try {
      dataSourceRequest = inResolverScope(scope, () => resolver.request(ctx));
    } catch (error) {
      if (error instanceof EarlyReturn) return error.value;
      throw error;
    }
    const dataSource = api.dataSources[resolver.dataSource];
    if (!dataSource) throw new Error(`${resolver.file}: no data source named ${resolver.dataSource}`);
    const outcome = await dataSource(dataSourceRequest);
    if ('error' in outcome) ctx.error = outcome.error;
    else ctx.result = outcome.result;
    return inResolverScope(scope, () => resolver.response(ctx));
  } catch (error) {
    if (error instanceof ResolverError) {
      throw new GraphQLError(error.message, { extensions: { errorType: error.errorType ?? 'CustomTemplateException', errorInfo: error.errorInfo, data: error.data } });
    }
    throw error;
  } finally {
    if (context.subscription) {
      context.subscription.filter = scope.subscriptionFilter;
      context.subscription.invalidationFilter = scope.invalidationFilter;
    }
    context.invalidations.push(...(scope.invalidations ?? []));
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
