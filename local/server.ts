import { randomBytes, randomUUID } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHandler, type Services } from '../functions/api/handler.ts';
import { DATA_SOURCES } from '../functions/api/data-sources.ts';
import { PUBLISH_SPAN_MUTATION } from '../functions/commons/appsync-publisher.ts';
import type { SpanPublisher } from '../functions/commons/publisher.ts';
import type { Ledger } from '../functions/ledger/index.ts';
import { AuthFailure, authenticate, createAuthorizer, type AuthConfig, type Caller, type IamCredential } from './auth.ts';
import { authorizeToken, createDecisionRecorder } from '../functions/access/authorizer.ts';
import { lambdaDataSource } from './data-sources.ts';
import { executeRequest, type DataSource, type ExecutionOutcome, type GraphqlRequest, type LocalApi } from './execute.ts';
import type { LocalIssuer } from './issuer.ts';
import { RESOLVERS_DIR, loadResolvers } from './resolvers.ts';
import { RealtimeHub } from './realtime.ts';
import { DEFAULT_COALESCE_MS, DEFAULT_MAX_BUFFERED_BYTES } from './realtime-shard.ts';
import { intSetting } from '../functions/commons/config.ts';
import { SCHEMA_DIR, loadSchema } from './schema.ts';
import { ensureConsoleBuilt, serveConsole, type ConsoleHost } from './console.ts';
import { DEFAULT_LOG_ORIGIN } from '../functions/ledger/proofs.ts';
import { logGraphqlRequest } from './request-log.ts';

/** AppSync's limit on a request body. */
const MAX_BODY = 1024 * 1024;

export interface LocalServerOptions {
  readonly ledger: Ledger;
  readonly apiKey: string;
  readonly issuer: LocalIssuer;
  /** Reload the schema and resolvers when their files change. */
  readonly dev?: boolean;
  /** Keys API token hashes; a fresh random one when left out (tokens then last as long as the server). */
  readonly tokenSecret?: Buffer;
  /** How long token decisions are cached (AppSync's authorizer result cache); default 60 s. */
  readonly authorizerCacheSeconds?: number;
  /** Local IAM principals that may call with SigV4 (internal writers, operators). */
  readonly iam?: readonly IamCredential[];
  /** Real-time keep-alive interval (AppSync sends `ka` about once a minute). */
  readonly keepAliveMs?: number;
  /**
   * Child processes that serve real-time (ws://) subscribers, so fan-out never shares the event loop
   * of POST /graphql; 0 serves them in process. Default LOGLINEOS_FANOUT_WORKERS, else 2.
   */
  readonly fanoutWorkers?: number;
  /**
   * Bytes a real-time subscriber may leave unread before it is disconnected with a LimitExceededError
   * frame. Default LOGLINEOS_REALTIME_MAX_BUFFERED_BYTES, else 1 MiB.
   */
  readonly realtimeMaxBufferedBytes?: number;
  /** Where the schema and the resolvers are read from (tests point these at copies). */
  readonly schemaDir?: string;
  readonly resolversDir?: string;
  /** Settings the data sources read (LOGLINEOS_*, REDIS_URL, …); process.env when left out. */
  readonly env?: NodeJS.ProcessEnv;
  /** Serve the web console at /console/ (console/dist); with `build`, build it first when it is missing or stale. */
  readonly console?: { readonly build?: boolean };
}

export interface LocalServer {
  readonly server: Server;
  readonly realtime: RealtimeHub;
  /** Runs a request in process as the given caller (how the local writers publish, as IAM). */
  execute(caller: Caller, request: GraphqlRequest): Promise<ExecutionOutcome['body']>;
  listen(port: number, host?: string): Promise<string>;
  /** The same API over TLS (https:// and wss://), for clients such as Amplify that require it. */
  listenTls(port: number, tls: { readonly key: string; readonly cert: string }, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** The internal writer that publishes committed spans, as an IAM principal would on AWS. */
export const PUBLISHER: Caller = {
  mode: 'AWS_IAM',
  identity: { accountId: 'local', userArn: 'arn:aws:iam::local:role/loglineos-writer', username: 'loglineos-writer' },
};
/** Every Lambda data source with its services, built once per server (a dev reload keeps them). */
interface HostedDataSources {
  readonly handlers: Readonly<Record<string, (event: unknown) => Promise<unknown>>>;
  close(): Promise<void>;
}

async function hostDataSources(base: Services): Promise<HostedDataSources> {
  const handlers: Record<string, (event: unknown) => Promise<unknown>> = {};
  const closers: (() => Promise<void>)[] = [];
  try {
    for (const [name, definition] of Object.entries(DATA_SOURCES)) {
      const services = await definition.services(base);
      if (services.close) closers.push(() => services.close!());
      handlers[name] = createHandler(definition.operations, () => Promise.resolve(services)) as (event: unknown) => Promise<unknown>;
    }
  } catch (error) {
    await Promise.allSettled(closers.map((close) => close()));
    throw error;
  }
  return { handlers, close: async () => void (await Promise.allSettled(closers.map((close) => close()))) };
}

/** Builds what the API runs from the files: the schema, every resolver, and the data sources. */
async function buildApi(hosted: HostedDataSources, schemaDir: string, resolversDir: string): Promise<LocalApi> {
  const schema = loadSchema(schemaDir);
  const resolvers = await loadResolvers(schema, resolversDir);
  const dataSources: Record<string, DataSource> = {
    none: async (request) => ({ result: (request as { payload?: unknown } | null)?.payload ?? null }),
  };
  for (const [name, handler] of Object.entries(hosted.handlers)) dataSources[name] = lambdaDataSource(handler);
  return { schema, resolvers, dataSources, authorize: createAuthorizer(schema) };
}

/**
 * The local AppSync: `POST /graphql` with AppSync's auth headers, running the real resolver files
 * and Lambda handlers on the given ledger.
 */
export async function createLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const schemaDir = options.schemaDir ?? SCHEMA_DIR;
  const resolversDir = options.resolversDir ?? RESOLVERS_DIR;
  // Spans committed through the API reach subscribers through the same publishSpan mutation an
  // AWS writer calls; delivery happens after the writer's answer, never before or instead of it.
  const publisher: SpanPublisher = {
    async publish(event) {
      const body = await executeInProcess(PUBLISHER, { query: PUBLISH_SPAN_MUTATION, variables: { event } });
      if (body.errors) throw new Error(`publishSpan failed: ${body.errors.map((e) => e.message).join('; ')}`);
    },
    // AppSync drops a publish nobody subscribes to; locally the work is skipped before it starts.
    isListening: () => realtime.listensTo('publishSpan'),
  };
  const services: Services = {
    ledger: options.ledger,
    publisher,
    tokenSecret: options.tokenSecret ?? randomBytes(32),
    env: options.env ?? process.env,
    // other internal publishing mutations (prompt run events) go through the same in-process path
    internalGraphql: (request) => executeInProcess(PUBLISHER, request),
  };
  const hosted = await hostDataSources(services);
  // API tokens go through the same authorizer code the Lambda runs, decisions recorded alike.
  const access = { ...options.ledger, tokenSecret: services.tokenSecret };
  const recordDecision = createDecisionRecorder(access);
  const auth: AuthConfig = { ...options, authorizer: (token) => authorizeToken(access, token, recordDecision) };
  let api: Promise<LocalApi> = buildApi(hosted, schemaDir, resolversDir);
  await api;
  const realtime = new RealtimeHub(() => api, auth, {
    schemaDir,
    resolversDir,
    workers: options.fanoutWorkers ?? intSetting(services.env, 'LOGLINEOS_FANOUT_WORKERS', 2, 0, 64),
    maxBufferedBytes: options.realtimeMaxBufferedBytes ?? intSetting(services.env, 'LOGLINEOS_REALTIME_MAX_BUFFERED_BYTES', DEFAULT_MAX_BUFFERED_BYTES, 1024),
    coalesceMs: intSetting(services.env, 'LOGLINEOS_REALTIME_COALESCE_MS', DEFAULT_COALESCE_MS, 0, 1000),
    ...(options.keepAliveMs ? { keepAliveMs: options.keepAliveMs } : {}),
  });
  const afterMutation = (outcome: ExecutionOutcome) => {
    for (const result of outcome.mutationResults) realtime.publish(result.field, result.value);
    for (const request of outcome.invalidations) realtime.invalidate(request);
  };
  async function executeInProcess(caller: Caller, request: GraphqlRequest): Promise<ExecutionOutcome['body']> {
    const outcome = await executeRequest(await api, caller, request, {});
    afterMutation(outcome);
    return outcome.body;
  }
  const watchers: FSWatcher[] = [];
  if (options.dev) {
    const reload = () => {
      api = buildApi(hosted, schemaDir, resolversDir);
      api.then(
        () => {
          realtime.reloaded();
          console.log('reloaded schema and resolvers');
        },
        (error: unknown) => console.error(`reload failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    };
    for (const dir of [schemaDir, resolversDir]) {
      watchers.push(watch(dir, { recursive: true }, reload));
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      console.error(error);
      if (!res.headersSent) send(res, 500, { errors: [{ errorType: 'InternalFailure', message: 'the local server failed on this request' }] });
    });
  };
  const server = keptAlive(createServer(onRequest));
  const servers: Server[] = [server];
  const consoleHost: ConsoleHost | null = options.console
    ? {
        issuer: options.issuer,
        config: {
          apiKey: options.apiKey,
          logKey: options.ledger.signer ? { name: options.ledger.logOrigin ?? DEFAULT_LOG_ORIGIN, publicKeyHex: options.ledger.signer.publicKeyHex } : null,
        },
        ready: options.console.build ? ensureConsoleBuilt((line) => console.log(line)) : Promise.resolve(),
      }
    : null;
  // A failed build is reported to whoever opens /console; it must not take the API down.
  consoleHost?.ready.catch((error: unknown) => console.error(`console build failed: ${error instanceof Error ? error.message : String(error)}`));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    cors(res);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (path === '/health') return send(res, 200, { ok: true });
    if (consoleHost && path !== undefined && (path === '/console' || path.startsWith('/console/'))) return serveConsole(req, res, path, consoleHost);
    if (path !== '/graphql') return send(res, 404, { errors: [{ errorType: 'NotFound', message: `no route ${path}; the API is POST /graphql` }] });
    if (req.method !== 'POST') return send(res, 405, { errors: [{ errorType: 'MethodNotAllowed', message: 'send GraphQL as POST /graphql' }] });

    const body = await readBody(req);
    if (body === null) return send(res, 413, { errors: [{ errorType: 'PayloadTooLargeException', message: `the request body is larger than AppSync's ${MAX_BODY} bytes` }] });
    let request: GraphqlRequest;
    try {
      request = JSON.parse(body) as GraphqlRequest;
      if (typeof request !== 'object' || request === null || typeof request.query !== 'string') throw new Error('no query');
    } catch {
      return send(res, 400, { errors: [{ errorType: 'MalformedHttpRequestException', message: 'The request body must be JSON with a "query" string.' }] });
    }
    const headers = flatHeaders(req);
    // Each request gets an id, as AppSync's x-amzn-requestid: in the handlers' events, the logs and the answer.
    const requestId = randomUUID();
    const started = performance.now();
    res.setHeader('x-amzn-requestid', requestId);
    let caller;
    try {
      caller = await authenticate(headers, req.socket.remoteAddress ?? '127.0.0.1', auth, { method: req.method ?? 'POST', path: req.url ?? '/graphql', body });
    } catch (error) {
      if (error instanceof AuthFailure) {
        logGraphqlRequest({ requestId, started, errorType: error.errorType });
        return send(res, error.status, { errors: [{ errorType: error.errorType, message: error.message }] });
      }
      throw error;
    }
    let current: LocalApi;
    try {
      current = await api;
    } catch (error) {
      return send(res, 500, { errors: [{ errorType: 'SchemaError', message: error instanceof Error ? error.message : String(error) }] });
    }
    const outcome = await executeRequest(current, caller, request, { ...headers, 'x-amzn-requestid': requestId });
    send(res, 200, outcome.body);
    logGraphqlRequest({ requestId, started, caller, api: current, request, ...(outcome.body.errors?.[0] ? { errorType: outcome.body.errors[0].errorType } : {}) });
    afterMutation(outcome);
  }
  realtime.attach(server);

  const listenOn = (target: Server, scheme: 'http' | 'https', port: number, host: string) =>
    new Promise<string>((resolve, reject) => {
      target.once('error', reject);
      target.listen(port, host, () => {
        const address = target.address();
        resolve(`${scheme}://${host}:${typeof address === 'object' && address ? address.port : port}/graphql`);
      });
    });

  return {
    server,
    realtime,
    execute: executeInProcess,
    listen: (port, host = '127.0.0.1') => listenOn(server, 'http', port, host),
    listenTls: (port, tls, host = '127.0.0.1') => {
      const secure = keptAlive(createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest));
      servers.push(secure);
      realtime.attach(secure, 'tls');
      return listenOn(secure, 'https', port, host);
    },
    close: async () => {
      for (const watcher of watchers) watcher.close();
      await realtime.close();
      await Promise.all(
        servers.map((target) => {
          target.closeAllConnections();
          return new Promise<void>((resolve) => target.close(() => resolve()));
        }),
      );
      await hosted.close();
    },
  };
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function cors(res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-headers', 'content-type, x-api-key, authorization, x-amz-date, x-amz-security-token, x-amz-user-agent');
  res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/*
 * Idle keep-alive connections are kept 65 s, as AppSync's front end keeps them. Node's default (5 s)
 * races clients that keep them 4 s (fetch): on a loaded machine timers run late and a request sent on a
 * reused socket meets the server's close (ECONNRESET; found by the reliability suite).
 */
function keptAlive<T extends Server>(server: T): T {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
