import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDatabase, migrate, openPostgres, type Database } from '../../functions/commons/db/index.ts';
import { SEEDS } from '../../functions/deploy/seeds.ts';
import { applySeeds, ledgerMigrations, verifyChain } from '../../functions/ledger/index.ts';
import { openIssuer, type LocalIssuer } from '../../local/issuer.ts';
import { createLocalServer, type LocalServer } from '../../local/server.ts';
import { testSigner } from '../support/ledger.ts';
import { scale } from './scale.ts';

/** Start-ups of real processes on a loaded 2-core CI machine can take tens of seconds each; the size stays bounded. */
const LOADED_MACHINE_TIMEOUT_MS = scale(300_000, 1_200_000);
import { graphql, type GraphqlAnswer } from './support/processes.ts';
import { startPostgresCluster, type PostgresCluster } from './support/processes-postgres.ts';

/*
 * PostgreSQL stopped (immediate mode: the postmaster and its backends killed, as in a crash or a
 * failover) and started again under load. The shared cluster on 5432 is never touched: the test runs
 * its own cluster (support/processes-postgres.ts), on either backend of the suite. The API (the local
 * server, the same pg pool as production) takes appends from 6 clients and memories from 2 more.
 * - While the database is down, every request fails with errorType ServiceUnavailable (retryable, the
 *   message says what to do), quickly: no request waits out a pool or TCP timeout.
 * - Once it is back, the same server answers again without a restart (the pool recovers by itself).
 * - Nothing is half-written: the clients' retries of every refused append (same id, seq and content)
 *   succeed, every chain verifies and holds each span once, and every memory has its audit span and
 *   its index row (one transaction, all or nothing).
 */

const SPAN_CLIENTS = 6;
const MEMORY_CLIENTS = 2;
const TENANTS = ['acme', 'globex', 'initech'] as const;
/** Restarts of the database, each after this many more acknowledged writes. */
const RESTARTS = scale(1, 5);
const ACKS_BEFORE_STOP = scale(80, 300);
/** Refusals to see while it is down (per client, at least), before it is started again. */
const REFUSALS_WHILE_DOWN = scale(2, 10);
/** Generous: a refusal must come back in this time, where a hang would wait out a timeout. */
const FAST_MS = 10_000;

const APPEND = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq currHash } }';
const REMEMBER = 'mutation Remember($input: MemoryInput!) { upsertMemory(input: $input) { id seq } }';

const suffix = randomBytes(3).toString('hex');
const tenantOf = (client: number) => `${TENANTS[client % TENANTS.length]}-${suffix}`;
const userOf = (client: number) => `client${client}-${suffix}`;

let cluster: PostgresCluster | undefined;
let db: Database | undefined;
let server: LocalServer | undefined;
let url = '';
let dir = '';
let issuer: LocalIssuer;
const tokens: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loglineos-pgrestart-'));
  cluster = await startPostgresCluster();
  await createDatabase(cluster.url('postgres'), 'loglineos');
  db = openPostgres({ connectionString: cluster.url('loglineos'), max: 10 });
  await migrate(db, ledgerMigrations());
  await applySeeds({ db, signer: testSigner }, SEEDS);
  issuer = await openIssuer(join(dir, 'issuer.json'));
  const env: NodeJS.ProcessEnv = { LOGLINEOS_DATA_DIR: dir, MEMORY_EMBEDDINGS: 'local', PATH: process.env.PATH };
  server = await createLocalServer({ ledger: { db, signer: testSigner }, apiKey: 'da2-reliability', issuer, env, fanoutWorkers: 0 });
  url = await server.listen(0);
  for (let client = 0; client < SPAN_CLIENTS + MEMORY_CLIENTS; client += 1) tokens.push(await issuer.issue({ user: userOf(client), tenant: tenantOf(client) }));
});

afterAll(async () => {
  await server?.close();
  await db?.close();
  cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly client: number;
  readonly input: Record<string, unknown>;
  readonly at: number;
  readonly ms: number;
  readonly answer: GraphqlAnswer;
}

class Load {
  readonly outcomes: Outcome[] = [];
  private running = true;
  private readonly done: Promise<void>[] = [];

  constructor() {
    for (let client = 0; client < SPAN_CLIENTS + MEMORY_CLIENTS; client += 1) this.done.push(this.run(client));
  }

  private async run(client: number): Promise<void> {
    for (let n = 0; this.running; n += 1) {
      const memory = client >= SPAN_CLIENTS;
      const input: Record<string, unknown> = memory
        ? { content: JSON.stringify({ text: `note ${n} of ${userOf(client)}` }), visibility: 'tenant' }
        : { id: randomUUID(), seq: 0, entityType: 'note', who: `user:${userOf(client)}`, did: 'wrote', this: `restart c${client} #${n}`, visibility: 'tenant' };
      const started = performance.now();
      const answer = await graphql(url, tokens[client]!, memory ? REMEMBER : APPEND, { input }, 60_000, { 'x-logline-memory': 'on' });
      this.outcomes.push({ client, input, at: started, ms: performance.now() - started, answer });
      // A refused client backs off a little, as a real one would.
      if (answer.errors) await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  acked(): Outcome[] {
    return this.outcomes.filter((outcome) => !outcome.answer.errors);
  }

  async until(condition: () => boolean, what: string, timeoutMs = scale(60_000, 300_000)): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.done);
  }
}

describe('PostgreSQL stopped and started again under load', () => {
  test(`${SPAN_CLIENTS + MEMORY_CLIENTS} clients, ${RESTARTS} immediate stop(s): refusals are fast ServiceUnavailable, the pool recovers, nothing is half-written`, async () => {
    const load = new Load();
    const windows: { down: number; up: number }[] = [];
    try {
      for (let restart = 0; restart < RESTARTS; restart += 1) {
        // Prepare: writes are acknowledged.
        const before = load.acked().length;
        await load.until(() => load.acked().length - before >= ACKS_BEFORE_STOP, `${ACKS_BEFORE_STOP} writes were acknowledged`);
        // Act: the database stops; every client is refused a few times; it starts again.
        const down = performance.now();
        cluster!.stopImmediate();
        await load.until(
          () => Array.from({ length: SPAN_CLIENTS + MEMORY_CLIENTS }, (_, client) => load.outcomes.filter((o) => o.client === client && o.at > down && o.answer.errors).length).every((n) => n >= REFUSALS_WHILE_DOWN),
          'every client was refused while the database was down (a request that hangs never is)',
        );
        const up = performance.now();
        cluster!.start();
        windows.push({ down, up });
        // The same server (same pool) answers every client again.
        await load.until(
          () => Array.from({ length: SPAN_CLIENTS + MEMORY_CLIENTS }, (_, client) => load.outcomes.some((o) => o.client === client && o.at > up && !o.answer.errors)).every(Boolean),
          'every client was answered again after the database came back',
        );
      }
    } finally {
      await load.stop();
    }

    // Assess: every refusal is the retryable ServiceUnavailable, none waited long.
    const refused = load.outcomes.filter((outcome) => outcome.answer.errors);
    const types = new Set(refused.flatMap((outcome) => outcome.answer.errors!.map((error) => error.errorType)));
    expect([...types]).toEqual(['ServiceUnavailable']);
    const first = refused[0]!.answer.errors![0]!;
    // The message says what happened and what to do; it names no host, port or driver text.
    expect(first.message).toMatch(/^the ledger database is unavailable \(.+\); the request was not completed\. Retry in a few seconds/);
    expect(first.message).not.toContain(String(cluster!.port));
    const slowest = Math.max(...refused.map((outcome) => outcome.ms));
    expect(slowest).toBeLessThan(FAST_MS);

    // and retrying every refused append (same id, seq, content) succeeds: no Conflict with a half-done first try
    const spans = new Map<string, { tenant: string; chainSeq: number; currHash: string }>();
    for (const outcome of load.acked().filter((o) => o.client < SPAN_CLIENTS)) {
      const stored = outcome.answer.data!.appendSpan as { id: string; chainSeq: number; currHash: string };
      spans.set(stored.id, { tenant: tenantOf(outcome.client), chainSeq: stored.chainSeq, currHash: stored.currHash });
    }
    const refusedAppends = refused.filter((o) => o.client < SPAN_CLIENTS);
    // Refused, yet committed: the commit went out just before the connection died (the client cannot know).
    const [{ n: committedUnacknowledged } = { n: 0 }] = await db!.withOwner((tx) =>
      tx.query<{ n: number }>('select count(*)::int as n from ledger.universal_registry where id = any($1::uuid[])', [refusedAppends.map((o) => o.input.id)]),
    );
    for (const outcome of refusedAppends) {
      const retry = await graphql(url, tokens[outcome.client]!, APPEND, { input: outcome.input });
      expect(retry.errors, `retry of ${String(outcome.input.id)}`).toBeUndefined();
      const stored = retry.data!.appendSpan as { id: string; chainSeq: number; currHash: string };
      spans.set(stored.id, { tenant: tenantOf(outcome.client), chainSeq: stored.chainSeq, currHash: stored.currHash });
    }

    // and each chain verifies and holds exactly the spans appended, once each
    const ledger = { db: db!, signer: testSigner };
    for (const tenant of TENANTS.map((_, index) => tenantOf(index))) {
      const report = await verifyChain(ledger, tenant);
      const notes = [...spans.values()].filter((span) => span.tenant === tenant);
      const memoryWrites = load.acked().filter((o) => o.client >= SPAN_CLIENTS && tenantOf(o.client) === tenant).length;
      expect(report.ok, JSON.stringify(report.failure)).toBe(true);
      expect(report.checked).toBeGreaterThanOrEqual(notes.length + 2 * memoryWrites);
    }
    const [counts] = await db!.withOwner((tx) =>
      tx.query<{ notes: number; distinct_notes: number; memories: number; audits: number; indexed: number }>(
        `select count(*) filter (where entity_type = 'note')::int as notes,
                count(distinct id) filter (where entity_type = 'note')::int as distinct_notes,
                count(*) filter (where entity_type = 'memory')::int as memories,
                count(*) filter (where entity_type = 'memory_audit')::int as audits,
                (select count(*)::int from ledger.memory_index) as indexed
           from ledger.universal_registry where owner_id like $1`,
        [`%-${suffix}`],
      ),
    );
    expect(counts).toEqual({ notes: spans.size, distinct_notes: spans.size, memories: counts!.audits, audits: counts!.audits, indexed: counts!.memories });
    expect(counts!.memories).toBeGreaterThanOrEqual(load.acked().filter((o) => o.client >= SPAN_CLIENTS).length);

    console.log(
      JSON.stringify({
        test: 'postgres-restart',
        clients: SPAN_CLIENTS + MEMORY_CLIENTS,
        restarts: RESTARTS,
        acknowledged: load.acked().length,
        refused: refused.length,
        slowestRefusalMs: Math.round(slowest),
        downMs: windows.map((w) => Math.round(w.up - w.down)),
        retried: refusedAppends.length,
        committedUnacknowledged,
        memories: counts!.memories,
        lost: 0,
      }),
    );
  }, LOADED_MACHINE_TIMEOUT_MS);
});

/*
 * Found by the full real-time drops run on PostgreSQL: 500 subscribers catching up at once queued
 * hundreds of timeline reads in the pool, an append waited behind them past the pool's connect
 * timeout and was refused as if the database were down. Writers now go before snapshot readers, and
 * a full pool is reported as busy, not as an outage.
 */
describe('the pool when every connection is in use', () => {
  const who = { userId: `pool-${suffix}`, tenantId: tenantOf(0) };

  test('a writer goes before snapshot readers that were queued first', async () => {
    const small = openPostgres({ connectionString: cluster!.url('loglineos'), max: 2 });
    try {
      const finished: string[] = [];
      const read = (n: number) =>
        small.withSession(who, (tx) => tx.query('select pg_sleep(0.05)'), { snapshot: true }).then(() => void finished.push(`read ${n}`));
      // given both connections busy and ten more readers waiting
      const reads = Array.from({ length: 12 }, (_, n) => read(n));
      // when a writer asks for a connection after all of them
      const write = small.withSession(who, (tx) => tx.query('select 1')).then(() => void finished.push('write'));
      await Promise.all([...reads, write]);
      // then it is served as soon as a connection is free: after the two readers already running
      expect(finished.indexOf('write')).toBeLessThanOrEqual(2);
      expect(finished).toHaveLength(13);
    } finally {
      await small.close();
    }
  }, LOADED_MACHINE_TIMEOUT_MS);

  test('an idle pool keeps its `min` connections open: the first request after a pause opens none', async () => {
    const backendAfterPause = async (min: number) => {
      const pool = openPostgres({ connectionString: cluster!.url('loglineos'), max: 2, min, idleTimeoutMs: 100 });
      try {
        const pid = (await pool.withSession(who, (tx) => tx.query<{ pid: number }>('select pg_backend_pid() as pid')))[0]?.pid;
        // a pause four times the idle timeout
        await new Promise((resolve) => setTimeout(resolve, 400));
        const after = (await pool.withSession(who, (tx) => tx.query<{ pid: number }>('select pg_backend_pid() as pid')))[0]?.pid;
        return { pid, after };
      } finally {
        await pool.close();
      }
    };
    // given a pool with min 1, when a request comes after a pause, then it runs on the connection already open
    const warm = await backendAfterPause(1);
    expect(warm.after).toBe(warm.pid);
    // and: with min 0 (pg-pool's default) the pause closed it and the request had to open another
    const cold = await backendAfterPause(0);
    expect(cold.after).not.toBe(cold.pid);
  }, LOADED_MACHINE_TIMEOUT_MS);

  test('a request that finds every connection busy past the queue timeout is refused as busy, and the next one is served', async () => {
    const single = openPostgres({ connectionString: cluster!.url('loglineos'), max: 1, queueTimeoutMs: 200 });
    try {
      // given the only connection held by an open transaction
      let finish = () => undefined as void;
      const holding = single.withSession(who, () => new Promise<void>((resolve) => (finish = resolve)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      // when another request waits past the queue timeout
      const refused = await single.withSession(who, (tx) => tx.query('select 1')).then(
        () => null,
        (error: unknown) => error as { errorType?: string; errorInfo?: Record<string, unknown>; message: string },
      );
      // then it is refused as busy (retryable), not as a database that went away
      expect(refused?.errorType).toBe('ServiceUnavailable');
      expect(refused?.errorInfo).toMatchObject({ reason: 'busy', retryable: true });
      expect(refused?.message).toMatch(/busy: no database connection was free within 200 ms \(1 in use, 1 waiting\)/);
      finish();
      await holding;
      // and the connection serves the next request
      await expect(single.withSession(who, (tx) => tx.query<{ one: number }>('select 1 as one'))).resolves.toEqual([{ one: 1 }]);
    } finally {
      await single.close();
    }
  }, LOADED_MACHINE_TIMEOUT_MS);
});
