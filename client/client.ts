import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { Kind, print } from 'graphql';
import type { DocumentNode, OperationDefinitionNode, OperationTypeNode } from 'graphql';
import { GraphQLRequestError, isRecord, toAppSyncError } from './errors.ts';
import type { AppSyncError } from './errors.ts';

/** AppSync's two client modes: the API key (public reads), or a Cognito user pool JWT (raw, no "Bearer"). */
export type ClientAuth = { apiKey: string } | { token: string | (() => string | Promise<string>) };

export interface ClientOptions {
  /** The GraphQL endpoint: AppSync's `…/graphql`, or `http://127.0.0.1:4000/graphql` locally. */
  url: string | URL;
  /** A token function is called before every request, so it can hand out a refreshed JWT. */
  auth: ClientAuth;
  /** Defaults to the global `fetch` (Node 20 and browsers). */
  fetch?: typeof fetch;
}

type Variables = Record<string, unknown>;

/** The variables may be left out when the operation declares none that are required. */
type VariablesArgument<TVariables> = Partial<TVariables> extends TVariables
  ? [variables?: TVariables]
  : [variables: TVariables];

export interface Client {
  /** Sends a query; resolves to its `data`, or rejects with a `GraphQLRequestError`. */
  query<TData, TVariables extends Variables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...variables: VariablesArgument<TVariables>
  ): Promise<TData>;
  /** Sends a mutation; resolves to its `data`, or rejects with a `GraphQLRequestError`. */
  mutate<TData, TVariables extends Variables>(
    document: TypedDocumentNode<TData, TVariables>,
    ...variables: VariablesArgument<TVariables>
  ): Promise<TData>;
}

interface PreparedOperation {
  readonly text: string;
  readonly operationName: string | null;
  readonly operation: OperationTypeNode;
}

// Documents are module constants, so each is printed once per page or process.
const prepared = new WeakMap<DocumentNode, PreparedOperation>();

export function createClient(options: ClientOptions): Client {
  const { url, auth } = options;
  checkAuth(auth);
  // Called as a plain function: browsers refuse a fetch invoked as a method of another object.
  const send = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));

  async function request<TData>(
    expected: 'query' | 'mutation',
    document: DocumentNode,
    variables: Variables | undefined,
  ): Promise<TData> {
    const operation = prepare(document);
    if (operation.operation !== expected) {
      const method = operation.operation === 'mutation' ? 'mutate()' : 'query()';
      throw new TypeError(`${expected === 'query' ? 'query()' : 'mutate()'} was given the ${operation.operation} ${operation.operationName ?? '(anonymous)'}; send it with ${method}.`);
    }
    const response = await send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(await authHeaders(auth)) },
      body: JSON.stringify({ query: operation.text, operationName: operation.operationName, variables: variables ?? {} }),
    });
    const text = await response.text();
    const body = parseJson(text);
    const context = { status: response.status, operationName: operation.operationName };
    if (isRecord(body) && Array.isArray(body.errors) && body.errors.length > 0) {
      const data = isRecord(body.data) ? (body.data as TData) : null;
      throw new GraphQLRequestError<TData>({ errors: body.errors.map(toAppSyncError), data, ...context });
    }
    if (!response.ok || !isRecord(body) || !isRecord(body.data)) {
      throw new GraphQLRequestError<TData>({ errors: [notGraphQL(response, text)], data: null, ...context });
    }
    return body.data as TData;
  }

  return {
    query: (document, ...[variables]) => request('query', document, variables),
    mutate: (document, ...[variables]) => request('mutation', document, variables),
  };
}

function prepare(document: DocumentNode): PreparedOperation {
  const cached = prepared.get(document);
  if (cached) return cached;
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const [operation] = operations;
  if (operations.length !== 1 || !operation) {
    const names = operations.map((o) => o.name?.value ?? '(anonymous)').join(', ');
    throw new TypeError(`A document sent by the client must hold exactly one operation, got ${operations.length}${names ? ` (${names})` : ''}; split it into one document per operation.`);
  }
  const result = { text: print(document), operationName: operation.name?.value ?? null, operation: operation.operation };
  prepared.set(document, result);
  return result;
}

function checkAuth(auth: ClientAuth): void {
  const modes = ['apiKey', 'token'].filter((mode) => mode in auth);
  if (modes.length !== 1) {
    throw new TypeError(`createClient: auth needs exactly one of apiKey or token, got ${modes.length === 0 ? 'neither' : 'both'}.`);
  }
  if ('apiKey' in auth && auth.apiKey === '') {
    throw new TypeError('createClient: auth.apiKey is empty; pass the API key of the AppSync API.');
  }
}

async function authHeaders(auth: ClientAuth): Promise<Record<string, string>> {
  if ('apiKey' in auth) return { 'x-api-key': auth.apiKey };
  const token = typeof auth.token === 'function' ? await auth.token() : auth.token;
  // AppSync reads the raw JWT from Authorization and rejects a "Bearer " prefix as UnauthorizedException.
  if (/^bearer /i.test(token)) {
    throw new TypeError('auth.token starts with "Bearer "; AppSync expects the raw JWT, pass it without the prefix.');
  }
  if (token === '') throw new TypeError('auth.token is empty; pass the Cognito id or access token (a JWT).');
  return { authorization: token };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function notGraphQL(response: Response, text: string): AppSyncError {
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const what = response.ok ? 'a body that is not a GraphQL result' : 'no GraphQL errors in its body';
  return {
    message: `The server answered HTTP ${response.status} ${response.statusText} with ${what}: ${JSON.stringify(excerpt)}`,
    errorType: null,
    errorInfo: null,
    path: null,
    locations: null,
  };
}
