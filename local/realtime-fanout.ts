import { fork, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AuthFailure, type Caller, type SignedRequest } from './auth.ts';
import { operationOf, prepareDocument, type LocalApi } from './execute.ts';
import { subscribedMutations, type InvalidationRequest, type RealtimeBackend, type RealtimeShardHandle, type ShardOptions, type UpgradeRequest } from './realtime-shard.ts';

/*
 * Real-time fan-out in child processes. Node cannot hand a TCP socket to a worker thread, but it
 * can send one to a child process (`subprocess.send(message, socket)`, what `cluster` does): the
 * server's process reads the upgrade request of /graphql/realtime and passes the raw socket to the
 * least-loaded child, which completes the handshake and runs the protocol with the same
 * RealtimeShard as the in-process path. Each published mutation result is one IPC message per
 * child that listens to it, whatever the number of subscribers: filters, shaping and socket writes
 * never run on the event loop that serves POST /graphql.
 *
 * What a child cannot do alone it asks over IPC: authenticating headers (the API key, the token
 * issuer and the app-token authorizer that reads the database live here) and starting a
 * subscription (its resolver may call data sources). Starting registers the subscription here, before
 * the child sends start_ack, so a publish that follows a start_ack is never skipped as unheard.
 */

/** How much nicer than the server the children run (see spawn). */
const FANOUT_NICENESS = 5;

const CHILD_MODULE = fileURLToPath(new URL('./realtime-fanout-child.ts', import.meta.url));

/** What a child is started with (its argv[2], as JSON). */
export interface FanoutChildSettings extends ShardOptions {
  readonly schemaDir: string;
  readonly resolversDir: string;
}

/** Main → child. */
export type ToChild =
  | { type: 'connection'; id: number; request: UpgradeRequest; head: Uint8Array }
  | { type: 'publish'; field: string; payload: Record<string, unknown> }
  | { type: 'invalidate'; request: InvalidationRequest }
  | { type: 'disconnectAll' }
  | { type: 'reload' }
  | { type: 'close' }
  | { type: 'reply'; id: number; value?: unknown; error?: { message: string; auth: boolean } };

/** Child → main. */
export type FromChild =
  | { type: 'ready' }
  | { type: 'received'; id: number }
  | { type: 'closed' }
  | { type: 'call'; id: number; method: 'authenticate'; headers: Record<string, string>; sourceIp: string; signed: SignedRequest }
  | { type: 'call'; id: number; method: 'startSubscription'; caller: Caller; request: { query: string; operationName?: string; variables: Record<string, unknown> } }
  | { type: 'call'; id: number; method: 'ended'; registration: number }
  | { type: 'call'; id: number; method: 'dataSource'; name: string; request: unknown };

interface FanoutChild {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  /** Sockets handed over and not yet closed: the load the next socket is balanced on. */
  connections: number;
  /**
   * Sockets sent and not yet confirmed by the child, by hand-over id. When a child dies with a
   * hand-over unacknowledged, Node (20) neither closes the handle waiting for the acknowledgement
   * nor calls back those queued behind it: their descriptors would stay open here, unread, and
   * their clients would wait for a handshake forever. They are closed when the child exits, and
   * their clients reconnect.
   */
  readonly inFlight: Map<number, { readonly socket: Duplex; readonly handle: { close?: () => void } | undefined }>;
  /** Subscriptions started through this child, by registration, with the mutations they hear. */
  readonly registrations: Map<number, readonly string[]>;
  readonly listening: Map<string, number>;
  exited: boolean;
}

export interface FanoutPoolOptions extends FanoutChildSettings {
  readonly workers: number;
  /** The in-process backend: the calls children make run through it. */
  readonly backend: RealtimeBackend;
}

export class FanoutPool implements RealtimeShardHandle {
  private readonly children: (FanoutChild | undefined)[];
  private registrationSeq = 0;
  private handoverSeq = 0;
  private closed = false;

  constructor(private readonly options: FanoutPoolOptions) {
    this.children = Array.from({ length: options.workers }, () => undefined);
  }

  /** Starts the children now instead of on the first connection (resolves when they are ready). */
  async start(): Promise<void> {
    await Promise.all(this.children.map((_, index) => this.childAt(index).ready));
  }

  /** Hands an upgrade's socket to the least-loaded child (started on first use). */
  handleUpgrade(request: UpgradeRequest, socket: Duplex, head: Buffer): void {
    if (this.closed) return void socket.destroy();
    let index = 0;
    for (let i = 1; i < this.children.length; i += 1) {
      if ((this.children[i]?.connections ?? 0) < (this.children[index]?.connections ?? 0)) index = i;
    }
    const child = this.childAt(index);
    child.connections += 1;
    child.ready.then(
      () => {
        if (socket.destroyed || child.exited) {
          child.connections -= 1;
          return void socket.destroy();
        }
        const id = ++this.handoverSeq;
        const message: ToChild = { type: 'connection', id, request, head: takeOver(socket, head) };
        child.inFlight.set(id, { socket, handle: (socket as { _handle?: { close?: () => void } })._handle });
        // The socket leaves this process for good. Without its `server`, Node does not make the HTTP
        // server track it through the child (server.close() would wait on children long gone); the
        // send takes the handle away and closes it here, and destroying what is left of the socket
        // lets the server count the connection as closed.
        (socket as { server?: unknown }).server = null;
        child.process.send(message, socket as Socket, (error) => {
          if (error) {
            child.inFlight.delete(id);
            child.connections -= 1;
          }
          socket.destroy();
        });
      },
      () => {
        child.connections -= 1;
        socket.destroy();
      },
    );
  }

  publish(mutationField: string, payload: Record<string, unknown>): void {
    for (const child of this.children) if (child && (child.listening.get(mutationField) ?? 0) > 0) this.post(child, { type: 'publish', field: mutationField, payload });
  }

  invalidate(request: InvalidationRequest): void {
    for (const child of this.children) if (child && child.registrations.size > 0) this.post(child, { type: 'invalidate', request });
  }

  listensTo(mutationField: string): boolean {
    return this.children.some((child) => (child?.listening.get(mutationField) ?? 0) > 0);
  }

  get subscriptionCount(): number {
    return this.children.reduce((sum, child) => sum + (child?.registrations.size ?? 0), 0);
  }

  /** The running children's process ids. */
  get pids(): number[] {
    return this.children.flatMap((child) => (child && !child.exited && child.process.pid !== undefined ? [child.process.pid] : []));
  }

  disconnectAll(): void {
    for (const child of this.children) if (child) this.post(child, { type: 'disconnectAll' });
  }

  /** The schema or resolvers changed (dev mode): children reload theirs. */
  reload(): void {
    for (const child of this.children) if (child) this.post(child, { type: 'reload' });
  }

  /** Ends every child: it drops its sockets and exits; resolves when all have exited. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.children.map(async (child) => {
        if (!child || child.exited) return;
        const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
        this.post(child, { type: 'close' });
        // A child that does not answer (stuck, or not started yet) is killed rather than waited for.
        const timer = setTimeout(() => child.process.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private post(child: FanoutChild, message: ToChild): void {
    if (child.exited || !child.process.connected) return;
    child.process.send(message, (error: Error | null) => {
      if (error && !child.exited) console.error(`fan-out child ${child.process.pid}: ${error.message}`);
    });
  }

  private childAt(index: number): FanoutChild {
    const existing = this.children[index];
    if (existing && !existing.exited) return existing;
    const child = this.spawn();
    this.children[index] = child;
    return child;
  }

  private spawn(): FanoutChild {
    const { workers: _workers, backend: _backend, ...settings } = this.options;
    const process_ = fork(CHILD_MODULE, [JSON.stringify(settings satisfies FanoutChildSettings)], {
      execArgv: childExecArgv(),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let readyResolve!: () => void;
    let readyReject!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    ready.catch(() => undefined);
    const child: FanoutChild = { process: process_, ready, connections: 0, inFlight: new Map(), registrations: new Map(), listening: new Map(), exited: false };
    process_.on('message', (message: FromChild) => {
      if (message.type === 'ready') return readyResolve();
      if (message.type === 'received') return void child.inFlight.delete(message.id);
      if (message.type === 'closed') return void (child.connections -= 1);
      this.answer(child, message).catch((error: unknown) => console.error(error));
    });
    process_.once('exit', (code, signal) => {
      child.exited = true;
      for (const { socket, handle } of child.inFlight.values()) {
        socket.destroy();
        handle?.close?.();
      }
      child.inFlight.clear();
      child.registrations.clear();
      child.listening.clear();
      readyReject(new Error(`the fan-out child exited before it was ready (code ${code}, signal ${signal})`));
      if (!this.closed) console.error(`fan-out child ${process_.pid} exited (code ${code}, signal ${signal}); its subscribers reconnect to a new one`);
    });
    // Below the server's priority: when the cores are busy, the writers keep their rate and the
    // deliveries wait (an event is late, never lost), not the other way round.
    if (process_.pid !== undefined) {
      try {
        setPriority(process_.pid, Math.min(19, getPriority() + FANOUT_NICENESS));
      } catch {
        // not allowed here (some containers): the children run at the server's priority
      }
    }
    // The children never keep the server's process alive; close() ends them, and they exit when it does.
    process_.unref();
    (process_.channel as { unref?: () => void } | undefined)?.unref?.();
    return child;
  }

  private async answer(child: FanoutChild, call: Extract<FromChild, { type: 'call' }>): Promise<void> {
    const reply = (fields: { value?: unknown; error?: { message: string; auth: boolean } }) => this.post(child, { type: 'reply', id: call.id, ...fields });
    try {
      const backend = this.options.backend;
      switch (call.method) {
        case 'authenticate':
          return reply({ value: await backend.authenticate(call.headers, call.sourceIp, call.signed) });
        case 'startSubscription': {
          const started = await backend.startSubscription(call.caller, call.request);
          if (started.errors || child.exited) return reply({ value: started });
          const registration = ++this.registrationSeq;
          const mutations = mutationsOf(await backend.api(), call.request);
          child.registrations.set(registration, mutations);
          for (const mutation of mutations) child.listening.set(mutation, (child.listening.get(mutation) ?? 0) + 1);
          return reply({ value: { ...started, registration } });
        }
        case 'ended': {
          const mutations = child.registrations.get(call.registration) ?? [];
          child.registrations.delete(call.registration);
          for (const mutation of mutations) child.listening.set(mutation, (child.listening.get(mutation) ?? 1) - 1);
          return reply({});
        }
        case 'dataSource': {
          const dataSource = (await backend.api()).dataSources[call.name];
          if (!dataSource) throw new Error(`no data source named ${call.name}`);
          return reply({ value: await dataSource(call.request) });
        }
      }
    } catch (error) {
      reply({ error: { message: error instanceof Error ? error.message : String(error), auth: error instanceof AuthFailure } });
    }
  }
}

/**
 * Stops this process reading the socket before its handle leaves: until the child's acknowledgement
 * closes it here, this process would otherwise go on reading the descriptor and drop what it read,
 * such as the connection_init a client sends right behind the handshake (Node's docs advise
 * `pauseOnConnect` for the same reason; an upgraded HTTP socket has been reading already). Bytes
 * already read here travel with `head`.
 */
function takeOver(socket: Duplex, head: Buffer): Buffer {
  const chunks: Buffer[] = [head];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) chunks.push(chunk);
  (socket as unknown as { _handle?: { readStop?: () => number } })._handle?.readStop?.();
  return chunks.length === 1 ? head : Buffer.concat(chunks);
}

function mutationsOf(api: LocalApi, request: { query: string; operationName?: string }): string[] {
  const document = prepareDocument(api, request.query);
  if (Array.isArray(document)) return [];
  const field = operationOf(document, request.operationName)?.selectionSet.selections.find((s) => s.kind === 'Field');
  return field?.kind === 'Field' ? subscribedMutations(api.schema, field.name.value) : [];
}

/**
 * The parent's Node flags, so the child loads TypeScript the same way (tsx's CLI, vitest), plus
 * tsx's loader when the parent registered it through the API instead of a flag (the CLI does).
 * Debugger and profiler flags stay with the parent: a child would fight for the port or the file.
 */
function childExecArgv(): string[] {
  const inherited = process.execArgv.filter((arg) => !/^--(inspect|cpu-prof|heap-prof|prof)/.test(arg));
  return inherited.some((arg) => arg.includes('tsx')) ? inherited : [...inherited, '--import', 'tsx'];
}
