import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate, openPglite } from '../../functions/commons/db/index.ts';
import { openCheckpoint } from '../../functions/ledger/checkpoint-note.ts';
import { verifyConsistency, verifyInclusion } from '../../functions/ledger/merkle.ts';
import {
  appendSpan,
  checkpointPass,
  ledgerCheckpoint,
  ledgerMigrations,
  logConsistencyProof,
  spanInclusionProof,
  writeCheckpoint,
  type Span,
} from '../../functions/ledger/index.ts';
import { fileWitness } from '../../functions/ledger/witnesses.ts';
import { openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

/*
 * The Merkle logs kept by the database (migration 0006) and the proofs served from them, checked
 * against a tree computed here by hand from the chain's curr_hash values (RFC 9162 §2.1.1, written
 * plainly), and against tampering by a superuser who recomputes everything he can.
 */

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
};
/** MTH(D[n]) of RFC 9162, recursively, from the leaves' data. */
function handRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return sha256(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Uint8Array.of(1), handRoot(leaves.slice(0, k)), handRoot(leaves.slice(k)));
}
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const leafOf = (span: Span) => sha256(Uint8Array.of(0), bytes(span.currHash));
const note = (text: string) => ({ entityType: 'note', who: 'user:test', did: 'wrote', this: text });

async function tenantWith(n: number): Promise<{ who: ReturnType<typeof persona>; spans: Span[] }> {
  const who = persona('writer', 'proofs');
  const spans: Span[] = [];
  for (let i = 0; i < n; i += 1) spans.push(await appendSpan(ledger, who, note(`span ${i}`)));
  return { who, spans };
}

describe('the log of a chain', () => {
  test('its root at every size is the RFC 9162 root of the chain so far, computed by hand', async () => {
    // given a tenant chain of 21 spans (sizes that are and are not powers of two)
    const { who, spans } = await tenantWith(21);
    for (let size = 0; size <= spans.length; size += 1) {
      // when its checkpoint at that size is asked for
      const checkpoint = await ledgerCheckpoint(ledger, who, who.tenantId, size);
      // then the root is the tree of the first `size` curr_hashes, and the note is signed by the deployment key
      expect(checkpoint.rootHash, `size ${size}`).toBe(hex(handRoot(spans.slice(0, size).map((span) => bytes(span.currHash)))));
      const opened = openCheckpoint(checkpoint.note, checkpoint.keyName, bytes(testSigner.publicKeyHex));
      expect(opened).toMatchObject({ origin: `loglineos.local/tenant/${who.tenantId}`, size });
      expect(hex(opened.rootHash)).toBe(checkpoint.rootHash);
    }
  });

  test('every span has an inclusion proof that verifies at every size that holds it', async () => {
    const { who, spans } = await tenantWith(13);
    for (const [index, span] of spans.entries()) {
      for (const size of [index + 1, 8, 13].filter((s) => s > index)) {
        // when the proof of the span at that size is asked for
        const proof = await spanInclusionProof(ledger, who, span.id, span.seq, size);
        // then it names the span's leaf, and verifies against the hand-computed root
        expect(proof).toMatchObject({ spanId: span.id, leafIndex: index, treeSize: size });
        const root = handRoot(spans.slice(0, size).map((s) => bytes(s.currHash)));
        expect(verifyInclusion(leafOf(span), index, size, proof.hashes.map(bytes), root), `span ${index} at ${size}`).toBe(true);
        expect(verifyInclusion(leafOf(span), index, size, proof.hashes.map(bytes), bytes(proof.checkpoint.rootHash))).toBe(true);
      }
    }
  });

  test('consistency proofs between any two sizes verify against hand-computed roots', async () => {
    const { who, spans } = await tenantWith(11);
    const roots = Array.from({ length: 12 }, (_, size) => handRoot(spans.slice(0, size).map((s) => bytes(s.currHash))));
    for (let from = 1; from <= 11; from += 1) {
      for (let to = from; to <= 11; to += 1) {
        const proof = await logConsistencyProof(ledger, who, who.tenantId, from, to);
        expect(verifyConsistency(from, to, roots[from]!, roots[to]!, proof.hashes.map(bytes)), `${from} → ${to}`).toBe(true);
      }
    }
  });

  test('bad sizes are refused with the field, the value and the fix', async () => {
    const { who, spans } = await tenantWith(3);
    await expect(ledgerCheckpoint(ledger, who, who.tenantId, 4)).rejects.toMatchObject({ errorType: 'ValidationError', message: expect.stringMatching(/treeSize.*current size \(3\)/) });
    await expect(spanInclusionProof(ledger, who, spans[2]!.id, 0, 2)).rejects.toMatchObject({ errorType: 'ValidationError', message: expect.stringMatching(/leaf 2/) });
    await expect(logConsistencyProof(ledger, who, who.tenantId, 0, 3)).rejects.toMatchObject({ errorType: 'ValidationError', message: expect.stringMatching(/fromSize/) });
  });
});

describe('who may see a log', () => {
  test("another tenant gets neither the checkpoint nor proofs of a tenant's log, nor learns its spans exist", async () => {
    const { who, spans } = await tenantWith(2);
    const stranger = persona('stranger', 'elsewhere');
    await expect(ledgerCheckpoint(ledger, stranger, who.tenantId)).rejects.toMatchObject({ errorType: 'Forbidden' });
    await expect(logConsistencyProof(ledger, stranger, who.tenantId, 1, 2)).rejects.toMatchObject({ errorType: 'Forbidden' });
    await expect(spanInclusionProof(ledger, stranger, spans[0]!.id)).rejects.toMatchObject({ errorType: 'NotFound' });
    // and an anonymous caller reads only the system log
    await expect(ledgerCheckpoint(ledger, null, who.tenantId)).rejects.toMatchObject({ errorType: 'Forbidden' });
    expect((await ledgerCheckpoint(ledger, null, null)).origin).toBe('loglineos.local/system');
  });
});

describe('the Merkle nodes', () => {
  test('cannot be written, changed or removed through the API role', async () => {
    const { who } = await tenantWith(2);
    const forge = (sql: string, params: unknown[]) => ledger.db.withSession(who, (tx) => tx.query(sql, params));
    await expect(forge('select ledger.merkle_add_leaf($1, 3, $2)', [who.tenantId, 'ab'.repeat(32)])).rejects.toMatchObject({ code: '42501' });
    await expect(forge('insert into ledger.merkle_node values ($1, 0, 2, $2)', [who.tenantId, Buffer.alloc(32)])).rejects.toMatchObject({ code: '42501' });
    await expect(forge('delete from ledger.merkle_node where chain_key = $1', [who.tenantId])).rejects.toMatchObject({ code: '42501' });
    expect((await ledgerCheckpoint(ledger, who, who.tenantId)).treeSize).toBe(2);
  });
});

describe('checkpoints', () => {
  test('a checkpoint is written into its chain and kept by the file witness; a rewritten history is refused by it', async () => {
    // given a chain with a checkpoint kept by a file witness
    const folder = mkdtempSync(join(tmpdir(), 'witness-'));
    try {
      const iam = { userId: 'system:witness', tenantId: null, groups: ['iam'] };
      const witness = fileWitness(folder, async (chain, from, to) => (await logConsistencyProof(ledger, iam, chain === '' ? null : chain, from, to)).hashes);
      const { who, spans } = await tenantWith(5);
      const first = await writeCheckpoint(ledger, who.tenantId!, [witness]);
      expect(first).toMatchObject({ witnessed: ['file'], witnessFailures: [], span: { entityType: 'ledger_checkpoint', chainSeq: 6 }, checkpoint: { treeSize: 5 } });
      await appendSpan(ledger, who, note('after the checkpoint'));
      expect((await writeCheckpoint(ledger, who.tenantId!, [witness])).witnessed).toEqual(['file']);

      // when a superuser rewrites span 2, and recomputes its hash, every later link and the whole Merkle log
      await ledger.db.withOwner(async (tx) => {
        await tx.query('set local session_replication_role = replica');
        await tx.query("update ledger.universal_registry set \"this\" = 'rewritten', curr_hash = encode(sha256('forged'), 'hex') where id = $1", [spans[2]!.id]);
        await tx.query('delete from ledger.merkle_node where chain_key = $1', [who.tenantId]);
        await tx.query(
          `do $$ declare s record; l int; i bigint; h bytea; sib bytea; begin
             for s in select chain_key, chain_seq, curr_hash from ledger.universal_registry where chain_key = '${who.tenantId}' order by chain_seq loop
               l := 0; i := s.chain_seq - 1; h := sha256('\\x00'::bytea || decode(s.curr_hash, 'hex'));
               loop
                 insert into ledger.merkle_node values (s.chain_key, l, i, h);
                 exit when i % 2 = 0;
                 select hash into sib from ledger.merkle_node where chain_key = s.chain_key and level = l and idx = i - 1;
                 h := sha256('\\x01'::bytea || sib || h); l := l + 1; i := i / 2;
               end loop;
             end loop; end $$`,
        );
      });
      // then the ledger still signs checkpoints of the forged log, but the witness refuses them
      const forged = await writeCheckpoint(ledger, who.tenantId!, [witness]);
      expect(forged.witnessed).toEqual([]);
      expect(forged.witnessFailures[0]).toMatch(/not consistent with the checkpoint at size \d+ witnessed before: history was rewritten/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('a pass writes a checkpoint for a log that grew enough, and none for one that only grew by its own checkpoint', async () => {
    const { who } = await tenantWith(4);
    const first = await checkpointPass(ledger, { everySpans: 4, everyMs: 3_600_000 });
    expect(first.map((written) => written.checkpoint.chain)).toContain(who.tenantId);
    const second = await checkpointPass(ledger, { everySpans: 1, everyMs: 0 });
    expect(second.map((written) => written.checkpoint.chain)).not.toContain(who.tenantId);
  });

  test('16 writers on one tenant while checkpoints are cut: each checkpoint is consistent with the next, every span is in the log once', async () => {
    // given sixteen writers of one tenant
    const suffix = Math.random().toString(36).slice(2, 8);
    const writers = Array.from({ length: 16 }, (_, i) => persona(`w${i}`, 'busy', suffix));
    const tenant = writers[0]!.tenantId!;
    let done = false;
    const written: Span[] = [];
    const appending = Promise.all(writers.map(async (writer) => {
      for (let i = 0; i < 20; i += 1) written.push(await appendSpan(ledger, writer, note(`${writer.userId} ${i}`)));
    })).finally(() => (done = true));
    // when checkpoints are cut while they write
    const checkpoints = [];
    while (!done) checkpoints.push(await writeCheckpoint(ledger, tenant));
    await appending;
    checkpoints.push(await writeCheckpoint(ledger, tenant));
    // then every checkpoint is consistent with the next
    for (let i = 1; i < checkpoints.length; i += 1) {
      const [older, newer] = [checkpoints[i - 1]!.checkpoint, checkpoints[i]!.checkpoint];
      expect(newer.treeSize).toBeGreaterThan(older.treeSize);
      if (older.treeSize === 0) continue; // the empty log is a prefix of every log: nothing to prove
      const proof = await logConsistencyProof(ledger, writers[0]!, tenant, older.treeSize, newer.treeSize);
      expect(verifyConsistency(older.treeSize, newer.treeSize, bytes(older.rootHash), bytes(newer.rootHash), proof.hashes.map(bytes))).toBe(true);
    }
    // and every span is a leaf of the last checkpoint exactly once, at its own chain position
    const last = checkpoints[checkpoints.length - 1]!.checkpoint;
    // (the last checkpoint's own span is the leaf after it)
    const leaves = await ledger.db.withLedger((tx) => tx.query<{ idx: number; hash: Uint8Array }>('select idx, hash from ledger.merkle_node where chain_key = $1 and level = 0 and idx < $2 order by idx', [tenant, last.treeSize]));
    expect(leaves.map((row) => Number(row.idx))).toEqual(Array.from({ length: last.treeSize }, (_, i) => i));
    for (const span of written) {
      expect(hex(new Uint8Array(leaves[span.chainSeq - 1]!.hash))).toBe(hex(leafOf(span)));
      const owner = writers.find((writer) => writer.userId === span.ownerId)!;
      const proof = await spanInclusionProof(ledger, owner, span.id, span.seq, last.treeSize);
      expect(verifyInclusion(leafOf(span), span.chainSeq - 1, last.treeSize, proof.hashes.map(bytes), bytes(last.rootHash))).toBe(true);
    }
    expect(new Set(written.map((span) => span.chainSeq)).size).toBe(written.length);
  }, 120_000);
});

describe('migration 0006 on an existing ledger', () => {
  test('chains written before it get their logs, equal to the hand-computed tree', async () => {
    // given a database at migration 5 with a chain of 9 spans
    const db = await openPglite();
    try {
      await migrate(db, ledgerMigrations().filter((m) => m.version <= 5));
      const old = { db, signer: testSigner };
      const who = persona('early', 'before');
      const spans: Span[] = [];
      for (let i = 0; i < 9; i += 1) spans.push(await appendSpan(old, who, note(`early ${i}`)));
      // when migration 6 runs
      await migrate(db, ledgerMigrations());
      // then the log holds the chain, and grows on from there
      spans.push(await appendSpan(old, who, note('after')));
      const checkpoint = await ledgerCheckpoint(old, who, who.tenantId);
      expect(checkpoint.treeSize).toBe(10);
      expect(checkpoint.rootHash).toBe(hex(handRoot(spans.map((s) => bytes(s.currHash)))));
    } finally {
      await db.close();
    }
  });
});
