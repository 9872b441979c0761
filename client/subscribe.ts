import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { ClientAuth } from './client.ts';
import { base64url, realtimeUrl, type WebSocketConstructor, type WebSocketLike } from './realtime.ts';

/*
 * One typed subscription over AppSync's real-time protocol, for short-lived streams such as a prompt
 * run's onPromptRun(runId). It does not reconnect: such a stream has no cursor to resume from, and its
 * final event is recorded in the ledger anyway. The live timeline has subscribeTimeline (reconnect
 * and backfill) instead.
 */

export interface SubscribeOptions<TData, TVariables> {
  /** The GraphQL endpoint (…/graphql); the real-time endpoint is derived from it as AppSync does. */
  readonly url: string;
  readonly auth: ClientAuth;
  readonly document: TypedDocumentNode<TData, TVariables>;
  readonly variables: TVariables;
  readonly onData: (data: TData) => void;
  /** A refused subscription, an `error` frame, or the socket closing before `close()`. */
  readonly onError?: (error: Error) => void;
  /** Defaults to `globalThis.WebSocket`; in Node 20 pass the `ws` package's WebSocket. */
  readonly WebSocket?: WebSocketConstructor;
}

export interface Subscription {
  /** Resolves when AppSync acknowledged the subscription (start_ack); rejects when it refused it. */
  readonly ready: Promise<void>;
  close(): void;
}

interface Frame {
  readonly type: string;
  readonly payload?: { readonly data?: unknown; readonly errors?: readonly { readonly errorType?: string; readonly message?: string }[] };
}

export function subscribe<TData, TVariables>(options: SubscribeOptions<TData, TVariables>): Subscription {
  const WebSocketImpl = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketImpl === undefined) throw new TypeError('subscribe: no WebSocket here; pass options.WebSocket (in Node 20: the `ws` package)');
  const query = print(options.document);
  let socket: WebSocketLike | null = null;
  let closed = false;
  let acknowledged = false;
  let settle: { resolve: () => void; reject: (error: Error) => void } = { resolve: () => undefined, reject: () => undefined };
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // Nobody may be waiting on ready once it is live; errors after that go to onError only.
  ready.catch(() => undefined);

  const fail = (error: Error) => {
    if (!acknowledged) settle.reject(error);
    options.onError?.(error);
  };

  (async () => {
    const host = new URL(options.url).host;
    const auth = options.auth;
    const header: Record<string, string> = 'apiKey' in auth
      ? { host, 'x-api-key': auth.apiKey }
      : { host, Authorization: typeof auth.token === 'function' ? await auth.token() : auth.token };
    if (closed) return;
    const ws = new WebSocketImpl(realtimeUrl(options.url), ['graphql-ws', `header-${base64url(JSON.stringify(header))}`]);
    socket = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as Frame;
      switch (frame.type) {
        case 'connection_ack':
          ws.send(JSON.stringify({ id: 'subscription', type: 'start', payload: { data: JSON.stringify({ query, variables: options.variables }), extensions: { authorization: header } } }));
          return;
        case 'start_ack':
          acknowledged = true;
          settle.resolve();
          return;
        case 'data':
          if (frame.payload?.data) options.onData(frame.payload.data as TData);
          return;
        case 'error':
        case 'connection_error': {
          const first = frame.payload?.errors?.[0];
          fail(new Error(`${first?.errorType ?? 'Error'}: ${first?.message ?? 'the real-time endpoint refused the subscription'}`));
          return;
        }
        default:
          return; // ka, complete
      }
    };
    ws.onerror = () => undefined; // onclose follows
    ws.onclose = () => {
      if (!closed) fail(new Error('the real-time connection closed'));
    };
  })().catch((error: unknown) => fail(error instanceof Error ? error : new Error(String(error))));

  return {
    ready,
    close() {
      closed = true;
      socket?.close();
    },
  };
}
