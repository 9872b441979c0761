import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, timeline, listSpans, decodeCursor, encodeCursor } from '../../functions/ledger/index.ts';
import { backend, openTestLedger, persona, settled, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const note = (i: number, extra: Record<string, unknown> = {}) => ({ entityType: 'note', who: 'user:t', did: 'wrote', this: `note ${i}`, ...extra });

describe('the timeline', () => {
  test('pages through every visible span in order, without duplicates, following endCursor', async () => {
    const alice = persona('alice', 'acme');
    const written = [];
    for (let i = 0; i < 10; i += 1) written.push(await appendSpan(ledger, alice, note(i)));
    await settled(ledger.db, written.at(-1)?.txId ?? '0');
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<typeof timeline>> = await timeline(ledger, alice, { ownerId: alice.userId }, 3, after);
      seen.push(...page.edges.map((edge) => edge.node.this));
      after = page.pageInfo.endCursor;
      if (!page.pageInfo.hasNextPage) break;
    }
    expect(seen).toEqual(written.map((span) => span.this));
    // and a reader that is caught up is told nothing waits behind the watermark
    expect((await timeline(ledger, alice, { ownerId: alice.userId }, 3, after)).pageInfo.heldBack).toBe(false);
  });

  test('filters by entity type, trace and time', async () => {
    const bob = persona('bob', 'acme');
    const trace = randomBytes(4).toString('hex');
    await appendSpan(ledger, bob, note(1, { traceId: trace }));
    await appendSpan(ledger, bob, { ...note(2, { traceId: trace }), entityType: 'metric' });
    const last = await appendSpan(ledger, bob, note(3, { at: '2020-01-01T00:00:00.000Z' }));
    await settled(ledger.db, last.txId);
    const metrics = await timeline(ledger, bob, { ownerId: bob.userId, entityTypes: ['metric'] });
    expect(metrics.edges.map((edge) => edge.node.this)).toEqual(['note 2']);
    const traced = await listSpans(ledger, bob, { traceId: trace });
    expect(traced.edges.map((edge) => edge.node.this)).toEqual(['note 1', 'note 2']);
    const old = await listSpans(ledger, bob, { ownerId: bob.userId, until: '2021-01-01T00:00:00Z' });
    expect(old.edges.map((edge) => edge.node.this)).toEqual(['note 3']);
  });

  test('a cursor round-trips, and a forged or foreign one is refused clearly', async () => {
    expect(decodeCursor(encodeCursor({ txId: '12345', position: 77 }))).toEqual({ txId: '12345', position: 77 });
    const carol = persona('carol', 'acme');
    await expect(timeline(ledger, carol, {}, 10, 'page-2')).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'after' } });
    await expect(timeline(ledger, carol, {}, 0)).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'first' } });
    await expect(timeline(ledger, carol, {}, 501)).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'first' } });
    await expect(listSpans(ledger, carol, { since: 'soon' })).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'filter.since' } });
  });

  // PGlite is a single session, so no transaction can still be running while another reads.
  if (backend === 'postgres') {
    test('a span committed while an older transaction is still open waits behind it, so no reader skips it', async () => {
      // given a reader positioned at the end of the public timeline
      const suffix = randomBytes(3).toString('hex');
      const slow = persona('slow', 'acme', suffix);
      const fast = persona('fast', 'acme', suffix);
      const mine = { ownerId: undefined, entityTypes: [`race_${suffix}`] };
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let inserted: () => void = () => undefined;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      // when a slow transaction writes first but commits last
      const slowWrite = ledger.db.withSession(slow, async (tx) => {
        await tx.query('select pg_current_xact_id()'); // take the older transaction id now
        inserted();
        await gate;
        await tx.query(
          `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, visibility, curr_hash)
           values (gen_random_uuid(), 0, $1, 'x', 'y', 'slow', now(), $2, $3, 'public', repeat('a', 64))`,
          [`race_${suffix}`, slow.userId, slow.tenantId],
        );
      });
      await insertedYet;
      const fastSpan = await appendSpan(ledger, fast, { ...note(0), this: 'fast', entityType: `race_${suffix}`, visibility: 'public' });
      const during = await timeline(ledger, null, mine);
      release();
      await slowWrite;
      await settled(ledger.db, fastSpan.txId);
      const after = await timeline(ledger, null, mine, 10, during.pageInfo.endCursor);
      // then the fast span is held back until the slow one is done, and a reader resuming sees both
      expect(during.edges).toHaveLength(0);
      expect(during.pageInfo.heldBack).toBe(true);
      expect(after.edges.map((edge) => edge.node.this)).toEqual(['slow', 'fast']);
      expect(after.pageInfo.heldBack).toBe(false);
    });
  }
});
