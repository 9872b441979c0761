import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applySeeds, getSpan, SEED_OWNER, verifyDigestSignature, type Seed } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const seedOf = (id: string, text: string): Seed => ({
  name: 'example',
  spans: () => [{ id, entityType: 'note', who: 'system:test', did: 'seeded', this: text, visibility: 'public' }],
});

describe('applySeeds', () => {
  test('appends a missing seed span once, public and signed by the deployment key', async () => {
    // given
    const id = randomUUID();
    // when
    const first = await applySeeds(ledger, [seedOf(id, 'v1')]);
    const again = await applySeeds(ledger, [seedOf(id, 'v1')]);
    // then
    expect(first).toEqual([`example:${id}`]);
    expect(again).toEqual([]);
    const span = await getSpan(ledger, persona('reader', 'any-tenant'), id);
    expect(span).toMatchObject({ seq: 0, ownerId: SEED_OWNER.userId, tenantId: null, this: 'v1' });
    expect(verifyDigestSignature(testSigner.publicKeyHex, span?.currHash ?? '', span?.signature ?? '')).toBe(true);
  });

  test('new content becomes a new version, never an edit', async () => {
    // given
    const id = randomUUID();
    await applySeeds(ledger, [seedOf(id, 'v1')]);
    // when
    const applied = await applySeeds(ledger, [seedOf(id, 'v2')]);
    // then
    expect(applied).toEqual([`example:${id}`]);
    expect(await getSpan(ledger, null, id)).toMatchObject({ seq: 1, this: 'v2' });
    expect(await getSpan(ledger, null, id, 0)).toMatchObject({ seq: 0, this: 'v1' });
  });

  test('concurrent appliers seed each span once', async () => {
    const id = randomUUID();
    const results = await Promise.all([applySeeds(ledger, [seedOf(id, 'v1')]), applySeeds(ledger, [seedOf(id, 'v1')])]);
    expect(results.flat()).toEqual([`example:${id}`]);
  });
});
