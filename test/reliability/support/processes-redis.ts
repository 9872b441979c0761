import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './processes.ts';

/*
 * A redis-server of the test's own on a free TCP port (the server under test connects as it would to
 * ElastiCache), which the test may kill and start again on the same port. It saves nothing by itself
 * (`--save ""`, no AOF); `snapshot()` writes dump.rdb on demand, and a start loads it if it is there,
 * which is how a Redis restarted from a snapshot (or a replica promoted after a failover) comes back
 * with data older than its last writes.
 */

export interface RedisProcess {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** A client of the test's own, to look at keys (reconnects by itself after a restart). */
  readonly client: Redis;
  /** SAVE: the data as it is now goes to dump.rdb, which the next start loads. */
  snapshot(): Promise<void>;
  /** SIGKILL: nothing is saved. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and folder; resolves once it answers. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedisProcess(): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'loglineos-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 100 });
  client.on('error', () => undefined); // the test stops this Redis on purpose

  const spawnServer = async () => {
    let spawnError: Error | undefined;
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    child.on('error', (error) => (spawnError = error));
    for (let attempt = 0; ; attempt += 1) {
      if (spawnError) throw new Error(`redis-server could not be started (${spawnError.message}); install Redis (the redis-server package)`);
      try {
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch {
        if (attempt >= 200) throw new Error(`redis-server on port ${port} did not answer within 20 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const kill9 = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  await spawnServer();
  return {
    url: `redis://127.0.0.1:${port}`,
    client,
    snapshot: async () => void (await client.call('SAVE')),
    kill9,
    start: spawnServer,
    async close() {
      client.disconnect();
      await kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
