import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalIssuer } from './issuer.ts';

/*
 * The web console at /console: static files built by Vite from console/, plus the two things only
 * the local host can offer the browser: its settings (config.json) and the local issuer's sign-in
 * (a stand-in for Cognito's). The build runs when the output is missing or older than its inputs, so
 * `npm install` (its `prepare` script) and `npm start` leave no extra step.
 */

export const CONSOLE_ROOT = fileURLToPath(new URL('../console/', import.meta.url));
export const CONSOLE_DIST = join(CONSOLE_ROOT, 'dist');
const REPO_ROOT = resolve(CONSOLE_ROOT, '..');
/** Written into dist after a build: the files the bundle was made from, to tell when it is stale. */
const INPUTS_FILE = '.build-inputs.json';
const LOCK_DIR = join(CONSOLE_ROOT, '.dist.lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 5 * 60_000;

interface BuildInputs {
  readonly builtAt: number;
  /** Repository-relative paths of every source module in the bundle. */
  readonly files: readonly string[];
}

/** Builds console/dist unless it is up to date; concurrent callers (test workers, servers) build once. */
export async function ensureConsoleBuilt(log: (line: string) => void = () => undefined): Promise<'fresh' | 'built'> {
  if (isFresh()) return 'fresh';
  await acquireLock();
  try {
    if (isFresh()) return 'fresh';
    const started = Date.now();
    log('building the console (console/ → console/dist)…');
    await buildConsole();
    log(`console built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 'built';
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** Fresh when every input is older than the build and console/ has no source the build did not see. */
export function isFresh(): boolean {
  const inputsPath = join(CONSOLE_DIST, INPUTS_FILE);
  if (!existsSync(inputsPath) || !existsSync(join(CONSOLE_DIST, 'index.html'))) return false;
  let inputs: BuildInputs;
  try {
    inputs = JSON.parse(readFileSync(inputsPath, 'utf8')) as BuildInputs;
  } catch {
    return false;
  }
  const known = new Set(inputs.files);
  const candidates = [...inputs.files, ...consoleSources(), 'package-lock.json'];
  for (const file of candidates) {
    const path = join(REPO_ROOT, file);
    if (!existsSync(path)) {
      if (known.has(file)) return false;
      continue;
    }
    if (statSync(path).mtimeMs > inputs.builtAt) return false;
  }
  return true;
}

async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  const outDir = `${CONSOLE_DIST}.building-${process.pid}`;
  const builtAt = Date.now();
  // React's production build, also when the build runs inside vitest (NODE_ENV "test"), which would
  // otherwise switch Vite and the JSX transform to development.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({ configFile: join(CONSOLE_ROOT, 'vite.config.ts'), mode: 'production', logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((item) => ('output' in item ? item.output : []));
  const files = new Set<string>();
  for (const item of outputs) {
    if (item.type !== 'chunk') continue;
    for (const id of item.moduleIds) {
      const path = id.split('?')[0] ?? id;
      if (path.startsWith(REPO_ROOT + sep) && !path.includes(`${sep}node_modules${sep}`)) files.add(relative(REPO_ROOT, path));
    }
  }
  const inputs: BuildInputs = { builtAt, files: [...files].sort() };
  writeFileSync(join(outDir, INPUTS_FILE), JSON.stringify(inputs, null, 1));
  rmSync(CONSOLE_DIST, { recursive: true, force: true });
  renameSync(outDir, CONSOLE_DIST);
}

/** console/'s own sources: a file added since the build makes it stale even before anything imports it. */
function consoleSources(): string[] {
  const found: string[] = ['console/index.html', 'console/vite.config.ts'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(REPO_ROOT, path));
    }
  };
  if (existsSync(join(CONSOLE_ROOT, 'src'))) walk(join(CONSOLE_ROOT, 'src'));
  return found;
}

async function acquireLock(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    try {
      // A build killed mid-way (a test worker ended at its hook timeout) leaves the lock behind.
      if (Date.now() - statSync(LOCK_DIR).mtimeMs > STALE_LOCK_MS || !holderAlive()) rmSync(LOCK_DIR, { recursive: true, force: true });
    } catch {
      // the holder just released it
    }
    await new Promise((done) => setTimeout(done, 200));
  }
}

function holderAlive(): boolean {
  const pidFile = join(LOCK_DIR, 'pid');
  // Just taken: the holder has not written its pid yet.
  if (!existsSync(pidFile)) return Date.now() - statSync(LOCK_DIR).mtimeMs < 10_000;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What the page needs to know about this deployment; the AWS deployment writes the same file. */
export interface ConsoleConfig {
  readonly graphqlUrl: string;
  /** The local issuer signs in users by name (no password): there is no such thing on AWS. */
  readonly localIssuer: boolean;
  /** The local API key, offered on the sign-in page (it reads public data only). */
  readonly apiKey: string | null;
  /** The key that signs the ledger's checkpoints, for the Verify button's inclusion proofs. */
  readonly logKey: { readonly name: string; readonly publicKeyHex: string } | null;
}

export interface ConsoleHost {
  readonly config: Omit<ConsoleConfig, 'graphqlUrl' | 'localIssuer'>;
  readonly issuer: LocalIssuer;
  /** Resolves when dist is ready to serve (a build may be running). */
  readonly ready: Promise<unknown>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=UTF-8',
  '.js': 'text/javascript; charset=UTF-8',
  '.css': 'text/css; charset=UTF-8',
  '.json': 'application/json; charset=UTF-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=UTF-8',
};

/** Serves /console, /console/config.json, POST /console/token and the built files. */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, path: string, host: ConsoleHost): Promise<void> {
  // The API answers any origin (as AppSync does); the console's own routes answer only its pages.
  for (const name of ['access-control-allow-origin', 'access-control-allow-headers', 'access-control-allow-methods']) res.removeHeader(name);
  if (path === '/console') return void res.writeHead(308, { location: '/console/' }).end();
  if (path === '/console/config.json') {
    const config: ConsoleConfig = { graphqlUrl: '/graphql', localIssuer: true, ...host.config };
    return sendJson(res, 200, config);
  }
  if (path === '/console/token') return issueToken(req, res, host.issuer);
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { message: 'the console serves files with GET' });
  try {
    await host.ready;
  } catch (error) {
    return sendJson(res, 500, { message: `the console could not be built: ${error instanceof Error ? error.message : String(error)}` });
  }
  const wanted = decodeURIComponent(path.slice('/console/'.length)) || 'index.html';
  const file = resolve(CONSOLE_DIST, wanted);
  // Everything else (and any path that climbs out of dist) is the page itself: routes live in the hash.
  const target = file.startsWith(CONSOLE_DIST + sep) && existsSync(file) && statSync(file).isFile() ? file : join(CONSOLE_DIST, 'index.html');
  if (!existsSync(target)) return sendJson(res, 404, { message: 'console/dist is missing; run npm start (it builds the console)' });
  const body = readFileSync(target);
  res.writeHead(200, {
    'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
    'content-length': body.length,
    // Vite names assets by content hash; the page itself must always be re-read.
    'cache-control': target.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function issueToken(req: IncomingMessage, res: ServerResponse, issuer: LocalIssuer): Promise<void> {
  if (req.method !== 'POST') return sendJson(res, 405, { message: 'POST {"user", "tenant", "groups"} to sign in' });
  // The local issuer signs any identity it is asked for: only the console's own page on this machine
  // may ask. Another site open in the same browser is also "on this machine", hence the Origin check;
  // the Host check stops a DNS-rebound name from passing as this origin.
  const address = req.socket.remoteAddress ?? '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(address)) {
    return sendJson(res, 403, { message: `the local issuer signs in callers on this machine only, not ${address}` });
  }
  const hostHeader = req.headers.host ?? '';
  const hostname = hostHeader.replace(/:\d+$/, '');
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    return sendJson(res, 403, { message: `the local issuer answers on 127.0.0.1 or localhost only, not ${JSON.stringify(hostHeader)}` });
  }
  const origin = req.headers.origin;
  if (origin !== undefined && URL.parse(origin)?.host !== hostHeader) {
    return sendJson(res, 403, { message: `sign in from the console's own page (${hostHeader}), not from ${origin}` });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let body: { user?: unknown; tenant?: unknown; groups?: unknown };
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
  } catch {
    return sendJson(res, 400, { message: 'send JSON: {"user": "alice", "tenant": "acme", "groups": []}' });
  }
  const { user, tenant, groups } = body;
  if (typeof user !== 'string' || !/^[A-Za-z0-9._@-]{1,128}$/.test(user)) {
    return sendJson(res, 400, { message: `user must be 1-128 letters, digits or . _ @ -, got ${JSON.stringify(user)}` });
  }
  if (tenant !== undefined && tenant !== null && tenant !== '' && (typeof tenant !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(tenant))) {
    return sendJson(res, 400, { message: `tenant must be empty or 1-128 letters, digits or . _ -, got ${JSON.stringify(tenant)}` });
  }
  if (groups !== undefined && (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(g)))) {
    return sendJson(res, 400, { message: `groups must be a list of names, got ${JSON.stringify(groups)}` });
  }
  const token = await issuer.issue({ user, tenant: typeof tenant === 'string' && tenant !== '' ? tenant : null, groups: (groups as string[] | undefined) ?? [] });
  sendJson(res, 200, { token });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
}

/** Builds the console from the command line (`npm run console:build`, and `prepare` after npm install). */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureConsoleBuilt(console.log).then(
    (state) => state === 'fresh' && console.log('console/dist is up to date'),
    (error: unknown) => {
      console.error(`console build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
