import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { isObjectType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthFailure, authenticate, type AuthConfig, type Caller } from './auth.ts';
import { deliverEvent, operationOf, prepareDocument, startSubscription, type AppSyncError, type LocalApi } from './execute.ts';
import { filterProblem, matches, type FilterGroup } from './filters.ts';

/*
 * AppSync's real-time protocol (not Apollo's graphql-transport-ws), on the same host and port as
 * /graphql at /graphql/realtime: subprotocol `graphql-ws`; auth as `?header=<base64>&payload=e30=`,
 * a `header-<base64url>` subprotocol or plain upgrade headers; connection_init → connection_ack with
 * connectionTimeoutMs, `ka` keep-alives, start → start_ack, data, stop → complete, and `error` /
 * `connection_error` frames with AppSync's error types.
 */

export const REALTIME_PATH = '/graphql/realtime';
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
export const MAX_MESSAGE_BYTES = 240 * 1024;

export interface RealtimeOptions {
  readonly keepAliveMs?: number;
  readonly connectionTimeoutMs?: number;
}

interface Subscription {
  readonly id: string;
  readonly connection: Connection;
  readonly caller: Caller;
  readonly document: DocumentNode;
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly field: string;
  readonly mutations: readonly string[];
  readonly filter: FilterGroup | null;
  readonly invalidationFilter: FilterGroup | null;
}

interface Connection {
  readonly socket: WebSocket;
  readonly subscriptions: Map<string, Subscription>;
  /** Frames go out in the order events were published. */
  queue: Promise<void>;
}

type Frame = { type: string; id?: string; payload?: unknown };

export class RealtimeHub {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Every socket from the moment it is accepted, authenticated or not, so close() ends them all. */
  private readonly sockets = new Set<WebSocket>();
  private closed = false;
  private readonly keepAliveMs: number;
  private readonly connectionTimeoutMs: number;

  constructor(
    private readonly api: () => Promise<LocalApi>,
    private readonly auth: AuthConfig,
    options: RealtimeOptions = {},
  ) {
    this.keepAliveMs = options.keepAliveMs ?? 60_000;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 300_000;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 4 * MAX_MESSAGE_BYTES,
      handleProtocols: (protocols) => (protocols.has('graphql-ws') ? 'graphql-ws' : false),
    });
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== REALTIME_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.accept(ws, req).catch((error: unknown) => {
          console.error(error);
          ws.close(1011);
        });
      });
    });
  }

  /** Sends a mutation's result to every subscription that listens to it and whose filter it passes. */
  publish(mutationField: string, value: unknown): void {
    const payload = (value ?? {}) as Record<string, unknown>;
    // One shaping per distinct subscription text, variables and auth mode: 1,000 identical
    // subscribers cost one execution, not 1,000.
    const shaped = new Map<string, Promise<string>>();
    for (const connection of this.connections) {
      for (const subscription of connection.subscriptions.values()) {
        if (!subscription.mutations.includes(mutationField) || !matches(subscription.filter, payload)) continue;
        const key = `${subscription.caller.mode}\u0000${subscription.query}\u0000${JSON.stringify(subscription.variables)}`;
        let result = shaped.get(key);
        if (!result) {
          // Serialised once per shape, then framed per subscriber.
          result = this.api().then(async (api) => JSON.stringify(await deliverEvent(api, subscription.caller, subscription.document, subscription.variables, subscription.field, payload)));
          shaped.set(key, result);
        }
        const ready = result;
        this.enqueue(connection, async () => {
          const body = await ready;
          if (!connection.subscriptions.has(subscription.id) || connection.socket.readyState !== connection.socket.OPEN) return;
          connection.socket.send(`{"type":"data","id":${JSON.stringify(subscription.id)},"payload":${body}}`);
        });
      }
    }
  }

  /** Ends the subscriptions of `subscriptionField` whose invalidation filter the payload passes. */
  invalidate(request: { subscriptionField: string; payload: Record<string, unknown> }): void {
    for (const connection of this.connections) {
      for (const subscription of connection.subscriptions.values()) {
        if (subscription.field !== request.subscriptionField || !subscription.invalidationFilter) continue;
        if (!matches(subscription.invalidationFilter, request.payload)) continue;
        connection.subscriptions.delete(subscription.id);
        this.enqueue(connection, async () => send(connection.socket, { type: 'complete', id: subscription.id }));
      }
    }
  }

  /** Whether any subscription would receive a result of this mutation. */
  listensTo(mutationField: string): boolean {
    for (const connection of this.connections) {
      for (const subscription of connection.subscriptions.values()) if (subscription.mutations.includes(mutationField)) return true;
    }
    return false;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const connection of this.connections) count += connection.subscriptions.size;
    return count;
  }

  /** Drops every client connection (they reconnect); the endpoint stays up. */
  disconnectAll(): void {
    for (const connection of this.connections) connection.socket.terminate();
  }

  close(): void {
    this.closed = true;
    for (const socket of this.sockets) socket.terminate();
    this.disconnectAll();
    this.wss.close();
  }

  private enqueue(connection: Connection, task: () => Promise<void>): void {
    connection.queue = connection.queue.then(task).catch((error: unknown) => console.error(error));
  }

  private async accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    const connection: Connection = { socket: ws, subscriptions: new Map(), queue: Promise.resolve() };
    if (this.closed) return void ws.terminate();
    this.sockets.add(ws);
    // Listen at once: a client may send connection_init before its connection is authenticated,
    // and those messages wait for the answer instead of being lost.
    const authenticated = this.authenticateConnection(req).then(
      () => true,
      (error: unknown) => {
        const message = error instanceof AuthFailure ? error.message : 'You are not authorized to make this call.';
        send(ws, { type: 'connection_error', payload: { errors: [{ errorType: 'UnauthorizedException', errorCode: 401, message }] } });
        ws.close(1000);
        return false;
      },
    );
    const timers: { keepAlive?: NodeJS.Timeout } = {};
    ws.on('close', () => {
      clearInterval(timers.keepAlive);
      this.connections.delete(connection);
      this.sockets.delete(ws);
    });
    // Messages are handled one at a time, in the order they came (a stop never overtakes its start).
    let inbox: Promise<unknown> = authenticated;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const raw = isBinary ? data : Buffer.from(data);
      inbox = inbox
        .then(async () => ((await authenticated) ? this.onMessage(connection, req, raw) : undefined))
        .catch((error: unknown) => console.error(error));
    });
    if (!(await authenticated)) return;
    if (ws.readyState !== ws.OPEN || this.closed) return;
    this.connections.add(connection);
    // The server keeps the process alive, not a client's keep-alive timer.
    timers.keepAlive = setInterval(() => send(ws, { type: 'ka' }), this.keepAliveMs).unref();
  }

  private async onMessage(connection: Connection, req: IncomingMessage, raw: Buffer): Promise<void> {
    const ws = connection.socket;
    let frame: Frame;
    try {
      frame = JSON.parse(raw.toString('utf8')) as Frame;
    } catch {
      send(ws, { type: 'error', payload: { errors: [{ errorType: 'MalformedMessage', message: 'messages are JSON objects with a "type"' }] } });
      return;
    }
    const fail = (errorType: string, message: string) => send(ws, { type: 'error', ...(frame.id ? { id: frame.id } : {}), payload: { errors: [{ errorType, message }] } });
    if (raw.length > MAX_MESSAGE_BYTES) return fail('MaxPayloadSizeExceededError', `a message is at most ${MAX_MESSAGE_BYTES} bytes, got ${raw.length}`);
    switch (frame.type) {
      case 'connection_init':
        send(ws, { type: 'connection_ack', payload: { connectionTimeoutMs: this.connectionTimeoutMs } });
        send(ws, { type: 'ka' });
        return;
      case 'start':
        return this.start(connection, req, frame, fail);
      case 'stop': {
        if (!frame.id || !connection.subscriptions.delete(frame.id)) return fail('UnknownOperationError', `no subscription with id ${JSON.stringify(frame.id)} on this connection`);
        const id = frame.id;
        this.enqueue(connection, async () => send(ws, { type: 'complete', id }));
        return;
      }
      default:
        return fail('UnsupportedOperation', `unknown message type ${JSON.stringify(frame.type)}; send connection_init, start or stop`);
    }
  }

  private async start(connection: Connection, req: IncomingMessage, frame: Frame, fail: (type: string, message: string) => void): Promise<void> {
    const id = frame.id;
    if (typeof id !== 'string' || id === '') return fail('BadRequestException', 'start needs an id');
    if (connection.subscriptions.has(id)) return fail('DuplicatedOperationError', `subscription id ${id} is already in use on this connection`);
    if (connection.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      return fail('MaxSubscriptionsReachedError', `a connection holds at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions`);
    }
    const payload = (frame.payload ?? {}) as { data?: unknown; extensions?: { authorization?: Record<string, string> } };
    let caller: Caller;
    try {
      caller = await this.authenticateHeaders(payload.extensions?.authorization, req);
    } catch (error) {
      return fail('UnauthorizedException', error instanceof AuthFailure ? error.message : 'You are not authorized to make this call.');
    }
    let request: { query?: unknown; variables?: Record<string, unknown>; operationName?: string };
    try {
      request = JSON.parse(String(payload.data)) as typeof request;
    } catch {
      return fail('BadRequestException', 'payload.data must be a JSON string with the query and variables');
    }
    if (typeof request.query !== 'string') return fail('BadRequestException', 'payload.data has no query');
    const api = await this.api();
    const document = prepareDocument(api, request.query);
    if (Array.isArray(document)) return sendErrors(connection.socket, id, document);
    const operation = operationOf(document, request.operationName);
    if (operation?.operation !== 'subscription') {
      return fail('UnsupportedOperation', 'only subscriptions are served on the real-time endpoint; send queries and mutations to POST /graphql');
    }
    const field = operation.selectionSet.selections.find((s) => s.kind === 'Field');
    if (!field || field.kind !== 'Field' || operation.selectionSet.selections.length !== 1) {
      return fail('ValidationError', 'a subscription selects exactly one field');
    }
    const fieldName = field.name.value;
    const variables = request.variables ?? {};
    const started = await startSubscription(api, caller, document, variables, {});
    if (started.errors) return sendErrors(connection.socket, id, started.errors);
    for (const filter of [started.filter, started.invalidationFilter]) {
      const problem = filter === undefined ? null : filterProblem(filter);
      if (problem) return fail('FilterValidationError', problem);
    }
    connection.subscriptions.set(id, {
      id,
      connection,
      caller,
      document,
      query: request.query,
      variables,
      field: fieldName,
      mutations: subscribedMutations(api.schema, fieldName),
      filter: (started.filter as FilterGroup | undefined) ?? null,
      invalidationFilter: (started.invalidationFilter as FilterGroup | undefined) ?? null,
    });
    send(connection.socket, { type: 'start_ack', id });
  }

  /** The connection's auth: from `?header=`, a `header-` subprotocol, or the upgrade request's headers. */
  private authenticateConnection(req: IncomingMessage): Promise<Caller> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const encoded = url.searchParams.get('header');
    if (encoded !== null) return this.authenticateHeaders(decodeHeader(encoded, 'base64'), req);
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const headerProtocol = protocols.find((p) => p.startsWith('header-'));
    if (headerProtocol) return this.authenticateHeaders(decodeHeader(headerProtocol.slice('header-'.length), 'base64url'), req);
    return this.authenticateHeaders(
      Object.fromEntries(Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : []))),
      req,
    );
  }

  private authenticateHeaders(headers: Record<string, string> | undefined, req: IncomingMessage): Promise<Caller> {
    if (!headers || typeof headers !== 'object') return Promise.reject(new AuthFailure('Valid authorization header not provided.'));
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    // AppSync signs the host into the auth header; one for another host is refused.
    if (lower.host !== undefined && lower.host !== req.headers.host) {
      return Promise.reject(new AuthFailure(`the authorization is for host ${lower.host}, not ${String(req.headers.host)}`));
    }
    return authenticate(lower, req.socket.remoteAddress ?? '127.0.0.1', this.auth);
  }
}

/** The mutations a subscription field listens to: its `@aws_subscribe(mutations: [...])`. */
function subscribedMutations(schema: GraphQLSchema, fieldName: string): string[] {
  const type = schema.getSubscriptionType();
  const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
  const directive = field?.astNode?.directives?.find((d) => d.name.value === 'aws_subscribe');
  const argument = directive?.arguments?.find((a) => a.name.value === 'mutations');
  return argument?.value.kind === 'ListValue' ? argument.value.values.flatMap((v) => (v.kind === 'StringValue' ? [v.value] : [])) : [];
}

function decodeHeader(encoded: string, encoding: 'base64' | 'base64url'): Record<string, string> | undefined {
  try {
    return JSON.parse(Buffer.from(encoded, encoding).toString('utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
}

function send(ws: WebSocket, frame: Frame): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

function sendErrors(ws: WebSocket, id: string, errors: readonly AppSyncError[]): void {
  send(ws, { type: 'error', id, payload: { errors: errors.map((e) => ({ errorType: e.errorType, message: e.message })) } });
}
