import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { asDatabaseFailure, openPglite, type Database } from '../../functions/commons/db/index.ts';
import { GroupCommitter } from '../../functions/ledger/group-commit.ts';
import { appendSpan, verifyChain, type Span } from '../../functions/ledger/index.ts';
import { backend, openTestDatabase, openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

/*
 * Group commit (functions/ledger/group-commit.ts): spans submitted together are written in one
 * transaction, in arrival order; a span the database refuses fails alone; each span is checked as its
 * own writer; a writer killed mid-group loses only what it had not acknowledged; two writer
 * processes on one database never fork a chain.
 */

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const note = (text: string) => ({ entityType: 'note', who: 'user:test', did: 'wrote', this: text });

async function chain(db: Database, key: string): Promise<{ id: string; chain_seq: number; tx_id: string }[]> {
  return db.withLedger((tx) => tx.query('select id, chain_seq, tx_id::text as tx_id from ledger.universal_registry where chain_key = $1 order by chain_seq', [key]));
}

describe('spans submitted together', () => {
  test('share one transaction and join the chain in the order they were submitted', async () => {
    // given four writers of one tenant
    const suffix = randomBytes(3).toString('hex');
    const writers = [0, 1, 2, 3].map((i) => persona(`writer${i}`, 'group', suffix));
    // when twenty spans are submitted in the same turn
    const pending = Array.from({ length: 20 }, (_, i) => appendSpan(ledger, writers[i % 4]!, note(`span ${i}`)));
    const spans = await Promise.all(pending);
    // then they were committed together, in submission order, each owned by its own writer
    expect(new Set(spans.map((span) => span.txId)).size).toBe(1);
    expect(spans.map((span) => span.chainSeq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(spans.map((span) => span.ownerId)).toEqual(Array.from({ length: 20 }, (_, i) => writers[i % 4]!.userId));
    const rows = await chain(ledger.db, `group-${suffix}`);
    expect(rows.map((row) => row.id)).toEqual(spans.map((span) => span.id));
    expect(await verifyChain(ledger, `group-${suffix}`)).toMatchObject({ ok: true, checked: 20 });
  });

  test('a span the database refuses fails alone, and its neighbours are written', async () => {
    // given a tenant whose chain holds a span at version 0
    const writer = persona('writer', 'refusal');
    const first = await appendSpan(ledger, writer, note('version 0'));
    // when a group holds, among good spans, a version 2 of it (version 1 does not exist)
    const outcomes = await Promise.allSettled([
      appendSpan(ledger, writer, note('before')),
      appendSpan(ledger, writer, { ...note('version 2'), id: first.id, seq: 2 }),
      appendSpan(ledger, writer, note('after')),
    ]);
    // then only that span is refused, with the fix named, and the others are in the chain, in order
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refusal = (outcomes[1] as PromiseRejectedResult).reason as { errorType?: string; message?: string };
    expect(refusal.errorType).toBe('ValidationError');
    expect(refusal.message).toMatch(/seq: is not the next version/);
    const written = [outcomes[0], outcomes[2]].map((outcome) => (outcome as PromiseFulfilledResult<Span>).value);
    expect(written.map((span) => span.chainSeq)).toEqual([2, 3]);
    const rows = await chain(ledger.db, writer.tenantId!);
    expect(rows.map((row) => row.id)).toEqual([first.id, written[0]!.id, written[1]!.id]);
    expect(await verifyChain(ledger, writer.tenantId!)).toMatchObject({ ok: true, checked: 3 });
  });

  test('a retry in the same group gets the stored span; a different span under the same id and seq is a Conflict', async () => {
    // given a span with a client-chosen id and time
    const writer = persona('writer', 'retry');
    const input = { ...note('the original'), id: randomUUID(), seq: 0, at: '2026-12-04T10:00:00.000Z' };
    // when it is sent twice and a different span under its id is sent too, all at once
    const [original, retry, other] = await Promise.allSettled([
      appendSpan(ledger, writer, input),
      appendSpan(ledger, writer, input),
      appendSpan(ledger, writer, { ...input, this: 'something else' }),
    ]);
    // then the retry answers the stored span, and the different one is refused
    expect(original.status).toBe('fulfilled');
    expect(retry).toMatchObject({ status: 'fulfilled', value: { id: input.id, currHash: (original as PromiseFulfilledResult<Span>).value.currHash } });
    expect(other).toMatchObject({ status: 'rejected', reason: { errorType: 'Conflict' } });
    expect(await chain(ledger.db, writer.tenantId!)).toHaveLength(1);
  });
});

describe('row-level security in a group', () => {
  test('each span is checked as its own writer: a row claiming another owner is refused alone', async () => {
    // given a committer of its own and two writers of one tenant
    const committer = new GroupCommitter(ledger.db);
    const suffix = randomBytes(3).toString('hex');
    const alice = persona('alice', 'rls', suffix);
    const bob = persona('bob', 'rls', suffix);
    const row = (owner: string) => ({ id: randomUUID(), seq: 0, entity_type: 'note', who: 'user:test', did: 'wrote', this: owner, at: new Date().toISOString(), owner_id: owner, tenant_id: alice.tenantId, visibility: 'tenant', is_deleted: false, curr_hash: randomBytes(32).toString('hex') });
    // when one group holds alice's span, bob's span, and a span owned by bob that alice submits
    const outcomes = await Promise.allSettled([
      committer.submit({ chainKey: alice.tenantId!, identity: alice, row: row(alice.userId) }),
      committer.submit({ chainKey: alice.tenantId!, identity: bob, row: row(bob.userId) }),
      committer.submit({ chainKey: alice.tenantId!, identity: alice, row: row(bob.userId) }),
    ]);
    // then the two honest spans are written and the forged one is refused by the insert policy
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(asDatabaseFailure((outcomes[2] as PromiseRejectedResult).reason)?.code).toBe('42501');
    const owners = await ledger.db.withLedger((tx) => tx.query<{ owner_id: string }>('select owner_id from ledger.universal_registry where chain_key = $1 order by chain_seq', [alice.tenantId]));
    expect(owners.map((o) => o.owner_id)).toEqual([alice.userId, bob.userId]);
  });
});

/** A writer process (test/support/append-writer.ts) and the spans it acknowledged so far. */
function startWriter(options: Record<string, unknown>): { child: ChildProcess; acks: Map<string, number>; ready: Promise<void>; exited: Promise<number | null>; stderr(): string; ackCount(n: number): Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../support/append-writer.ts', import.meta.url).pathname, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks = new Map<string, number>();
  const waiters: { n: number; resolve(): void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') markReady();
    const [word, id, seq] = line.split(' ');
    if (word !== 'ack' || !id) return;
    acks.set(id, Number(seq));
    for (const waiter of waiters.filter((w) => acks.size >= w.n)) waiter.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    acks,
    ready,
    exited,
    stderr: () => stderr,
    ackCount: (n) =>
      new Promise<void>((resolve, reject) => {
        if (acks.size >= n) return resolve();
        waiters.push({ n, resolve });
        void exited.then(() => (acks.size >= n ? resolve() : reject(new Error(`the writer exited after ${acks.size} acknowledgements: ${stderr}`))));
      }),
  };
}

/** A database other processes can open: PostgreSQL by URL, or a PGlite data folder. */
async function sharedDatabase(): Promise<{ where: Record<string, unknown>; open(): Promise<Database>; close(): Promise<void> }> {
  if (backend === 'postgres') {
    const test = await openTestDatabase();
    return { where: { postgresUrl: test.url }, open: async () => test.db, close: test.close };
  }
  const dir = mkdtempSync(join(tmpdir(), 'group-commit-'));
  const dataDir = join(dir, 'pglite');
  const seeded = await openPglite({ dataDir, loadDataDir: new Blob([readFileSync(inject('template'))]) });
  await seeded.close();
  let reopened: Database | undefined;
  return {
    where: { pgliteDir: dataDir },
    open: async () => (reopened = await openPglite({ dataDir })),
    close: async () => {
      await reopened?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('writer processes', () => {
  test('a writer killed in the middle of its groups loses only what it had not acknowledged', async () => {
    // given a writer process appending with eight concurrent writers
    const shared = await sharedDatabase();
    const tenant = `killed-${randomBytes(3).toString('hex')}`;
    try {
      const writer = startWriter({ ...shared.where, tenant, writers: 8, perWriter: 100_000, label: 'killed' });
      await writer.ready;
      // when it is killed (SIGKILL) after some hundreds of acknowledgements
      await writer.ackCount(300);
      writer.child.kill('SIGKILL');
      await writer.exited;
      // then every acknowledged span is in the chain, the chain has no gap, and it verifies
      const db = await shared.open();
      const rows = await chain(db, tenant);
      const stored = new Map(rows.map((row) => [row.id, Number(row.chain_seq)]));
      for (const [id, seq] of writer.acks) expect(stored.get(id), `acknowledged span ${id}`).toBe(seq);
      expect(rows.map((row) => Number(row.chain_seq))).toEqual(rows.map((_, i) => i + 1));
      expect(await verifyChain({ db, signer: testSigner }, tenant)).toMatchObject({ ok: true, checked: rows.length });
    } finally {
      await shared.close();
    }
  }, 120_000);

  test('two writer processes on one database never fork a chain', async () => {
    const shared = await sharedDatabase();
    const tenant = `two-${randomBytes(3).toString('hex')}`;
    try {
      if (backend === 'postgres') {
        // given two writer processes on one PostgreSQL database, eight writers each, one tenant chain
        const writers = ['left', 'right'].map((label) => startWriter({ ...shared.where, tenant, writers: 8, perWriter: 60, label }));
        // when both append at once
        expect(await Promise.all(writers.map((writer) => writer.exited))).toEqual([0, 0]);
        // then the chain holds all 960 spans once each, links without a gap or fork, and verifies
        const db = await shared.open();
        const rows = await chain(db, tenant);
        expect(rows.map((row) => Number(row.chain_seq))).toEqual(Array.from({ length: 960 }, (_, i) => i + 1));
        expect(new Set(rows.map((row) => row.id))).toEqual(new Set(writers.flatMap((writer) => [...writer.acks.keys()])));
        expect(await verifyChain({ db, signer: testSigner }, tenant)).toMatchObject({ ok: true, checked: 960 });
      } else {
        // given an embedded database held by one writer process
        const first = startWriter({ ...shared.where, tenant, writers: 1, perWriter: 100_000, label: 'first' });
        await first.ackCount(1);
        // when a second process opens the same folder
        const second = startWriter({ ...shared.where, tenant, writers: 1, perWriter: 1, label: 'second' });
        // then it is refused (one process per PGlite folder, so two can never interleave a chain)
        expect(await second.exited).not.toBe(0);
        expect(second.stderr()).toMatch(/the embedded database in .* is in use by process/);
        expect(second.acks.size).toBe(0);
        first.child.kill('SIGKILL');
        await first.exited;
      }
    } finally {
      await shared.close();
    }
  }, 120_000);
});
