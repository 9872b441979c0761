import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

/*
 * A server that is not trustworthy: it stands in front of the real local server, passes everything
 * through (the console's files, the real-time socket), and rewrites GraphQL answers with `alter`.
 * The console must notice what it changed without being told.
 */

export interface TamperingServer {
  readonly origin: string;
  close(): Promise<void>;
}

export async function startTamperingServer(upstreamOrigin: string, alter: (data: unknown) => unknown): Promise<TamperingServer> {
  const upstream = new URL(upstreamOrigin);
  const server = createServer((req, res) => {
    relay(req).then(
      ({ status, headers, body }) => {
        res.writeHead(status, { ...headers, 'content-length': body.length }).end(body);
      },
      (error: unknown) => res.writeHead(502).end(String(error)),
    );
  });

  async function relay(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // A server-to-server call: the browser's host and origin are this server's, not the upstream's.
      if (typeof value === 'string' && !['host', 'origin', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    const response = await fetch(new URL(req.url ?? '/', upstream), {
      method: req.method ?? 'GET',
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
      redirect: 'manual',
    });
    let body = Buffer.from(await response.arrayBuffer());
    const type = response.headers.get('content-type') ?? 'application/octet-stream';
    if (req.url?.startsWith('/graphql') && type.startsWith('application/json')) {
      body = Buffer.from(JSON.stringify(alter(JSON.parse(body.toString('utf8')))));
    }
    const out: Record<string, string> = { 'content-type': type };
    const location = response.headers.get('location');
    if (location) out.location = location;
    return { status: response.status, headers: out, body };
  }

  // The real-time socket is passed through byte for byte. Upgraded sockets are no longer the HTTP
  // server's, so close() ends them itself.
  const tunnels = new Set<{ destroy(): void }>();
  server.on('upgrade', (req, socket, head) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    const target = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      target.write(`${lines.join('\r\n')}\r\n\r\n`);
      target.write(head);
      socket.pipe(target).pipe(socket);
    });
    tunnels.add(target);
    target.on('close', () => tunnels.delete(target));
    target.on('error', () => socket.destroy());
    socket.on('error', () => target.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const tunnel of tunnels) tunnel.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Changes the `this` of every copy of one span in a GraphQL answer, leaving its hash and signature as they were. */
export function alterSpan(id: string, replacement: string): (data: unknown) => unknown {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    const object = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
    if (object.id === id && typeof object.this === 'string') object.this = replacement;
    return object;
  };
  return walk;
}
