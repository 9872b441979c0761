import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isObjectType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthFailure, type Caller, type SignedRequest } from './auth.ts';
import { deliverEvent, operationOf, prepareDocument, type AppSyncError, type LocalApi } from './execute.ts';
import { filterProblem, matches, type FilterGroup } from './filters.ts';

/*
 * One shard of AppSync's real-time endpoint: the protocol (not Apollo's graphql-transport-ws) for
 * the sockets it was handed. Subprotocol `graphql-ws`; auth as `?header=<base64>&payload=e30=`, a
 * `header-<base64url>` subprotocol or plain upgrade headers; connection_init → connection_ack with
 * connectionTimeoutMs, `ka` keep-alives, start → start_ack, data, stop → complete, and `error` /
 * `connection_error` frames with AppSync's error types.
 *
 * The same class runs in the server's process (TLS sockets, or every socket when fan-out workers
 * are off) and in each fan-out child process; what only the server's process can do (check a token
 * against the database, run a subscription's resolver) goes through a RealtimeBackend.
 */

export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
export const MAX_MESSAGE_BYTES = 240 * 1024;
/** Default for maxBufferedBytes: what a subscriber may leave unread before it is disconnected. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Default for coalesceMs (LOGLINEOS_REALTIME_COALESCE_MS): off; docs/performance.md measures 10 and 25 ms. */
export const DEFAULT_COALESCE_MS = 0;

/** What a shard needs of the HTTP upgrade request; plain data, so it can cross to a child process. */
export interface UpgradeRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string;
}

export interface StartedSubscription {
  readonly filter?: unknown;
  readonly invalidationFilter?: unknown;
  readonly errors?: AppSyncError[];
  /** Set by a backend that counts subscriptions elsewhere: handed back to ended(). */
  readonly registration?: number;
}

/** What only the process that owns the API can do for a shard. */
export interface RealtimeBackend {
  /** The schema (and resolvers) events are shaped with. */
  api(): Promise<LocalApi>;
  /**
   * Resolves the caller of these (lower-cased) auth headers; rejects with AuthFailure. `signed` is the
   * request an IAM (SigV4) header must have signed.
   */
  authenticate(headers: Readonly<Record<string, string>>, sourceIp: string, signed: SignedRequest): Promise<Caller>;
  /** Runs the subscription's resolver (AppSync does on `start`) and returns the filters it set. */
  startSubscription(caller: Caller, request: { query: string; operationName?: string; variables: Record<string, unknown> }): Promise<StartedSubscription>;
  /** A subscription that startSubscription registered has ended (stop, invalidation, disconnect). */
  ended(registration: number): Promise<void>;
}

/** What the server's process sees of a shard, wherever its sockets are served. */
export interface RealtimeShardHandle {
  publish(mutationField: string, payload: Record<string, unknown>): void;
  invalidate(request: InvalidationRequest): void;
  listensTo(mutationField: string): boolean;
  readonly subscriptionCount: number;
  disconnectAll(): void;
  close(): Promise<void>;
}

export interface InvalidationRequest {
  readonly subscriptionField: string;
  readonly payload: Record<string, unknown>;
}

export interface ShardOptions {
  readonly keepAliveMs?: number;
  readonly connectionTimeoutMs?: number;
  /** Bytes a subscriber may leave unread (socket buffer plus ws queue) before it is disconnected. */
  readonly maxBufferedBytes?: number;
  /**
   * How long an event may wait for the next ones, so that each socket gets one write for several
   * events (a write to a socket costs the fan-out and the subscriber a few µs each, whatever it
   * carries). 0 sends each event as soon as it is shaped.
   */
  readonly coalesceMs?: number;
}

interface Subscription {
  readonly id: string;
  readonly connection: Connection;
  readonly caller: Caller;
  readonly document: DocumentNode;
  readonly variables: Record<string, unknown>;
  readonly field: string;
  readonly mutations: readonly string[];
  readonly filter: FilterGroup | null;
  readonly invalidationFilter: FilterGroup | null;
  /** Subscribers with the same key receive the same shaped event (one execution for all of them). */
  readonly shapeKey: string;
  /** `{"type":"data","id":"<id>","payload":` as bytes, built once. */
  readonly framePrefix: Buffer;
  readonly registration: number | undefined;
}

interface Connection {
  readonly socket: WebSocket;
  /** The TCP (or TLS) socket under the WebSocket, corked while a batch of frames is written. */
  readonly raw: Duplex;
  readonly request: UpgradeRequest;
  readonly subscriptions: Map<string, Subscription>;
  /** Set when the subscriber fell too far behind: nothing more is written but the error frame. */
  dropped: boolean;
}

type Frame = { type: string; id?: string; payload?: unknown };

type QueueItem = { kind: 'publish'; field: string; payload: Record<string, unknown> } | { kind: 'invalidate'; request: InvalidationRequest };

interface DeliveryPlan {
  readonly kind: 'deliver';
  readonly targets: readonly Subscription[];
  readonly shapes: ReadonlyMap<string, Promise<Buffer>>;
  readonly bodies: Map<string, Buffer>;
}

const FRAME_END = Buffer.from('}');

/*
 * What an IAM caller signs, as on AppSync: the connection's header is a SigV4 signature of a POST of
 * `{}` to <graphql endpoint>/connect, and each start's authorization one of a POST of the start's
 * `data` string to the GraphQL endpoint itself. Anything else signed (another body, another path)
 * does not verify.
 */
const GRAPHQL_PATH = '/graphql';
const SIGNED_CONNECT: SignedRequest = { method: 'POST', path: `${GRAPHQL_PATH}/connect`, body: '{}' };
const signedStart = (data: string): SignedRequest => ({ method: 'POST', path: GRAPHQL_PATH, body: data });

export class RealtimeShard implements RealtimeShardHandle {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Every socket from the moment it is accepted, authenticated or not, so close() ends them all. */
  private readonly sockets = new Set<WebSocket>();
  /** Subscriptions by the mutation they listen to: a publish looks at its listeners only. */
  private readonly listeners = new Map<string, Set<Subscription>>();
  private subscriptions = 0;
  /** Publishes and invalidations, delivered one after another so every socket sees publish order. */
  private readonly queue: QueueItem[] = [];
  private flushing = false;
  private closed = false;
  private readonly keepAliveMs: number;
  private readonly connectionTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly coalesceMs: number;

  constructor(
    private readonly backend: RealtimeBackend,
    options: ShardOptions = {},
  ) {
    this.keepAliveMs = options.keepAliveMs ?? 60_000;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 300_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.coalesceMs = options.coalesceMs ?? 0;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 4 * MAX_MESSAGE_BYTES,
      handleProtocols: (protocols) => (protocols.has('graphql-ws') ? 'graphql-ws' : false),
    });
  }

  /** Completes the WebSocket handshake on a socket whose upgrade request was already read. */
  handleUpgrade(request: UpgradeRequest, socket: Duplex, head: Buffer): void {
    if (this.closed) return void socket.destroy();
    // ws reads only method and headers of the request; the socket is the one it was given.
    const req = { method: request.method, url: request.url, headers: request.headers, socket } as unknown as IncomingMessage;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.accept(ws, socket, request).catch((error: unknown) => {
        console.error(error);
        ws.close(1011);
      });
    });
  }

  publish(mutationField: string, payload: Record<string, unknown>): void {
    if (!this.listeners.get(mutationField)?.size) return;
    this.enqueue({ kind: 'publish', field: mutationField, payload });
  }

  /** Ends the subscriptions of `subscriptionField` whose invalidation filter the payload passes. */
  invalidate(request: InvalidationRequest): void {
    this.enqueue({ kind: 'invalidate', request });
  }

  listensTo(mutationField: string): boolean {
    return (this.listeners.get(mutationField)?.size ?? 0) > 0;
  }

  get subscriptionCount(): number {
    return this.subscriptions;
  }

  /** Drops every client connection (they reconnect); the endpoint stays up. */
  disconnectAll(): void {
    for (const connection of this.connections) connection.socket.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const socket of this.sockets) socket.terminate();
    this.disconnectAll();
    this.wss.close();
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    if (this.flushing) return;
    this.flushing = true;
    const start = (): void => {
      this.flush()
        .catch((error: unknown) => console.error(error))
        .finally(() => {
          this.flushing = false;
        });
    };
    if (this.coalesceMs > 0) setTimeout(start, this.coalesceMs);
    else start();
  }

  /**
   * Delivers what was published, in order, in batches: whatever queued up while the previous batch
   * was shaped goes out together, each socket corked meanwhile, so a busy publisher costs one write
   * per socket per batch instead of one per event. An idle one still gets each event at once.
   */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      const api = await this.backend.api();
      const plans = batch.map((item) => (item.kind === 'publish' ? this.plan(api, item.field, item.payload) : item));
      for (const plan of plans) if (plan.kind === 'deliver') for (const [key, body] of plan.shapes) plan.bodies.set(key, await body);
      const corked = new Set<Duplex>();
      for (const plan of plans) {
        if (plan.kind === 'invalidate') this.invalidateNow(plan.request);
        else this.writePlan(plan, corked);
      }
      for (const raw of corked) raw.uncork();
    }
  }

  /**
   * Who gets one event (listening, filter passed) and its shapes: one execution and one
   * serialisation per distinct (auth, query, variables), shared by every subscriber of that shape.
   */
  private plan(api: LocalApi, mutationField: string, payload: Record<string, unknown>): DeliveryPlan {
    const targets: Subscription[] = [];
    const shapes = new Map<string, Promise<Buffer>>();
    for (const subscription of this.listeners.get(mutationField) ?? []) {
      if (subscription.connection.dropped || !matches(subscription.filter, payload)) continue;
      targets.push(subscription);
      if (!shapes.has(subscription.shapeKey)) {
        shapes.set(
          subscription.shapeKey,
          deliverEvent(api, subscription.caller, subscription.document, subscription.variables, subscription.field, payload).then((shaped) => Buffer.from(JSON.stringify(shaped))),
        );
      }
    }
    return { kind: 'deliver', targets, shapes, bodies: new Map() };
  }

  /** Pre-built frames: the shared body between the subscription's own prefix and a closing brace. */
  private writePlan(plan: DeliveryPlan, corked: Set<Duplex>): void {
    // Subscribers that share an id (clients often number from 1) share the frame's bytes too.
    const frames = new Map<Buffer, Map<string, Buffer>>();
    for (const subscription of plan.targets) {
      const connection = subscription.connection;
      if (connection.dropped || connection.subscriptions.get(subscription.id) !== subscription) continue;
      const body = plan.bodies.get(subscription.shapeKey) as Buffer;
      let byId = frames.get(body);
      if (!byId) frames.set(body, (byId = new Map()));
      let frame = byId.get(subscription.id);
      if (!frame) byId.set(subscription.id, (frame = Buffer.concat([subscription.framePrefix, body, FRAME_END])));
      if (!corked.has(connection.raw)) {
        connection.raw.cork();
        corked.add(connection.raw);
      }
      this.write(connection, frame);
    }
  }

  private invalidateNow(request: InvalidationRequest): void {
    for (const connection of this.connections) {
      for (const subscription of connection.subscriptions.values()) {
        if (subscription.field !== request.subscriptionField || !subscription.invalidationFilter) continue;
        if (!matches(subscription.invalidationFilter, request.payload)) continue;
        this.end(subscription, true);
      }
    }
  }

  /** Writes a data frame, or disconnects a subscriber that leaves too much unread. */
  private write(connection: Connection, frame: Buffer): void {
    const ws = connection.socket;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount + frame.length > this.maxBufferedBytes) return this.drop(connection);
    ws.send(frame, { binary: false });
  }

  /**
   * A subscriber that does not read would hold memory without bound and, served in process, the
   * writers with it: it loses its subscriptions and gets one error frame (behind what it has not
   * read yet), then a close; ws destroys the socket if the close handshake never completes.
   */
  private drop(connection: Connection): void {
    connection.dropped = true;
    for (const subscription of [...connection.subscriptions.values()]) this.end(subscription, false);
    send(connection.socket, {
      type: 'error',
      payload: { errors: [{ errorType: 'LimitExceededError', message: `the subscriber left more than ${this.maxBufferedBytes} bytes unread; it was disconnected and may reconnect and resume` }] },
    });
    connection.socket.close(1008, 'subscriber too slow');
  }

  /** Removes a subscription everywhere; `complete` (if asked) goes out once the backend knows. */
  private end(subscription: Subscription, complete: boolean): void {
    const connection = subscription.connection;
    if (connection.subscriptions.get(subscription.id) !== subscription) return;
    connection.subscriptions.delete(subscription.id);
    this.subscriptions -= 1;
    for (const mutation of subscription.mutations) this.listeners.get(mutation)?.delete(subscription);
    const ended = subscription.registration === undefined ? Promise.resolve() : this.backend.ended(subscription.registration);
    void ended
      .catch((error: unknown) => console.error(error))
      .then(() => {
        if (complete) send(connection.socket, { type: 'complete', id: subscription.id });
      });
  }

  private add(subscription: Subscription): void {
    subscription.connection.subscriptions.set(subscription.id, subscription);
    this.subscriptions += 1;
    for (const mutation of subscription.mutations) {
      let set = this.listeners.get(mutation);
      if (!set) this.listeners.set(mutation, (set = new Set()));
      set.add(subscription);
    }
  }

  private async accept(ws: WebSocket, raw: Duplex, request: UpgradeRequest): Promise<void> {
    const connection: Connection = { socket: ws, raw, request, subscriptions: new Map(), dropped: false };
    if (this.closed) return void ws.terminate();
    this.sockets.add(ws);
    // Listen at once: a client may send connection_init before its connection is authenticated,
    // and those messages wait for the answer instead of being lost.
    const authenticated = this.authenticateConnection(request).then(
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
      for (const subscription of [...connection.subscriptions.values()]) this.end(subscription, false);
    });
    // Messages are handled one at a time, in the order they came (a stop never overtakes its start).
    let inbox: Promise<unknown> = authenticated;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const raw = isBinary ? data : Buffer.from(data);
      inbox = inbox
        .then(async () => ((await authenticated) && !connection.dropped ? this.onMessage(connection, raw) : undefined))
        .catch((error: unknown) => console.error(error));
    });
    if (!(await authenticated)) return;
    if (ws.readyState !== ws.OPEN || this.closed) return;
    this.connections.add(connection);
    // The server keeps the process alive, not a client's keep-alive timer.
    timers.keepAlive = setInterval(() => send(ws, { type: 'ka' }), this.keepAliveMs).unref();
  }

  private async onMessage(connection: Connection, raw: Buffer): Promise<void> {
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
        return this.start(connection, frame, fail);
      case 'stop': {
        const subscription = frame.id ? connection.subscriptions.get(frame.id) : undefined;
        if (!subscription) return fail('UnknownOperationError', `no subscription with id ${JSON.stringify(frame.id)} on this connection`);
        this.end(subscription, true);
        return;
      }
      default:
        return fail('UnsupportedOperation', `unknown message type ${JSON.stringify(frame.type)}; send connection_init, start or stop`);
    }
  }

  private async start(connection: Connection, frame: Frame, fail: (type: string, message: string) => void): Promise<void> {
    const id = frame.id;
    if (typeof id !== 'string' || id === '') return fail('BadRequestException', 'start needs an id');
    if (connection.subscriptions.has(id)) return fail('DuplicatedOperationError', `subscription id ${id} is already in use on this connection`);
    if (connection.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      return fail('MaxSubscriptionsReachedError', `a connection holds at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions`);
    }
    const payload = (frame.payload ?? {}) as { data?: unknown; extensions?: { authorization?: Record<string, string> } };
    let caller: Caller;
    try {
      caller = await this.authenticateHeaders(payload.extensions?.authorization, connection.request, signedStart(typeof payload.data === 'string' ? payload.data : ''));
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
    const api = await this.backend.api();
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
    const variables = request.variables ?? {};
    const started = await this.backend.startSubscription(caller, { query: request.query, ...(request.operationName ? { operationName: request.operationName } : {}), variables });
    if (started.errors) return sendErrors(connection.socket, id, started.errors);
    const registration = started.registration;
    const refuse = (send: () => void) => {
      if (registration !== undefined) this.backend.ended(registration).catch((error: unknown) => console.error(error));
      send();
    };
    for (const filter of [started.filter, started.invalidationFilter]) {
      const problem = filter === undefined ? null : filterProblem(filter);
      if (problem) return refuse(() => fail('FilterValidationError', problem));
    }
    if (connection.subscriptions.has(id) || connection.socket.readyState !== connection.socket.OPEN || connection.dropped) {
      return refuse(() => fail('DuplicatedOperationError', `subscription id ${id} is already in use on this connection`));
    }
    this.add({
      id,
      connection,
      caller,
      document,
      variables,
      field: field.name.value,
      mutations: subscribedMutations(api.schema, field.name.value),
      filter: (started.filter as FilterGroup | undefined) ?? null,
      invalidationFilter: (started.invalidationFilter as FilterGroup | undefined) ?? null,
      shapeKey: shapeKey(caller, request.query, variables),
      framePrefix: Buffer.from(`{"type":"data","id":${JSON.stringify(id)},"payload":`),
      registration,
    });
    send(connection.socket, { type: 'start_ack', id });
  }

  /** The connection's auth: from `?header=`, a `header-` subprotocol, or the upgrade request's headers. */
  private authenticateConnection(request: UpgradeRequest): Promise<Caller> {
    const url = new URL(request.url, 'http://localhost');
    const encoded = url.searchParams.get('header');
    if (encoded !== null) return this.authenticateHeaders(decodeHeader(encoded, 'base64'), request, SIGNED_CONNECT);
    const protocols = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const headerProtocol = protocols.find((p) => p.startsWith('header-'));
    if (headerProtocol) return this.authenticateHeaders(decodeHeader(headerProtocol.slice('header-'.length), 'base64url'), request, SIGNED_CONNECT);
    return this.authenticateHeaders(
      Object.fromEntries(Object.entries(request.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : []))),
      request,
      SIGNED_CONNECT,
    );
  }

  private authenticateHeaders(headers: Record<string, string> | undefined, request: UpgradeRequest, signed: SignedRequest): Promise<Caller> {
    if (!headers || typeof headers !== 'object') return Promise.reject(new AuthFailure('Valid authorization header not provided.'));
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    // AppSync signs the host into the auth header; one for another host is refused.
    if (lower.host !== undefined && lower.host !== request.headers.host) {
      return Promise.reject(new AuthFailure(`the authorization is for host ${lower.host}, not ${String(request.headers.host)}`));
    }
    return this.backend.authenticate(lower, request.remoteAddress, signed);
  }
}

/**
 * What an event's shape depends on besides the query and variables: the auth mode, and for the
 * field-level rules the caller's groups (user pools) and denied fields (Lambda authorizer).
 */
function shapeKey(caller: Caller, query: string, variables: Record<string, unknown>): string {
  const identity = caller.identity as { groups?: unknown } | null;
  const groups = identity && Array.isArray(identity.groups) ? [...(identity.groups as string[])].sort().join(',') : '';
  const denied = caller.deniedFields ? [...caller.deniedFields].sort().join(',') : '';
  return `${caller.mode}\u0000${groups}\u0000${denied}\u0000${query}\u0000${JSON.stringify(variables)}`;
}

/** The mutations a subscription field listens to: its `@aws_subscribe(mutations: [...])`. */
export function subscribedMutations(schema: GraphQLSchema, fieldName: string): string[] {
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
