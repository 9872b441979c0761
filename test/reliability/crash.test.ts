import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { LocalIssuer } from '../../local/issuer.ts';
import { backend, openTestDatabase } from '../support/ledger.ts';
import { scale } from './scale.ts';

/** Start-ups of real processes on a loaded 2-core CI machine can take tens of seconds each; the size stays bounded. */
const LOADED_MACHINE_TIMEOUT_MS = scale(300_000, 1_200_000);
import { graphql, issuerOf, pgliteDirOf, startServerProcess, type ServerProcess } from './support/processes.ts';

/*
 * kill -9 of the server under write load. The real server (`loglineos serve`, a child process) takes
 * appends from 8 clients, each choosing its spans' ids; once enough are acknowledged it is killed
 * mid-load with SIGKILL (no handler runs, nothing is flushed or closed) and started again on the same
 * data: the PGlite folder, or the test's own PostgreSQL database. Then:
 * - every acknowledged span is there, unchanged (same hash, same chain position), and still seq 0;
 * - every span a client never heard back about, retried with the same id, seq and content, succeeds
 *   (no Conflict for the caller's own retry, whether the first try was committed or not);
 * - the acknowledged spans retried once more return the stored span (no second row);
 * - every chain verifies (hashes, signatures, prev_hash links, chain_seq without gaps) and holds
 *   exactly the spans sent, once each.
 */

const CLIENTS = 8;
/** Crash rounds: each is load, kill -9, restart, retries, checks. */
const ROUNDS = scale(1, 3);
/** Acknowledged appends per round before the kill. */
const ACKS_BEFORE_KILL = scale(120, 500);
const TENANTS = ['acme', 'globex', 'initech'] as const;

const APPEND = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq currHash } }';

interface Sent {
  readonly client: number;
  readonly tenant: string;
  readonly input: Record<string, unknown>;
}
interface Stored {
  readonly id: string;
  readonly seq: number;
  readonly chainSeq: number;
  readonly currHash: string;
}

const suffix = randomBytes(3).toString('hex');
const tenantOf = (client: number) => `${TENANTS[client % TENANTS.length]}-${suffix}`;
const userOf = (client: number) => `writer${client}-${suffix}`;

let dataDir = '';
let databaseUrl: string | undefined;
let closeDatabase: () => Promise<void> = async () => undefined;
let issuer: LocalIssuer;
let server: ServerProcess | undefined;
const tokens: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'loglineos-crash-'));
  if (backend === 'pglite') {
    // The suite's migrated template, unpacked as the server's data folder: no initdb or migrations here.
    mkdirSync(pgliteDirOf(dataDir), { recursive: true });
    execFileSync('tar', ['-xf', inject('template'), '-C', pgliteDirOf(dataDir)], { stdio: 'ignore' });
  } else {
    const database = await openTestDatabase();
    databaseUrl = database.url;
    closeDatabase = database.close;
  }
  issuer = await issuerOf(dataDir);
  for (let client = 0; client < CLIENTS; client += 1) tokens.push(await issuer.issue({ user: userOf(client), tenant: tenantOf(client) }));
});

afterAll(async () => {
  await server?.kill9();
  await closeDatabase();
  rmSync(dataDir, { recursive: true, force: true });
});

const start = () => startServerProcess({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });

/** Appends as `client` until the connection fails; returns what was acknowledged and what was not. */
async function writeUntilCrash(url: string, client: number, round: number, acked: Map<string, Stored & Sent>, stop: { killing: boolean }): Promise<Sent[]> {
  for (let n = 0; ; n += 1) {
    const input: Record<string, unknown> = {
      id: randomUUID(),
      seq: 0,
      entityType: 'note',
      who: `user:${userOf(client)}`,
      did: 'wrote',
      this: `crash r${round} c${client} #${n}`,
      visibility: 'tenant',
      content: JSON.stringify({ round, client, n, pad: 'x'.repeat(n % 200) }),
      // Half the clients leave `at` to the server: their retries must still be recognised as theirs.
      ...(client % 2 === 0 ? { at: new Date().toISOString() } : {}),
    };
    const sent: Sent = { client, tenant: tenantOf(client), input };
    let answer;
    try {
      answer = await graphql(url, tokens[client]!, APPEND, { input });
    } catch {
      // The server is gone: this span's outcome is unknown to the client.
      return [sent];
    }
    const stored = answer.data?.appendSpan as Stored | undefined;
    if (!stored) {
      if (stop.killing) return [sent];
      throw new Error(`append refused before the crash: ${JSON.stringify(answer.errors)}`);
    }
    acked.set(stored.id, { ...sent, ...stored });
  }
}

/** Reads spans by id through the API, 50 to a request (aliases), as the given client. */
async function readSpans(url: string, client: number, ids: readonly string[]): Promise<Map<string, Stored | null>> {
  const found = new Map<string, Stored | null>();
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids.slice(i, i + 50);
    const query = `query Read(${batch.map((_, k) => `$i${k}: ID!`).join(', ')}) { ${batch.map((_, k) => `s${k}: span(id: $i${k}) { id seq chainSeq currHash }`).join(' ')} }`;
    const answer = await graphql(url, tokens[client]!, query, Object.fromEntries(batch.map((id, k) => [`i${k}`, id])));
    expect(answer.errors).toBeUndefined();
    batch.forEach((id, k) => found.set(id, (answer.data?.[`s${k}`] as Stored | null) ?? null));
  }
  return found;
}

describe(`kill -9 of the server under write load (${backend})`, () => {
  test(`${CLIENTS} clients, ${ROUNDS} crash round(s) of ${ACKS_BEFORE_KILL} acknowledged appends each: nothing acknowledged is lost, retries are idempotent, chains are whole`, async () => {
    const acked = new Map<string, Stored & Sent>();
    const figures = { rounds: ROUNDS, acknowledged: 0, unacknowledged: 0, committedUnacknowledged: 0, retried: 0, lost: 0 };
    server = await start();
    for (let round = 0; round < ROUNDS; round += 1) {
      // Prepare: the load runs until enough appends are acknowledged, then the server is killed mid-load.
      const stop = { killing: false };
      const before = acked.size;
      let refused: unknown;
      const writers = Array.from({ length: CLIENTS }, (_, client) =>
        writeUntilCrash(server!.url, client, round, acked, stop).catch((error: unknown) => {
          refused ??= error;
          return [];
        }),
      );
      while (acked.size - before < ACKS_BEFORE_KILL) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (refused) throw refused;
        if (server.child.exitCode !== null) throw new Error(`the server exited under load:\n${server.output()}`);
      }
      stop.killing = true;
      await server.kill9();
      const unacked = (await Promise.all(writers)).flat();
      expect(unacked).toHaveLength(CLIENTS); // one span in flight (or refused) per client

      // Act: start again on the same data; the clients retry what they never heard back about.
      server = await start();
      const url = server.url;
      const committedBefore = await Promise.all(unacked.map(async (sent) => (await readSpans(url, sent.client, [String(sent.input.id)])).get(String(sent.input.id))));
      figures.committedUnacknowledged += committedBefore.filter((span) => span !== null).length;
      for (const sent of unacked) {
        const answer = await graphql(url, tokens[sent.client]!, APPEND, { input: sent.input });
        expect(answer.errors, `retry of ${String(sent.input.id)}`).toBeUndefined();
        const stored = answer.data?.appendSpan as Stored;
        expect(stored).toMatchObject({ id: sent.input.id, seq: 0 });
        acked.set(stored.id, { ...sent, ...stored });
      }
      // and the last acknowledged span of each client, sent again, is the stored one (no second row)
      for (let client = 0; client < CLIENTS; client += 1) {
        const last = [...acked.values()].filter((span) => span.client === client && !unacked.some((u) => u.input.id === span.id)).pop();
        if (!last) continue;
        const answer = await graphql(url, tokens[client]!, APPEND, { input: last.input });
        expect(answer.errors).toBeUndefined();
        expect(answer.data?.appendSpan).toEqual({ id: last.id, seq: 0, chainSeq: last.chainSeq, currHash: last.currHash });
        figures.retried += 1;
      }
      figures.unacknowledged += unacked.length;
      figures.retried += unacked.length;
    }
    figures.acknowledged = acked.size - figures.unacknowledged;

    // Assess: every span is stored once, as acknowledged, at the position acknowledged.
    const url = server.url;
    for (let client = 0; client < CLIENTS; client += 1) {
      const mine = [...acked.values()].filter((span) => span.client === client);
      const stored = await readSpans(url, client, mine.map((span) => span.id));
      for (const span of mine) {
        const found = stored.get(span.id);
        if (!found || found.currHash !== span.currHash || found.chainSeq !== span.chainSeq || found.seq !== 0) figures.lost += 1;
        expect(found, `span ${span.id} of client ${client}`).toEqual({ id: span.id, seq: 0, chainSeq: span.chainSeq, currHash: span.currHash });
      }
    }
    // and each tenant's chain verifies and holds exactly its spans, at positions 1..n without a gap
    for (const [index] of TENANTS.entries()) {
      const tenant = tenantOf(index);
      const mine = [...acked.values()].filter((span) => span.tenant === tenant);
      const answer = await graphql(url, tokens[index]!, 'query V($t: String) { verifyLedger(tenantId: $t) { ok checked failure { code reason } head { chainSeq } } }', { t: tenant });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.verifyLedger).toMatchObject({ ok: true, checked: mine.length, failure: null });
      expect(new Set(mine.map((span) => span.chainSeq)).size).toBe(mine.length);
    }
    console.log(JSON.stringify({ test: 'crash', backend, clients: CLIENTS, ...figures }));
    expect(figures.lost).toBe(0);
    await server.stop();
    server = undefined;
  }, LOADED_MACHINE_TIMEOUT_MS);
});
