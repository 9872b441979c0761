import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { subscribeTimeline, type TimelineEvent, type TimelineSubscription, type WebSocketConstructor } from '../../client/index.ts';
import type { IamAuth } from '../../client/iam.ts';
import { decodeCursor } from '../../functions/ledger/cursor.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { seededRandom } from '../support/random.ts';
import { scale } from './scale.ts';

/*
 * Subscribers whose sockets are dropped at random while spans are appended: each one uses the typed
 * client's subscribeTimeline (reconnect, then timeline(after: cursor) before live events), and at
 * the end each has exactly the spans its caller may read, once each, in each writer's order.
 *
 * Faults, at random through the write phase: a subscriber's socket terminated by the client (no
 * close frame, as when a process dies), closed by the client, every socket dropped by the server
 * (terminate), and a fan-out child process killed with SIGKILL (its subscribers lose the server
 * side of their socket at once; the pool starts a new child when they reconnect).
 */

const SUBSCRIBERS = scale(40, 500);
const APPENDS = scale(200, 2000);
const WRITER_LANES = 4;
const SEED = Number(process.env.LOGLINEOS_SEED ?? 15_2);

const suffix = randomBytes(3).toString('hex');
const type = `drops_${suffix}`;
const APPEND = 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id cursor } }';
const reader = { accessKeyId: 'AKIALOCALDROPS000001', secretAccessKey: randomBytes(20).toString('base64'), userArn: 'arn:aws:iam::000000000000:role/loglineos-drops-reader' };

interface Persona {
  readonly name: string;
  readonly user: string | null;
  readonly tenant: string | null;
  auth: { apiKey: string } | { token: string } | IamAuth;
}

interface Subscriber {
  readonly persona: Persona;
  readonly received: TimelineEvent[];
  readonly errors: Error[];
  socket: WebSocket | null;
  subscription?: TimelineSubscription;
}

interface Written {
  readonly id: string;
  readonly owner: Persona;
  readonly visibility: string;
  readonly lane: number;
  readonly cursor: string;
}

let t: TestServer;
const personas: Persona[] = [];
beforeAll(async () => {
  t = await startTestServer({ iam: [reader], keepAliveMs: 1000, fanoutWorkers: 2 });
  for (const tenant of ['acme', 'globex', 'initech']) {
    for (const name of ['ann', 'bob', 'cy']) {
      const user = `${name}-${tenant}-${suffix}`;
      personas.push({ name: user, user, tenant: `${tenant}-${suffix}`, auth: { token: await t.issuer.issue({ user, tenant: `${tenant}-${suffix}` }) } });
    }
  }
  personas.push({ name: 'api-key', user: null, tenant: null, auth: { apiKey: 'da2-test' } });
  personas.push({ name: 'iam', user: `iam:${reader.userArn}`, tenant: null, auth: { iam: { region: 'us-east-1', credentials: reader } } });
});
afterAll(() => t.close());

/** The database's read rule (SPEC §3.3). */
const mayRead = (persona: Persona, span: Written) =>
  span.visibility === 'public' ||
  (persona.user !== null && persona.user === span.owner.user) ||
  (span.visibility === 'tenant' && persona.tenant !== null && persona.tenant === span.owner.tenant);

async function until(check: () => boolean, what: () => string, seconds: number): Promise<void> {
  for (let waited = 0; waited < seconds * 1000; waited += 50) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${seconds} s waiting for ${what()}`);
}

describe('real-time subscribers dropped at random', () => {
  test(`${SUBSCRIBERS} subscribers, ${APPENDS} appends: each ends with exactly the spans it may read, in order, once each`, async () => {
    const random = seededRandom(SEED);
    // given subscribers of every persona (9 users of 3 tenants, the API key, an IAM role)
    const subscribers: Subscriber[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 1) {
      const subscriber: Subscriber = { persona: personas[i % personas.length] as Persona, received: [], errors: [], socket: null };
      // The client's sockets, kept so the test can drop them as a dying process or network would.
      const Tracked = class extends WebSocket {
        constructor(url: string, protocols: string[]) {
          super(url, protocols);
          subscriber.socket = this;
        }
      };
      subscriber.subscription = subscribeTimeline({
        url: t.url,
        auth: subscriber.persona.auth,
        filter: { entityTypes: [type] },
        onEvent: (event) => subscriber.received.push(event),
        onError: (error) => subscriber.errors.push(error),
        WebSocket: Tracked as unknown as WebSocketConstructor,
        reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
      });
      subscribers.push(subscriber);
    }
    await Promise.all(subscribers.map((s) => s.subscription?.ready));

    // when writers append in parallel lanes while sockets are dropped at random
    const writers = personas.filter((p) => p.user !== null && p.tenant !== null);
    const written: Written[] = [];
    const faults = { clientTerminate: 0, clientClose: 0, serverDropAll: 0, childKilled: 0 };
    let writing = true;
    const dropper = (async () => {
      while (writing) {
        await new Promise((resolve) => setTimeout(resolve, 20 + random() * 80));
        const roll = random();
        if (roll < 0.02) {
          const pids = t.server.realtime.fanoutPids;
          const pid = pids[Math.floor(random() * pids.length)];
          if (pid !== undefined) {
            process.kill(pid, 'SIGKILL');
            faults.childKilled += 1;
          }
        } else if (roll < 0.05) {
          t.server.realtime.disconnectAll();
          faults.serverDropAll += 1;
        } else {
          for (let n = 1 + Math.floor(random() * 5); n > 0; n -= 1) {
            const victim = subscribers[Math.floor(random() * subscribers.length)];
            const socket = victim?.socket;
            if (!socket || socket.readyState !== WebSocket.OPEN) continue;
            if (random() < 0.7) {
              socket.terminate();
              faults.clientTerminate += 1;
            } else {
              socket.close();
              faults.clientClose += 1;
            }
          }
        }
      }
    })();
    const lane = async (laneIndex: number, count: number) => {
      for (let i = 0; i < count; i += 1) {
        const owner = writers[Math.floor(random() * writers.length)] as Persona;
        const visibility = (['private', 'tenant', 'public'] as const)[Math.floor(random() * 3)] as string;
        const response = await fetch(t.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: (owner.auth as { token: string }).token },
          body: JSON.stringify({ query: APPEND, variables: { input: { entityType: type, who: owner.name, did: 'wrote', this: `${laneIndex}.${i}`, visibility } } }),
        });
        const body = (await response.json()) as { data?: { appendSpan: { id: string; cursor: string } }; errors?: unknown };
        if (!body.data) throw new Error(`append failed: ${JSON.stringify(body.errors)}`);
        written.push({ id: body.data.appendSpan.id, owner, visibility, lane: laneIndex, cursor: body.data.appendSpan.cursor });
      }
    };
    await Promise.all(Array.from({ length: WRITER_LANES }, (_, l) => lane(l, Math.floor(APPENDS / WRITER_LANES) + (l < APPENDS % WRITER_LANES ? 1 : 0))));
    writing = false;
    await dropper;

    // then every subscriber catches up to exactly what it may read
    const expectedOf = (s: Subscriber) => written.filter((span) => mayRead(s.persona, span));
    await until(
      () => subscribers.every((s) => s.received.length >= expectedOf(s).length),
      () => {
        const behind = subscribers.filter((s) => s.received.length < expectedOf(s).length);
        const states = behind.slice(0, 5).map((s) => `${s.persona.name} has ${s.received.length}/${expectedOf(s).length}, socket ${s.socket?.readyState}, errors ${s.errors.slice(-2).map((e) => e.message).join(' | ')}`);
        return `${behind.length} subscribers still behind: ${states.join('; ')}`;
      },
      scale(90, 600),
    );
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late duplicate would show here
    for (const s of subscribers) s.subscription?.close();

    const problems: string[] = [];
    const laneOf = new Map(written.map((w) => [w.id, w.lane]));
    const writtenAt = new Map(written.map((w, i) => [w.id, i]));
    const cursorOf = new Map(written.map((w) => [w.id, decodeCursor(w.cursor)]));
    /** The timeline's order: (writing transaction, position). */
    const timelineBefore = (a: string, b: string) => {
      const x = cursorOf.get(a)!;
      const y = cursorOf.get(b)!;
      return BigInt(x.txId) < BigInt(y.txId) || (x.txId === y.txId && x.position < y.position);
    };
    // Where the timeline orders two spans of one lane against the order they were acknowledged in
    // (PostgreSQL's transaction ids are taken when a transaction starts writing, not when it commits),
    // live delivery and backfill may each follow their own order; those pairs are counted, not judged.
    let timelineInversions = 0;
    for (let l = 0; l < WRITER_LANES; l += 1) {
      const lane = written.filter((w) => w.lane === l);
      for (let i = 1; i < lane.length; i += 1) if (timelineBefore(lane[i]!.id, lane[i - 1]!.id)) timelineInversions += 1;
    }
    for (const [index, s] of subscribers.entries()) {
      const ids = s.received.map((e) => e.span?.id ?? `(no span at ${e.cursor})`);
      const expected = new Set(expectedOf(s).map((w) => w.id));
      const got = new Set(ids);
      const missing = [...expected].filter((id) => !got.has(id)).length;
      const extra = ids.filter((id) => !expected.has(id)).length;
      const duplicates = ids.length - got.size;
      // Each lane appends one span after another: no two of its spans may arrive by the same way
      // (live, or read back from the timeline) in the reverse of the order both the lane and the
      // timeline give them. A span the timeline held back comes by a later read, after newer live ones.
      let outOfOrder = 0;
      const sourceOf = new Map(s.received.map((e) => [e.span?.id, e.source]));
      for (let l = 0; l < WRITER_LANES; l += 1) for (const source of ['live', 'backfill']) {
        const mine = ids.filter((id) => laneOf.get(id) === l && sourceOf.get(id) === source);
        for (let i = 1; i < mine.length; i += 1) {
          const [a, b] = [mine[i - 1]!, mine[i]!];
          if (writtenAt.get(b)! < writtenAt.get(a)! && timelineBefore(b, a)) outOfOrder += 1;
        }
      }
      if (missing || extra || duplicates || outOfOrder) problems.push(`subscriber ${index} (${s.persona.name}): missing ${missing}, not allowed ${extra}, duplicates ${duplicates}, lanes out of order ${outOfOrder}`);
    }
    const received = subscribers.reduce((sum, s) => sum + s.received.length, 0);
    const backfilled = subscribers.reduce((sum, s) => sum + s.received.filter((e) => e.source === 'backfill').length, 0);
    console.log(`realtime-drops: ${SUBSCRIBERS} subscribers, ${APPENDS} appends in ${WRITER_LANES} lanes, faults ${JSON.stringify(faults)}, lane pairs the timeline orders against their acknowledgement ${timelineInversions}, events delivered ${received} (${backfilled} by backfill), problems ${problems.length}`);
    expect(problems).toEqual([]);
    // the faults happened: some events only reached their subscribers through the backfill
    expect(faults.clientTerminate + faults.clientClose + faults.serverDropAll).toBeGreaterThan(0);
    expect(backfilled).toBeGreaterThan(0);
  }, scale(180_000, 1_800_000));
});
