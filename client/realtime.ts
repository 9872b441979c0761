import { createClient, type ClientAuth } from './client.ts';
import { iamFetch, isIamAuth, signedRealtimeHeader, type IamAuth } from './iam.ts';
import { fromGraphqlSpan, verifySpanLocally, type ClientVerification, type SpanProof } from './verify.ts';
import { FullSpanByIdDocument, HeldBackSpansDocument, TimelineBackfillDocument, TimelineHeadDocument, type FullSpanFragment, type SpanFilter } from './operations.ts';

/*
 * The live timeline over AppSync's real-time protocol, with reconnect and backfill. The client keeps
 * a cursor that the timeline itself confirmed; after every (re)connect it first reads
 * timeline(after: that cursor) and delivers what it missed, in timeline order, then the live events
 * that arrived meanwhile. Events are keyed by (id, seq), so nothing is delivered twice.
 */

/** The part of the WebSocket API the client uses (browsers' global, or the `ws` package in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

export interface TimelineEvent {
  readonly cursor: string;
  /** The whole span; null when it was too large for a live event and could not be read back. */
  readonly span: FullSpanFragment | null;
  /** How it arrived: from the live subscription or from the backfill after a (re)connect. */
  readonly source: 'live' | 'backfill';
  /**
   * With `verify: true`: the span's canonical hash recomputed here and its signature checked
   * (client/verify.ts), trusting nothing the server said about it. `trusted` is false when the
   * signature is valid but by a key not in `trustedKeys`.
   */
  readonly verification?: ClientVerification & { readonly trusted: boolean | null };
}

export interface TimelineFilter {
  readonly entityTypes?: readonly string[];
  readonly traceId?: string;
  readonly parentId?: string;
}

export interface SubscribeTimelineOptions {
  /** The GraphQL endpoint (…/graphql); the real-time endpoint is derived from it as AppSync does. */
  readonly url: string;
  /** An API key, a user pool token, or `{ iam: { region, credentials } }` (SigV4, for internal callers). */
  readonly auth: ClientAuth | IamAuth;
  readonly filter?: TimelineFilter;
  /** Resume after this cursor; left out, the subscription starts at the timeline's current end. */
  readonly after?: string | null;
  readonly onEvent: (event: TimelineEvent) => void;
  readonly onError?: (error: Error) => void;
  /** Defaults to `globalThis.WebSocket`; in Node 20 pass the `ws` package's WebSocket. */
  readonly WebSocket?: WebSocketConstructor;
  readonly fetch?: typeof fetch;
  /** Verify every event's span as it arrives (hash and signature), optionally against trusted signing keys (hex). */
  readonly verify?: boolean | { readonly trustedKeys?: readonly string[] };
  /** Reconnect delay: starts at `initialDelayMs`, doubles up to `maxDelayMs`. */
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
}

export interface TimelineSubscription {
  /** The last cursor the timeline confirmed: everything up to it has been delivered. */
  readonly confirmedCursor: string | null;
  /** Resolves when the subscription is live (acknowledged and backfilled) for the first time. */
  readonly ready: Promise<void>;
  close(): void;
}

const SUBSCRIBE = 'subscription OnTimeline($entityTypes: [String!], $traceId: String, $parentId: ID) { onTimeline(entityTypes: $entityTypes, traceId: $traceId, parentId: $parentId) { cursor id seq entityType ownerId tenantId visibility traceId parentId truncated span } }';
const SEEN_LIMIT = 100_000;
/** How long live events must pause before the client checks the timeline for any it missed. */
const CATCH_UP_AFTER_MS = 1000;
/** The longest wait between reads while the server holds committed spans back. */
const CATCH_UP_MAX_MS = 8000;
/** AppSync's connectionTimeoutMs, for a connection_ack that does not give one. */
const DEFAULT_CONNECTION_TIMEOUT_MS = 300_000;
/** WebSocket.OPEN, the same in browsers and the `ws` package. */
const OPEN = 1;

/** AppSync's real-time URL for a GraphQL URL: its own host for AppSync domains, `/graphql/realtime` elsewhere. */
export function realtimeUrl(graphqlUrl: string): string {
  const url = new URL(graphqlUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (url.hostname.includes('.appsync-api.')) url.hostname = url.hostname.replace('.appsync-api.', '.appsync-realtime-api.');
  else url.pathname = `${url.pathname.replace(/\/$/, '')}/realtime`;
  return url.toString();
}

export function subscribeTimeline(options: SubscribeTimelineOptions): TimelineSubscription {
  const WebSocketImpl: WebSocketConstructor | undefined = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketImpl === undefined) throw new TypeError('subscribeTimeline: no WebSocket here; pass options.WebSocket (in Node 20: the `ws` package)');
  const iam = isIamAuth(options.auth) ? options.auth : null;
  // IAM callers' queries are signed by the fetch; the token is a placeholder the signature replaces.
  const http = iam
    ? createClient({ url: options.url, auth: { token: 'sigv4' }, fetch: iamFetch(iam, options.fetch) })
    : createClient({ url: options.url, auth: options.auth as ClientAuth, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const filter: SpanFilter | undefined = options.filter?.entityTypes?.length || options.filter?.traceId || options.filter?.parentId
    ? { ...(options.filter.entityTypes?.length ? { entityTypes: [...options.filter.entityTypes] } : {}), ...(options.filter.traceId ? { traceId: options.filter.traceId } : {}), ...(options.filter.parentId ? { parentId: options.filter.parentId } : {}) }
    : undefined;
  const initialDelay = options.reconnect?.initialDelayMs ?? 250;
  const maxDelay = options.reconnect?.maxDelayMs ?? 10_000;

  let confirmed: string | null = options.after ?? null;
  const seen = new Set<string>();
  let socket: WebSocketLike | null = null;
  let closed = false;
  let attempt = 0;
  let live = false;
  let buffered: { event: TimelineEvent; graphql: boolean }[] = [];
  /** The live events of the current connection, handled in the order they arrived. */
  let liveQueue: Promise<void> = Promise.resolve();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const trustedKeys = typeof options.verify === 'object' ? options.verify.trustedKeys : undefined;
  /** `graphql`: the span came from a query (AWSJSON fields as text), not from a live event's JSON. */
  const deliver = (event: TimelineEvent, graphql: boolean) => {
    const key = event.span ? `${event.span.id}:${event.span.seq}` : event.cursor;
    if (seen.has(key)) return;
    if (seen.size >= SEEN_LIMIT) seen.delete(seen.values().next().value ?? '');
    seen.add(key);
    options.onEvent(options.verify && event.span ? { ...event, verification: verifyEvent(event.span, graphql) } : event);
  };
  const verifyEvent = (span: FullSpanFragment, graphql: boolean) => {
    const hashed = (graphql ? fromGraphqlSpan(span) : span) as unknown as SpanProof;
    const verification = verifySpanLocally(hashed);
    const trusted = verification.signatureOk && trustedKeys ? trustedKeys.includes(String(span.publicKey)) : null;
    return { ...verification, trusted };
  };
  const fail = (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error)));

  /** Reads timeline(after: confirmed) to its end; true when the server held committed spans back. */
  async function backfill(): Promise<boolean> {
    for (;;) {
      const page = await http.query(TimelineBackfillDocument, { after: confirmed, first: 500, ...(filter ? { filter } : {}) });
      for (const edge of page.timeline.edges) deliver({ cursor: edge.cursor, span: edge.node, source: 'backfill' }, true);
      confirmed = page.timeline.pageInfo.endCursor ?? confirmed;
      if (!page.timeline.pageInfo.hasNextPage) return page.timeline.pageInfo.heldBack;
    }
  }

  /*
   * A (re)connect's backfill that the server says was held back stopped short of committed spans
   * (behind an older transaction still running, perhaps another server's), and the live events of
   * the ones written since the subscription started would otherwise be delivered before them. So read
   * every committed span after the cursor, past the watermark, and deliver those first. The confirmed
   * cursor does not move: the open transaction may still commit spans that sort before these, and
   * the catch-up reads bring them when it ends.
   */
  async function readHeldBack(): Promise<void> {
    let after = confirmed;
    for (;;) {
      const page = await http.query(HeldBackSpansDocument, { after, first: 500, ...(filter ? { filter } : {}) });
      for (const edge of page.spans.edges) deliver({ cursor: edge.cursor, span: edge.node, source: 'backfill' }, true);
      after = page.spans.pageInfo.endCursor ?? after;
      if (!page.spans.pageInfo.hasNextPage) return;
    }
  }

  async function onLiveEvent(raw: { cursor: string; id: string; seq: number; truncated: boolean; span: string | null }): Promise<void> {
    // A span too large for a live event comes without its body: read it back.
    const span = raw.span ? (JSON.parse(raw.span) as FullSpanFragment) : raw.truncated ? (await http.query(FullSpanByIdDocument, { id: raw.id, seq: raw.seq })).span : null;
    const event: TimelineEvent = { cursor: raw.cursor, span, source: 'live' };
    const graphql = !raw.span;
    if (live) {
      deliver(event, graphql);
      catchUpSoon();
    } else buffered.push({ event, graphql });
  }

  /*
   * The timeline shows a transaction only once every older one has ended, so a backfill can stop
   * short of spans that had committed (a long transaction elsewhere held them back) whose live events
   * went out while this client was away. readHeldBack delivers those at once; the confirmed cursor
   * still has to move past them, and a live event lost on the way needs a read to bring it. So while
   * events flow, the client reads timeline(after: confirmed) again once they pause, and again, less
   * and less often, for as long as the server says committed spans are held back (pageInfo.heldBack);
   * what it already has is skipped, and confirmedCursor moves on with it.
   */
  let catchUpTimer: ReturnType<typeof setTimeout> | undefined;
  let catchingUp = false;
  function catchUpSoon(delay = CATCH_UP_AFTER_MS): void {
    if (closed) return;
    clearTimeout(catchUpTimer);
    catchUpTimer = setTimeout(() => {
      if (closed || !live || catchingUp) return;
      catchingUp = true;
      backfill()
        .then((heldBack) => {
          if (heldBack) catchUpSoon(Math.min(delay * 2, CATCH_UP_MAX_MS));
        })
        .catch(fail)
        .finally(() => (catchingUp = false));
    }, delay);
  }

  /** The auth header object of the connection (`body` '{}') or of one start message (its `data`). */
  async function authHeader(kind: 'connect' | 'start', body: string): Promise<Record<string, string>> {
    if (iam) return signedRealtimeHeader(options.url, kind === 'connect' ? '/connect' : '', body, iam);
    const auth = options.auth as ClientAuth;
    const host = new URL(options.url).host;
    if ('apiKey' in auth) return { host, 'x-api-key': auth.apiKey };
    const token = typeof auth.token === 'function' ? await auth.token() : auth.token;
    return { host, Authorization: token };
  }

  async function start(ws: WebSocketLike): Promise<void> {
    const data = JSON.stringify({ query: SUBSCRIBE, variables: { ...options.filter } });
    const authorization = await authHeader('start', data);
    if (socket === ws && ws.readyState === OPEN) ws.send(JSON.stringify({ id: 'timeline', type: 'start', payload: { data, extensions: { authorization } } }));
  }

  async function connect(): Promise<void> {
    if (closed) return;
    if (confirmed === null) confirmed = (await http.query(TimelineHeadDocument, {})).timelineHead;
    const header = await authHeader('connect', '{}');
    // close() may have come while the head or the signature was awaited: open nothing then.
    if (closed) return;
    const encoded = base64url(JSON.stringify(header));
    const ws = new (WebSocketImpl as WebSocketConstructor)(realtimeUrl(options.url), ['graphql-ws', `header-${encoded}`]);
    socket = ws;
    liveQueue = Promise.resolve();
    silenceLimit = 0;
    clearTimeout(watchdog);
    live = false;
    buffered = [];
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as { type: string; id?: string; payload?: { data?: { onTimeline?: unknown }; errors?: { errorType: string; message: string }[]; connectionTimeoutMs?: number } };
      if (frame.type === 'connection_ack') silenceLimit = Number(frame.payload?.connectionTimeoutMs) > 0 ? Number(frame.payload?.connectionTimeoutMs) : DEFAULT_CONNECTION_TIMEOUT_MS;
      if (silenceLimit > 0) watch(ws);
      switch (frame.type) {
        case 'connection_ack':
          start(ws).catch((error: unknown) => {
            fail(error);
            ws.close();
          });
          return;
        case 'start_ack':
          attempt = 0;
          backfill()
            .then((heldBack) => (heldBack ? readHeldBack() : undefined))
            .then(
              () => {
                live = true;
                for (const { event, graphql } of buffered) deliver(event, graphql);
                buffered = [];
                catchUpSoon();
                markReady();
              },
              (error: unknown) => {
                fail(error);
                ws.close();
              },
            );
          return;
        case 'data':
          // One at a time: a large span's read-back must not let the events after it overtake it.
          if (frame.payload?.data?.onTimeline) {
            const raw = frame.payload.data.onTimeline as Parameters<typeof onLiveEvent>[0];
            liveQueue = liveQueue.then(() => onLiveEvent(raw)).catch(fail);
          }
          return;
        case 'error':
        case 'connection_error':
          fail(new Error(`${frame.payload?.errors?.[0]?.errorType ?? 'Error'}: ${frame.payload?.errors?.[0]?.message ?? 'the real-time endpoint refused the subscription'}`));
          return;
        default:
          return; // ka, complete
      }
    };
    ws.onerror = () => undefined; // onclose follows and reconnects
    ws.onclose = () => {
      if (socket === ws) reconnectLater();
    };
  }

  /*
   * AppSync sends `ka` at least every connectionTimeoutMs (from connection_ack): a connection silent
   * for longer is dead, though its socket may look open for many minutes (a NAT or a proxy dropped
   * it, the server's process died without a FIN). Close it and reconnect; the backfill then brings
   * what was missed.
   */
  let silenceLimit = 0;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  function watch(ws: WebSocketLike): void {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (socket !== ws || closed) return;
      fail(new Error(`the real-time connection was silent for ${silenceLimit} ms (its connectionTimeoutMs): reconnecting`));
      socket = null;
      ws.onmessage = null; // whatever the old connection still says, the new one's backfill covers
      ws.close();
      reconnectLater();
    }, silenceLimit);
  }

  function reconnectLater(): void {
    if (closed) return;
    const delay = Math.min(maxDelay, initialDelay * 2 ** attempt);
    attempt += 1;
    setTimeout(() => {
      connect().catch(retry);
    }, delay);
  }

  const retry = (error: unknown) => {
    fail(error);
    reconnectLater();
  };

  connect().catch(retry);

  return {
    get confirmedCursor() {
      return confirmed;
    },
    ready,
    close() {
      closed = true;
      clearTimeout(catchUpTimer);
      clearTimeout(watchdog);
      socket?.close();
    },
  };
}

/** The real-time `header` parameter's encoding: base64url of the UTF-8 text, unpadded. */
export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
