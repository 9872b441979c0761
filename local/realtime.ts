import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { authenticate, type AuthConfig } from './auth.ts';
import { prepareDocument, startSubscription, type LocalApi } from './execute.ts';
import { FanoutPool } from './realtime-fanout.ts';
import { RealtimeShard, type InvalidationRequest, type RealtimeBackend, type RealtimeShardHandle, type ShardOptions, type UpgradeRequest } from './realtime-shard.ts';

export { MAX_MESSAGE_BYTES, MAX_SUBSCRIPTIONS_PER_CONNECTION } from './realtime-shard.ts';

/*
 * AppSync's real-time endpoint, on the same host and port as /graphql at /graphql/realtime. The
 * protocol lives in realtime-shard.ts; this hub decides where each socket is served. Plain
 * connections go to the fan-out child processes (realtime-fanout.ts), so delivering an event to many
 * subscribers never holds up the writers; TLS connections cannot leave the process that holds their
 * TLS session and are served here, by the same shard code.
 */

export const REALTIME_PATH = '/graphql/realtime';

export interface RealtimeOptions extends ShardOptions {
  /** Fan-out child processes for plain (ws://) connections; 0 serves every socket in process. */
  readonly workers?: number;
  readonly schemaDir: string;
  readonly resolversDir: string;
}

export class RealtimeHub {
  /** TLS sockets (and every socket when there are no workers). */
  private readonly local: RealtimeShard;
  private readonly pool: FanoutPool | null;
  private readonly shards: RealtimeShardHandle[];

  constructor(api: () => Promise<LocalApi>, auth: AuthConfig, options: RealtimeOptions) {
    const backend = inProcessBackend(api, auth);
    this.local = new RealtimeShard(backend, options);
    const workers = options.workers ?? 0;
    const { workers: _workers, ...settings } = options;
    this.pool = workers > 0 ? new FanoutPool({ ...settings, workers, backend }) : null;
    this.shards = this.pool ? [this.local, this.pool] : [this.local];
  }

  /** Serves the real-time endpoint on this server's upgrades; `tls` sockets stay in process. */
  attach(server: Server, transport: 'plain' | 'tls' = 'plain'): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== REALTIME_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      const request: UpgradeRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers }, remoteAddress: req.socket.remoteAddress ?? '127.0.0.1' };
      if (this.pool && transport === 'plain') this.pool.handleUpgrade(request, socket, head);
      else this.local.handleUpgrade(request, socket, head);
    });
  }

  /** Starts the fan-out children ahead of the first connection (they start on demand otherwise). */
  async start(): Promise<void> {
    await this.pool?.start();
  }

  /** Sends a mutation's result to every subscription that listens to it and whose filter it passes. */
  publish(mutationField: string, value: unknown): void {
    const payload = (value ?? {}) as Record<string, unknown>;
    for (const shard of this.shards) shard.publish(mutationField, payload);
  }

  /** Ends the subscriptions of `subscriptionField` whose invalidation filter the payload passes. */
  invalidate(request: InvalidationRequest): void {
    for (const shard of this.shards) shard.invalidate(request);
  }

  /** Whether any subscription would receive a result of this mutation. */
  listensTo(mutationField: string): boolean {
    return this.shards.some((shard) => shard.listensTo(mutationField));
  }

  get subscriptionCount(): number {
    return this.shards.reduce((sum, shard) => sum + shard.subscriptionCount, 0);
  }

  /** The fan-out children running now (none before the first plain connection, or with 0 workers). */
  get fanoutPids(): readonly number[] {
    return this.pool?.pids ?? [];
  }

  /** Drops every client connection (they reconnect); the endpoint stays up. */
  disconnectAll(): void {
    for (const shard of this.shards) shard.disconnectAll();
  }

  /** The schema or resolvers were reloaded (dev mode). */
  reloaded(): void {
    this.pool?.reload();
  }

  /** Ends every socket and every fan-out child. */
  async close(): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.close()));
  }
}

/** The backend of the in-process shard, and what the fan-out children's calls run through. */
function inProcessBackend(api: () => Promise<LocalApi>, auth: AuthConfig): RealtimeBackend {
  return {
    api,
    authenticate: (headers, sourceIp, signed) => authenticate(headers, sourceIp, auth, signed),
    async startSubscription(caller, request) {
      const current = await api();
      const document = prepareDocument(current, request.query);
      if (Array.isArray(document)) return { errors: document };
      return startSubscription(current, caller, document, request.variables, {});
    },
    ended: () => Promise.resolve(),
  };
}
