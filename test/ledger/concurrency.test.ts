import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, verifyChain, type Span } from '../../functions/ledger/index.ts';
import { backend, openTestLedger, persona, type TestLedger } from '../support/ledger.ts';

/*
 * Concurrent appenders never fork a chain or leave a gap. On real PostgreSQL the writers really race
 * (8 connections); PGlite is one session and serialises them, so it runs a smaller round.
 */

const WRITERS = 8;
const PER_WRITER = backend === 'postgres' ? 2000 : 100;

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

async function writer(tenant: string | null, suffix: string, index: number): Promise<Span[]> {
  const who = { ...persona(`writer${index}`, tenant, suffix) };
  const acknowledged: Span[] = [];
  for (let i = 0; i < PER_WRITER; i += 1) {
    acknowledged.push(await appendSpan(ledger, who, { entityType: 'note', who: `writer:${index}`, did: 'wrote', this: `note ${i}` }));
  }
  return acknowledged;
}

async function chainRows(chain: string): Promise<{ id: string; chain_seq: number }[]> {
  return ledger.db.withLedger((tx) => tx.query('select id, chain_seq from ledger.universal_registry where chain_key = $1 order by chain_seq', [chain]));
}

describe(`${WRITERS} concurrent writers × ${PER_WRITER} spans`, () => {
  test('on one tenant chain: no fork, no gap, every acknowledged span present', async () => {
    // given one tenant shared by all writers
    const suffix = randomBytes(3).toString('hex');
    const chain = `hot-${suffix}`;
    // when they all append at once
    const results = (await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer('hot', suffix, i)))).flat();
    // then
    const rows = await chainRows(chain);
    expect(rows.map((row) => Number(row.chain_seq))).toEqual(Array.from({ length: WRITERS * PER_WRITER }, (_, i) => i + 1));
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set(results.map((span) => span.id)));
    expect(await verifyChain(ledger, chain)).toMatchObject({ ok: true, checked: WRITERS * PER_WRITER });
  }, 240_000);

  test('on eight tenant chains at once: each chain whole and independent', async () => {
    const suffix = randomBytes(3).toString('hex');
    const results = await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(`t${i}`, suffix, i)));
    for (const [i, acknowledged] of results.entries()) {
      const chain = `t${i}-${suffix}`;
      const rows = await chainRows(chain);
      expect(rows.map((row) => row.id)).toEqual(acknowledged.map((span) => span.id));
      expect(rows.map((row) => Number(row.chain_seq))).toEqual(Array.from({ length: PER_WRITER }, (_, k) => k + 1));
      expect(await verifyChain(ledger, chain)).toMatchObject({ ok: true, checked: PER_WRITER });
    }
  }, 240_000);
});
