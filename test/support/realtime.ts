import WebSocket from 'ws';

export interface Frame {
  type: string;
  id?: string;
  payload?: Record<string, unknown> & { data?: unknown; errors?: { errorType: string; message: string; errorCode?: number }[] };
}

/** A raw AppSync real-time protocol connection for tests: every frame received, waited for by type. */
export class RealtimeTestClient {
  readonly frames: Frame[] = [];
  private waiters: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];
  closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.match(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => socket.on('close', (code) => resolve(code)));
  }

  /** Opens with the auth header object as AppSync's `?header=…&payload=e30=` query (or a subprotocol). */
  static async open(httpUrl: string, header: Record<string, string> | null, how: 'query' | 'subprotocol' | 'headers' = 'query'): Promise<RealtimeTestClient> {
    const base = httpUrl.replace(/^http/, 'ws').replace(/\/graphql$/, '/graphql/realtime');
    const host = new URL(httpUrl).host;
    const withHost = header ? { host, ...header } : null;
    const encoded = withHost ? Buffer.from(JSON.stringify(withHost)) : null;
    const url = how === 'query' && encoded ? `${base}?header=${encoded.toString('base64')}&payload=e30=` : base;
    const protocols = how === 'subprotocol' && encoded ? ['graphql-ws', `header-${encoded.toString('base64url')}`] : ['graphql-ws'];
    const socket = new WebSocket(url, protocols, how === 'headers' && header ? { headers: header } : {});
    // listen before the socket opens: a refusal can arrive right behind the handshake
    const client = new RealtimeTestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  next(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (frame) => { clearTimeout(timer); resolve(frame); } });
    });
  }

  async init(): Promise<Frame> {
    this.send({ type: 'connection_init' });
    return this.next((f) => f.type === 'connection_ack');
  }

  /** Starts a subscription with its own authorization, as AppSync clients do. */
  start(id: string, query: string, variables: Record<string, unknown>, authorization: Record<string, string>, host: string): void {
    this.send({ id, type: 'start', payload: { data: JSON.stringify({ query, variables }), extensions: { authorization: { host, ...authorization } } } });
  }

  dataFor(id: string): Frame[] {
    return this.frames.filter((f) => f.type === 'data' && f.id === id);
  }

  close(): void {
    this.socket.close();
  }
}
