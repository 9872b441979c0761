import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, getSpan, listSpans, timeline, type Span } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, rowCount, settled, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const note = (visibility: string) => ({ entityType: 'note', who: 'user:test', did: 'wrote', this: `a ${visibility} note`, visibility });

describe('row-level security personas (SPEC §3.3)', () => {
  // given: owner and member share tenant acme; outsider is in globex; anonymous has no identity
  const suffix = randomBytes(3).toString('hex');
  const owner = persona('owner', 'acme', suffix);
  const member = persona('member', 'acme', suffix);
  const outsider = persona('outsider', 'globex', suffix);
  const spans: Record<string, Span> = {};

  beforeAll(async () => {
    for (const visibility of ['private', 'tenant', 'public']) spans[visibility] = await appendSpan(ledger, owner, note(visibility));
  });

  const readable = async (who: typeof owner | null) => {
    const page = await listSpans(ledger, who, { ownerId: owner.userId }, 500);
    return page.edges.map((edge) => edge.node.visibility).sort();
  };

  test('the owner reads all of their spans', async () => {
    expect(await readable(owner)).toEqual(['private', 'public', 'tenant']);
  });

  test('a member of the same tenant reads tenant and public spans, not private ones', async () => {
    expect(await readable(member)).toEqual(['public', 'tenant']);
    expect(await getSpan(ledger, member, spans.private?.id ?? '')).toBeNull();
  });

  test('a member of another tenant reads only public spans', async () => {
    expect(await readable(outsider)).toEqual(['public']);
    expect(await getSpan(ledger, outsider, spans.tenant?.id ?? '')).toBeNull();
  });

  test('an anonymous caller reads only public spans, through every read', async () => {
    expect(await readable(null)).toEqual(['public']);
    await settled(ledger.db, spans.public?.txId ?? '0');
    const page = await timeline(ledger, null, { ownerId: owner.userId }, 500);
    expect(page.edges.map((edge) => edge.node.visibility)).toEqual(['public']);
  });

  test('nobody can insert as someone else, even with SQL straight to the table as the API role', async () => {
    const before = await rowCount(ledger.db);
    const forged = ledger.db.withSession(outsider, (tx) =>
      tx.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, curr_hash)
         values (gen_random_uuid(), 0, 'note', 'x', 'y', 'z', now(), $1, $2, repeat('a', 64))`,
        [owner.userId, outsider.tenantId],
      ),
    );
    await expect(forged).rejects.toThrow(/row-level security/);
    const otherTenant = ledger.db.withSession(outsider, (tx) =>
      tx.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, curr_hash)
         values (gen_random_uuid(), 0, 'note', 'x', 'y', 'z', now(), $1, $2, repeat('a', 64))`,
        [outsider.userId, owner.tenantId],
      ),
    );
    await expect(otherTenant).rejects.toThrow(/row-level security/);
    const anonymous = ledger.db.withSession(null, (tx) =>
      tx.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, curr_hash)
         values (gen_random_uuid(), 0, 'note', 'x', 'y', 'z', now(), '', repeat('a', 64))`,
      ),
    );
    await expect(anonymous).rejects.toThrow(/row-level security/);
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('the caller does not leak to the next transaction on the same connection', async () => {
    await appendSpan(ledger, owner, note('private'));
    const [row] = await ledger.db.withSession(null, (tx) =>
      tx.query<{ user_id: string | null; role: string }>("select ledger.current_user_id() as user_id, current_user as role"),
    );
    expect(row).toEqual({ user_id: null, role: 'loglineos_api' });
  });
});

describe('append-only', () => {
  test('UPDATE and DELETE are refused for the API role', async () => {
    const alice = persona('alice', 'acme');
    const span = await appendSpan(ledger, alice, note('private'));
    await expect(ledger.db.withSession(alice, (tx) => tx.query('update ledger.universal_registry set did = $1 where id = $2', ['edited', span.id]))).rejects.toThrow(/permission denied/);
    await expect(ledger.db.withSession(alice, (tx) => tx.query('delete from ledger.universal_registry where id = $1', [span.id]))).rejects.toThrow(/permission denied/);
    expect((await getSpan(ledger, alice, span.id))?.did).toBe('wrote');
  });

  test('UPDATE, DELETE and TRUNCATE are refused even for the table owner and superusers', async () => {
    const alice = persona('alice', 'acme');
    const span = await appendSpan(ledger, alice, note('private'));
    await expect(ledger.db.withOwner((tx) => tx.query('update ledger.universal_registry set did = $1 where id = $2', ['edited', span.id]))).rejects.toThrow(/append-only/);
    await expect(ledger.db.withOwner((tx) => tx.query('delete from ledger.universal_registry where id = $1', [span.id]))).rejects.toThrow(/append-only/);
    await expect(ledger.db.withOwner((tx) => tx.query('truncate ledger.universal_registry'))).rejects.toThrow(/append-only/);
    expect((await getSpan(ledger, alice, span.id))?.did).toBe('wrote');
  });

  test('a deletion is a tombstone version that hides the id from the visible timeline', async () => {
    const alice = persona('alice', 'acme');
    const span = await appendSpan(ledger, alice, note('private'));
    const tombstone = await appendSpan(ledger, alice, { ...note('private'), id: span.id, isDeleted: true });
    const kept = await appendSpan(ledger, alice, note('tenant'));
    await settled(ledger.db, kept.txId);
    const visible = await timeline(ledger, alice, { ownerId: alice.userId });
    const all = await listSpans(ledger, alice, { ownerId: alice.userId });
    expect(visible.edges.map((edge) => edge.node.id)).toEqual([kept.id]);
    expect(all.edges.map((edge) => [edge.node.id, edge.node.seq, edge.node.isDeleted])).toEqual([[span.id, 0, false], [tombstone.id, 1, true], [kept.id, 0, false]]);
  });
});
