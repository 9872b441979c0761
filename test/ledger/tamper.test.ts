import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Identity } from '../../functions/commons/db/index.ts';
import { appendSpan, getSpan, hashSpan, nextChainHash, signerFromSeed, verifyChain, type Span } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

/*
 * Tampering done straight in the database by a superuser, around the API and the append-only
 * trigger (session_replication_role = replica switches ordinary triggers off). verifyChain must
 * always notice, and name the first span that no longer fits.
 */

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await ledger.db.withOwner(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query(sql, params);
  });
}

/** A chain of `n` spans in a tenant of its own. */
async function chainOf(n: number, into: TestLedger = ledger): Promise<{ who: Identity; chain: string; spans: Span[] }> {
  const who = persona('writer', 'tamper');
  const spans: Span[] = [];
  for (let i = 0; i < n; i += 1) spans.push(await appendSpan(into, who, { entityType: 'note', who: 'user:w', did: 'wrote', this: `note ${i}`, content: { i } }));
  return { who, chain: who.tenantId ?? '', spans };
}

const at = (spans: Span[], index: number): Span => {
  const span = spans[index];
  if (!span) throw new Error(`no span ${index}`);
  return span;
};

describe('verifyChain detects tampering behind the API', () => {
  test('an intact chain verifies', async () => {
    const { chain, spans } = await chainOf(5);
    expect(await verifyChain(ledger, chain, { requireSignatures: true, trustedKeys: [testSigner.publicKeyHex] })).toMatchObject({
      ok: true,
      checked: 5,
      head: { chainSeq: 5, currHash: at(spans, 4).currHash },
    });
  });

  test('one edited field', async () => {
    const { chain, spans } = await chainOf(5);
    await tamper("update ledger.universal_registry set content = '{\"i\": 99}' where id = $1", [at(spans, 2).id]);
    const report = await verifyChain(ledger, chain);
    expect(report).toMatchObject({ ok: false, checked: 2, failure: { id: at(spans, 2).id, chainSeq: 3, code: 'hash_mismatch' } });
  });

  test('an edited field with a recomputed hash still fails on its signature', async () => {
    const { who, chain, spans } = await chainOf(4);
    const edited = { ...at(spans, 1), did: 'forged' };
    await tamper('update ledger.universal_registry set did = $1, curr_hash = $2 where id = $3', ['forged', hashSpan(edited as unknown as Record<string, unknown>), edited.id]);
    expect((await getSpan(ledger, who, edited.id))?.did).toBe('forged');
    expect(await verifyChain(ledger, chain)).toMatchObject({ ok: false, failure: { id: edited.id, code: 'bad_signature' } });
  });

  test('a deleted row', async () => {
    const { chain, spans } = await chainOf(5);
    await tamper('delete from ledger.universal_registry where id = $1', [at(spans, 2).id]);
    expect(await verifyChain(ledger, chain)).toMatchObject({ ok: false, checked: 2, failure: { id: at(spans, 3).id, chainSeq: 4, code: 'gap' } });
  });

  test('a forged row linked into the middle of the chain', async () => {
    const { chain, spans } = await chainOf(5);
    // make room at chain position 3, then insert a well-hashed span there, correctly linked to position 2
    await tamper('update ledger.universal_registry set chain_seq = chain_seq + 1000 where chain_key = $1 and chain_seq >= 3', [chain]);
    await tamper('update ledger.universal_registry set chain_seq = chain_seq - 999 where chain_key = $1 and chain_seq > 1000', [chain]);
    const forged = { ...at(spans, 2), id: '00000000-0000-4000-8000-0000000000ff', did: 'forged', signature: null, publicKey: null, sigKeyId: null };
    const currHash = hashSpan(forged as unknown as Record<string, unknown>);
    await tamper(
      `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, visibility, is_deleted, content,
         curr_hash, prev_hash, chain_key, chain_seq, chain_hash, position, tx_id)
       values ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9, false, $10, $11, $12, $8, 3, $13, $14, pg_current_xact_id())`,
      [forged.id, forged.entityType, forged.who, forged.did, forged.this, forged.at, forged.ownerId, forged.tenantId, forged.visibility,
        JSON.stringify(forged.content), currHash, at(spans, 1).currHash, nextChainHash(at(spans, 1).chainHash, currHash), at(spans, 1).position + 1_000_000],
    );
    // with the deployment's key required, the forged span itself is named
    expect(await verifyChain(ledger, chain, { requireSignatures: true })).toMatchObject({ ok: false, checked: 2, failure: { id: forged.id, chainSeq: 3, code: 'unsigned' } });
    // without it, the chain breaks right after the forgery
    expect(await verifyChain(ledger, chain)).toMatchObject({ ok: false, checked: 3, failure: { id: at(spans, 2).id, chainSeq: 4, code: 'broken_link' } });
  });

  test('a forged row appended at the end, signed by a key that is not trusted', async () => {
    const { who, chain, spans } = await chainOf(3);
    const intruder = signerFromSeed('11'.repeat(32), 'intruder');
    // a superuser may insert through the linking trigger; only the signature gives the forgery away
    await ledger.db.withOwner(async (tx) => {
      const span = { ...at(spans, 0), id: '00000000-0000-4000-8000-0000000000fe', did: 'forged', publicKey: intruder.publicKeyHex, sigKeyId: 'intruder' };
      const currHash = hashSpan(span as unknown as Record<string, unknown>);
      await tx.query(
        `insert into ledger.universal_registry (id, seq, entity_type, who, did, "this", at, owner_id, tenant_id, visibility, is_deleted, content,
           public_key, sig_key_id, curr_hash, signature, chain_key, chain_seq, chain_hash, position)
         values ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9, false, $10, $11, 'intruder', $12, $13, '', 0, '', 0)`,
        [span.id, span.entityType, span.who, span.did, span.this, span.at, who.userId, who.tenantId, span.visibility, JSON.stringify(span.content),
          intruder.publicKeyHex, currHash, intruder.sign(currHash)],
      );
    });
    expect((await verifyChain(ledger, chain)).ok).toBe(true);
    expect(await verifyChain(ledger, chain, { trustedKeys: [testSigner.publicKeyHex] })).toMatchObject({
      ok: false,
      checked: 3,
      failure: { id: '00000000-0000-4000-8000-0000000000fe', chainSeq: 4, code: 'untrusted_key' },
    });
  });

  test('two rows swapped in order', async () => {
    const { chain, spans } = await chainOf(5);
    await tamper('update ledger.universal_registry set chain_seq = -chain_seq where chain_key = $1 and chain_seq in (3, 4)', [chain]);
    await tamper('update ledger.universal_registry set chain_seq = case chain_seq when -3 then 4 else 3 end where chain_key = $1 and chain_seq in (-3, -4)', [chain]);
    expect(await verifyChain(ledger, chain)).toMatchObject({ ok: false, checked: 2, failure: { id: at(spans, 3).id, chainSeq: 3, code: 'broken_link' } });
  });

  test('history rewritten consistently is caught against a head kept outside the database', async () => {
    // given an unsigned ledger, where nothing but the chain protects history
    const unsigned: TestLedger = { ...ledger, signer: undefined } as unknown as TestLedger;
    const { chain, spans } = await chainOf(4, unsigned);
    const recorded = await verifyChain(ledger, chain);
    const head = recorded.head ?? { chainSeq: 0, chainHash: '' };
    // when a superuser edits span 2 and recomputes every hash and link after it
    let previous = at(spans, 0);
    for (const [index, span] of spans.entries()) {
      if (index === 0) continue;
      const content = index === 1 ? { i: 'rewritten' } : span.content;
      const rewritten = { ...span, content };
      const currHash = hashSpan(rewritten as unknown as Record<string, unknown>);
      const chainHash = nextChainHash(previous.chainHash, currHash);
      await tamper('update ledger.universal_registry set content = $1, curr_hash = $2, prev_hash = $3, chain_hash = $4 where id = $5',
        [JSON.stringify(content), currHash, previous.currHash, chainHash, span.id]);
      previous = { ...rewritten, currHash, chainHash };
    }
    // then the chain is self-consistent, but no longer passes through the recorded head
    expect((await verifyChain(ledger, chain)).ok).toBe(true);
    expect(await verifyChain(ledger, chain, { expectedHead: head })).toMatchObject({ ok: false, failure: { chainSeq: 4, code: 'head_mismatch' } });
  });

  test('the last row removed is caught against a recorded head', async () => {
    const { chain, spans } = await chainOf(3);
    const head = (await verifyChain(ledger, chain)).head ?? { chainSeq: 0, chainHash: '' };
    await tamper('delete from ledger.universal_registry where id = $1', [at(spans, 2).id]);
    expect((await verifyChain(ledger, chain)).ok).toBe(true);
    expect(await verifyChain(ledger, chain, { expectedHead: head })).toMatchObject({ ok: false, checked: 2, failure: { code: 'head_mismatch' } });
  });
});
