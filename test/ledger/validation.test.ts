import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan, listSpans, MAX_SPAN_BYTES, timeline } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, rowCount, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const base = { entityType: 'note', who: 'user:test', did: 'wrote', this: 'a note' };
const deep = (levels: number): unknown => (levels === 0 ? 'leaf' : { child: deep(levels - 1) });

// [case, input, errorType, field]
const cases: [string, Record<string, unknown>, string, string][] = [
  ['missing entityType', { who: 'a', did: 'b', this: 'c' }, 'ValidationError', 'entityType'],
  ['missing who', { entityType: 'note', did: 'b', this: 'c' }, 'ValidationError', 'who'],
  ['empty did', { ...base, did: '' }, 'ValidationError', 'did'],
  ['bad uuid', { ...base, id: 'not-a-uuid' }, 'ValidationError', 'id'],
  ['bad parent uuid', { ...base, parentId: '1234' }, 'ValidationError', 'parentId'],
  ['bad uuid in relatedTo', { ...base, relatedTo: [randomUUID(), 'x'] }, 'ValidationError', 'relatedTo[1]'],
  ['unknown visibility', { ...base, visibility: 'everyone' }, 'ValidationError', 'visibility'],
  ['unknown field', { ...base, colour: 'blue' }, 'ValidationError', 'colour'],
  ['ledger-assigned field', { ...base, chainSeq: 4 }, 'ValidationError', 'chainSeq'],
  ['prevHash given', { ...base, prevHash: 'ab'.repeat(32) }, 'ValidationError', 'prevHash'],
  ['entity type with capitals', { ...base, entityType: 'Note' }, 'ValidationError', 'entityType'],
  ['negative seq', { ...base, id: randomUUID(), seq: -1 }, 'ValidationError', 'seq'],
  ['fractional seq', { ...base, seq: 1.5 }, 'ValidationError', 'seq'],
  ['string seq', { ...base, seq: '1' }, 'ValidationError', 'seq'],
  ['bad timestamp', { ...base, at: 'yesterday' }, 'ValidationError', 'at'],
  ['timestamp without offset', { ...base, at: '2026-11-26T10:00:00' }, 'ValidationError', 'at'],
  ['microsecond timestamp', { ...base, at: '2026-11-26T10:00:00.123456Z' }, 'ValidationError', 'at'],
  // Date() would store these as Mar 1, Mar 2 and year 0 (found by the schema fuzz)
  ['a day its month does not have', { ...base, at: '2023-02-29T12:00:00Z' }, 'ValidationError', 'at'],
  ['February 30th', { ...base, expiresAt: '2024-02-30T00:00:00Z' }, 'ValidationError', 'expiresAt'],
  ['a time in UTC year 0', { ...base, at: '0001-01-01T00:30:00+01:00' }, 'ValidationError', 'at'],
  ['metadata not an object', { ...base, metadata: [1, 2] }, 'ValidationError', 'metadata'],
  ['too deep json', { ...base, content: deep(40) }, 'ValidationError', 'content'],
  ['NUL in text', { ...base, this: 'a\u0000b' }, 'ValidationError', 'this'],
  ['NUL in json', { ...base, content: { text: 'a\u0000b' } }, 'ValidationError', 'content'],
  ['lone surrogate', { ...base, description: 'x\ud800y' }, 'ValidationError', 'description'],
  ['non-finite number', { ...base, content: { n: Number.POSITIVE_INFINITY } }, 'ValidationError', 'content'],
  ['non-JSON value', { ...base, content: { when: new Date() } }, 'ValidationError', 'content'],
  ['oversize content', { ...base, content: { text: 'x'.repeat(MAX_SPAN_BYTES) } }, 'ValidationError', 'input'],
  ['confidence above 1', { ...base, confidence: 1.5 }, 'ValidationError', 'confidence'],
  ['unknown sensitivity', { ...base, sensitivity: 'top-secret' }, 'ValidationError', 'sensitivity'],
  ['uppercase public key', { ...base, publicKey: 'AB'.repeat(32), signature: 'ab'.repeat(64) }, 'ValidationError', 'publicKey'],
  ['signature without key', { ...base, signature: 'ab'.repeat(64) }, 'ValidationError', 'publicKey'],
  ['short signature', { ...base, signature: 'abcd' }, 'ValidationError', 'signature'],
  ['bad signature', { ...base, publicKey: 'ab'.repeat(32), signature: 'ab'.repeat(64) }, 'SignatureInvalid', 'signature'],
  ["another user's ownerId", { ...base, ownerId: 'mallory' }, 'Forbidden', 'ownerId'],
  ["another tenant's tenantId", { ...base, tenantId: 'other-tenant' }, 'Forbidden', 'tenantId'],
];

describe('bad input is refused with a clear error and writes nothing', () => {
  test.each(cases)('%s', async (_name, input, errorType, field) => {
    // given
    const alice = persona('alice', 'acme');
    const before = await rowCount(ledger.db);
    // when
    const error = await appendSpan(ledger, alice, input).then(
      () => undefined,
      (e: unknown) => e as { errorType?: string; errorInfo?: { field?: string }; message: string },
    );
    // then
    expect(error?.errorType).toBe(errorType);
    expect(error?.errorInfo?.field).toBe(field);
    expect(error?.message).toContain(field.replace(/\[\d+\]$/, ''));
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('an error says what was received and how to fix it', async () => {
    const alice = persona('alice', 'acme');
    await expect(appendSpan(ledger, alice, { ...base, visibility: 'everyone' })).rejects.toThrow(
      'visibility: must be one of private, tenant, public (got "everyone"). Send one of: private, tenant, public.',
    );
  });

  test('an anonymous caller cannot append', async () => {
    const before = await rowCount(ledger.db);
    await expect(appendSpan(ledger, null, base)).rejects.toMatchObject({ errorType: 'Forbidden' });
    expect(await rowCount(ledger.db)).toBe(before);
  });
});

describe('read filters take times as the span columns do', () => {
  test.each([
    ['spans', 'since', '2023-02-29T12:00:00Z'],
    ['timeline', 'until', '0000-01-01T00:00:00Z'],
    ['spans', 'until', '2024-04-31T00:00:00Z'],
  ] as const)('%s with %s %s: a ValidationError naming the filter field, not a database error', async (read, key, value) => {
    // given
    const alice = persona('alice', 'acme');
    // when
    const error = await (read === 'spans' ? listSpans : timeline)(ledger, alice, { [key]: value }).then(
      () => undefined,
      (e: unknown) => e as { errorType?: string; errorInfo?: { field?: string } },
    );
    // then
    expect(error).toMatchObject({ errorType: 'ValidationError', errorInfo: { field: `filter.${key}` } });
  });
});
