import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { issuerKeyFile } from '../../../local/credentials.ts';
import { openIssuer, type LocalIssuer } from '../../../local/issuer.ts';
import { loadConfig } from '../../../functions/commons/config.ts';

/*
 * Real processes for the fault suite: the server as `npm start` runs it (bin/loglineos.mjs serve), so
 * that `kill -9` kills exactly what a user runs, with nothing of the test in its address space.
 */

const BIN = resolve('bin/loglineos.mjs');

/** A free TCP port on 127.0.0.1 (asked of the OS; released just before the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

export interface ServerProcess {
  /** http://127.0.0.1:<port>/graphql */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGKILL: no handler runs, nothing is flushed or closed. Resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM: the server closes its listeners and the database, as on Ctrl-C. */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** LOGLINEOS_DATA_DIR: PGlite files (when no databaseUrl), keys. */
  readonly dataDir: string;
  /** DATABASE_URL; left out: embedded PGlite in the data folder. */
  readonly databaseUrl?: string;
  /** More settings (REDIS_URL, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long start-up may take (a loaded 2-core CI machine: tsx compiles, PGlite loads). */
  readonly startTimeoutMs?: number;
}

/**
 * Starts `loglineos serve` on free ports and resolves once it prints its URL. Scheduled kernel
 * passes, checkpoint passes and real-time fan-out children are off: the suite measures the write
 * path, and a child process of the server would outlive its `kill -9`.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  mkdirSync(options.dataDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOGLINEOS_DATA_DIR: options.dataDir,
    LOGLINEOS_KERNEL_INTERVAL_MS: '0',
    LOGLINEOS_CHECKPOINT_INTERVAL_MS: '0',
    LOGLINEOS_FANOUT_WORKERS: '0',
    ...options.env,
  };
  delete env.DATABASE_URL;
  if (!options.env?.REDIS_URL) delete env.REDIS_URL;
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  // vitest's own settings would make the child think it is a test worker.
  for (const name of Object.keys(env)) if (name.startsWith('VITEST') || name === 'NODE_OPTIONS') delete env[name];

  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tls-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;

  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the server did not start within ${options.startTimeoutMs ?? 90_000} ms; it printed:\n${text}`));
    }, options.startTimeoutMs ?? 90_000);
    const look = () => {
      const match = /LogLineOS local AppSync: (http:\/\/\S+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', look);
        done(match[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`the server exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; it printed:\n${text}`));
    });
  });

  return {
    url,
    child,
    output: () => text,
    async kill9() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The local token issuer of a data folder (the one `loglineos serve` verifies tokens with). */
export function issuerOf(dataDir: string): Promise<LocalIssuer> {
  return openIssuer(issuerKeyFile(loadConfig({ LOGLINEOS_DATA_DIR: dataDir })));
}

export const pgliteDirOf = (dataDir: string) => join(dataDir, 'pglite');

export interface GraphqlAnswer {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly { readonly message: string; readonly errorType: string; readonly errorInfo?: unknown }[];
}

/** POSTs one GraphQL request as `token`; a refused or dropped connection rejects (the caller never heard back). */
export async function graphql(url: string, token: string, query: string, variables: Record<string, unknown> = {}, timeoutMs = 30_000, headers: Record<string, string> = {}): Promise<GraphqlAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: token, ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await response.json()) as GraphqlAnswer;
}
