import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';

/*
 * A throwaway PostgreSQL cluster of the test's own (initdb into a fresh folder under /tmp, a free
 * port, trust authentication on 127.0.0.1 only), so that a test may stop and start it mid-load while
 * the other test files keep using the shared cluster on 5432. initdb and the server refuse to run as
 * root; as root they run as the `postgres` user (the Debian packages create it), which owns the folder.
 */

export interface PostgresCluster {
  readonly port: number;
  /** A connection string to one of its databases, as the superuser `postgres`. */
  url(database: string): string;
  /** `pg_ctl stop -m immediate`: the postmaster and every backend are killed at once, no checkpoint (a crash). */
  stopImmediate(): void;
  /** `pg_ctl start -w`: crash recovery, then accepting connections. */
  start(): void;
  /** Stops it if running and removes its files. */
  destroy(): void;
}

/** The folder of the PostgreSQL server programs: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config on PATH: look where Debian installs the server
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) {
    throw new Error('no PostgreSQL server programs found (initdb, pg_ctl): install the postgresql package, or put its bin folder on PATH via pg_config');
  }
  return join(root, versions[0]!, 'bin');
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'loglineos-pg-'));
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  const run = (program: string, args: readonly string[]) => {
    const command = root ? 'runuser' : join(bin, program);
    const argv = root ? ['-u', 'postgres', '--', join(bin, program), ...args] : [...args];
    try {
      execFileSync(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, timeout: 60_000 });
    } catch (error) {
      const e = error as { stderr?: Buffer; stdout?: Buffer };
      const log = existsSync(join(dir, 'log')) ? execFileSync('tail', ['-n', '20', join(dir, 'log')], { encoding: 'utf8' }) : '';
      throw new Error(`${program} ${args.join(' ')} failed: ${e.stderr?.toString() ?? ''}${e.stdout?.toString() ?? ''}\n${log}`);
    }
  };
  // fsync off: the faults injected are process crashes, never a crash of the machine, so what a
  // commit wrote is in the OS page cache either way; it keeps initdb and commits quick on a busy CI disk.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const cluster: PostgresCluster = {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stopImmediate: () => run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']),
    start: () => run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']),
    destroy: () => {
      if (existsSync(join(data, 'postmaster.pid'))) {
        try {
          cluster.stopImmediate();
        } catch {
          // already gone; its files are removed below either way
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    cluster.start();
  } catch (error) {
    cluster.destroy();
    throw error;
  }
  return cluster;
}
