import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, hashSpan, nextChainHash, verifyChain, type ChainReport, type Span } from '../../functions/ledger/index.ts';
import { closeVerifyPool, verifyPool } from '../../functions/ledger/verify-pool.ts';
import { openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

/*
 * A chain longer than one batch is checked batch by batch, in worker threads once the pool is up.
 * Whatever the batches and wherever they are checked, the report must be the one a walk span by
 * span gives: the same count, head and FIRST failure, even when a later batch fails too and its
 * worker answers first.
 */

const SPANS = 23;
const BATCH = 4; // six batches: failures can sit in different ones

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
  // the pool is started before any test, so every batch after the first really goes to a worker
  expect(await verifyPool(2)).not.toBeNull();
});
afterAll(async () => {
  await closeVerifyPool();
  await ledger.close();
});

interface Chain {
  readonly chain: string;
  at(index: number): Span;
}

/** A chain of SPANS signed spans in a tenant of its own. */
async function chainOf(): Promise<Chain> {
  const who = persona('writer', 'batches');
  const spans: Span[] = [];
  for (let i = 0; i < SPANS; i += 1) spans.push(await appendSpan(ledger, who, { entityType: 'note', who: 'user:w', did: 'wrote', this: `note ${i}`, content: { i } }));
  return {
    chain: who.tenantId ?? '',
    at(index) {
      const span = spans[index];
      if (!span) throw new Error(`no span ${index}`);
      return span;
    },
  };
}

/** The report in worker threads with small batches, after checking it equals small batches on this thread and one batch. */
async function verifiedBothWays(chain: string, options: Parameters<typeof verifyChain>[2] = {}): Promise<ChainReport> {
  const inWorkers = await verifyChain(ledger, chain, { ...options, batchSize: BATCH, workers: 2 });
  const inline = await verifyChain(ledger, chain, { ...options, batchSize: BATCH, workers: 0 });
  const walked = await verifyChain(ledger, chain, { ...options, batchSize: 1000, workers: 0 });
  expect(inWorkers).toEqual(walked);
  expect(inline).toEqual(walked);
  return inWorkers;
}

/** Changes rows as a superuser, around the append-only trigger. */
async function tamper(sql: string, params: unknown[]): Promise<void> {
  await ledger.db.withOwner(async (tx) => {
    await tx.query('set local session_replication_role = replica');
    await tx.query(sql, params);
  });
}

describe('verifyChain over batches and worker threads', () => {
  test('an intact chain: every span counted, the same head', async () => {
    const { chain, at } = await chainOf();
    expect(await verifiedBothWays(chain, { requireSignatures: true, trustedKeys: [testSigner.publicKeyHex] })).toMatchObject({
      ok: true,
      checked: SPANS,
      head: { chainSeq: SPANS, currHash: at(SPANS - 1).currHash, chainHash: at(SPANS - 1).chainHash },
    });
  });

  test('edits in two batches: the earlier one is named, with what passed before it', async () => {
    const { chain, at } = await chainOf();
    await tamper("update ledger.universal_registry set content = '{\"i\": -1}' where id = any($1::uuid[])", [[at(6).id, at(17).id]]);
    expect(await verifiedBothWays(chain)).toMatchObject({ ok: false, checked: 6, head: { chainSeq: 6 }, failure: { id: at(6).id, chainSeq: 7, code: 'hash_mismatch' } });
  });

  test('the first span of a batch is checked against the last span of the batch before', async () => {
    // chain_seq 9 opens the third batch; once it is deleted, that batch starts at chain_seq 10
    const { chain, at } = await chainOf();
    await tamper('delete from ledger.universal_registry where id = $1', [at(8).id]);
    expect(await verifiedBothWays(chain)).toMatchObject({ ok: false, checked: 8, failure: { id: at(9).id, chainSeq: 10, code: 'gap' } });
  });

  test('an edit with its hash and chain hash recomputed fails on its signature, past a recorded head that holds', async () => {
    const { chain, at } = await chainOf();
    const recorded = { chainSeq: 10, chainHash: at(9).chainHash };
    const edited = { ...at(15), did: 'forged' };
    const currHash = hashSpan(edited as unknown as Record<string, unknown>);
    await tamper('update ledger.universal_registry set did = $1, curr_hash = $2, chain_hash = $3 where id = $4', ['forged', currHash, nextChainHash(at(14).chainHash, currHash), edited.id]);
    expect(await verifiedBothWays(chain, { expectedHead: recorded })).toMatchObject({ ok: false, checked: 15, failure: { id: edited.id, chainSeq: 16, code: 'bad_signature' } });
  });

  test('a recorded head past the end: spans were removed from the end', async () => {
    const { chain, at } = await chainOf();
    expect(await verifiedBothWays(chain, { expectedHead: { chainSeq: SPANS + 5, chainHash: 'ff'.repeat(32) } })).toMatchObject({
      ok: false,
      checked: SPANS,
      failure: { id: at(SPANS - 1).id, chainSeq: SPANS, code: 'head_mismatch' },
    });
  });

  test('a recorded head that no longer matches, in a middle batch', async () => {
    const { chain, at } = await chainOf();
    expect(await verifiedBothWays(chain, { expectedHead: { chainSeq: 10, chainHash: 'ff'.repeat(32) } })).toMatchObject({
      ok: false,
      checked: 9,
      failure: { id: at(9).id, chainSeq: 10, code: 'head_mismatch' },
    });
  });
});
