import canonicalize from 'canonicalize';
import { describe, expect, test } from 'vitest';
import { canonicalObject, canonicalString } from '../../functions/ledger/index.ts';
import { seededRandom } from '../support/random.ts';

/*
 * canonicalString writes the top level itself (fixed column order) and hands only nested values to
 * the JCS library; it must give exactly the library's text for the whole object, whatever the values.
 */

const STRINGS = ['', 'plain', 'é ü ß', '😀 astral', '"quoted" \\ back', 'line\nbreak\ttab', '\u0001\u001f controls', '\u2028\u2029', '\ud800 lone', 'key'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, -1.7976931348623157e308, 3.14159];

function value(random: () => number, depth: number): unknown {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6);
  if (kind === 0) return pick(STRINGS);
  if (kind === 1) return pick(NUMBERS);
  if (kind === 2) return random() < 0.5;
  if (kind === 3) return null;
  if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(random, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(STRINGS) + pick(['', 'b', 'a', 'Z', '\u00e9']), value(random, depth + 1)]));
}

describe('canonicalString', () => {
  test('equals the JCS library over the whole canonical object, for 2,000 random spans', () => {
    for (let seed = 1; seed <= 2000; seed += 1) {
      // given a span with random strings, numbers, nested objects and arrays in its columns
      const random = seededRandom(seed);
      const span = {
        id: '00000000-0000-4000-8000-000000000001', seq: Math.floor(random() * 5), entityType: 'note', who: STRINGS[seed % STRINGS.length], did: 'wrote', this: STRINGS[(seed * 7) % STRINGS.length],
        at: '2026-12-04T10:00:00.000Z', ownerId: 'u', visibility: 'public', isDeleted: random() < 0.5, confidence: NUMBERS[seed % NUMBERS.length],
        metadata: value(random, 0), content: value(random, 0), output: value(random, 0), tags: random() < 0.5 ? ['b', 'a'] : null,
      };
      // when it is serialized both ways, then the texts are the same, or both refuse it
      const outcome = (serialize: () => string | undefined) => {
        try {
          return serialize();
        } catch (error) {
          return `refused: ${(error as Error).message}`;
        }
      };
      expect(outcome(() => canonicalString(span)), `seed ${seed}`).toBe(outcome(() => canonicalize(canonicalObject(span))));
    }
  });
});
