import type { Socket } from 'node:net';
import { AuthFailure, createAuthorizer, type Caller } from './auth.ts';
import type { DataSource, LocalApi } from './execute.ts';
import type { FanoutChildSettings, FromChild, ToChild } from './realtime-fanout.ts';
import { RealtimeShard, type RealtimeBackend, type StartedSubscription } from './realtime-shard.ts';
import { discoverResolvers, loadResolver } from './resolvers.ts';
import { loadSchema } from './schema.ts';

/*
 * A fan-out child process (see realtime-fanout.ts): serves the real-time sockets the server's
 * process hands it with the same RealtimeShard as the in-process path, and asks the server's
 * process for what needs the API key, the database or a data source. It exits with its parent.
 */

const settings = JSON.parse(process.argv[2] ?? '{}') as FanoutChildSettings;
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let callSeq = 0;

type CallMessage = Extract<FromChild, { type: 'call' }>;
type CallFields = CallMessage extends infer M ? (M extends CallMessage ? Omit<M, 'type' | 'id'> : never) : never;

function call<T>(fields: CallFields): Promise<T> {
  const id = ++callSeq;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    process.send?.({ type: 'call', id, ...fields } as FromChild);
  });
}

/**
 * Events are shaped here, so the child needs the schema and the resolvers of fields below the root
 * types (today none: an event's root field comes from the payload); their data sources run in the
 * server's process.
 */
async function buildEventApi(): Promise<LocalApi> {
  const schema = loadSchema(settings.schemaDir);
  const roots = new Set([schema.getQueryType()?.name, schema.getMutationType()?.name, schema.getSubscriptionType()?.name]);
  const nested = discoverResolvers(schema, settings.resolversDir).filter((file) => !roots.has(file.typeName));
  const modules = await Promise.all(nested.map(loadResolver));
  const dataSources = new Proxy({} as Record<string, DataSource>, {
    get: (_, name) => (typeof name === 'string' ? (request: unknown) => call({ method: 'dataSource', name, request }) : undefined),
  });
  return { schema, resolvers: new Map(modules.map((module) => [module.coordinate, module])), dataSources, authorize: createAuthorizer(schema) };
}

let api = buildEventApi();

const backend: RealtimeBackend = {
  api: () => api,
  authenticate: (headers, sourceIp, signed) => call<Caller>({ method: 'authenticate', headers, sourceIp, signed }),
  startSubscription: (caller, request) => call<StartedSubscription>({ method: 'startSubscription', caller, request }),
  ended: (registration) => call<void>({ method: 'ended', registration }),
};
const shard = new RealtimeShard(backend, settings);

process.on('message', (message: ToChild, handle?: Socket) => {
  switch (message.type) {
    case 'connection': {
      process.send?.({ type: 'received', id: message.id } satisfies FromChild);
      if (!handle) return;
      handle.once('close', () => process.send?.({ type: 'closed' } satisfies FromChild));
      shard.handleUpgrade(message.request, handle, Buffer.from(message.head.buffer, message.head.byteOffset, message.head.byteLength));
      return;
    }
    case 'publish':
      return shard.publish(message.field, message.payload);
    case 'invalidate':
      return shard.invalidate(message.request);
    case 'disconnectAll':
      return shard.disconnectAll();
    case 'reload':
      api = buildEventApi();
      api.catch((error: unknown) => console.error(`fan-out child: reload failed: ${error instanceof Error ? error.message : String(error)}`));
      return;
    case 'close':
      void shard.close().finally(() => process.exit(0));
      return;
    case 'reply': {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (!waiter) return;
      if (message.error) waiter.reject(message.error.auth ? new AuthFailure(message.error.message) : new Error(message.error.message));
      else waiter.resolve(message.value);
      return;
    }
  }
});
// The parent gone (closed, crashed or killed): nothing is left to serve.
process.on('disconnect', () => process.exit(0));

api.then(
  () => process.send?.({ type: 'ready' } satisfies FromChild),
  (error: unknown) => {
    console.error(`fan-out child: cannot load the schema: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
