import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonCopy } from '../../local/json-copy.ts';

// The local server's Lambda boundary and resolver ctx use jsonCopy in place of a trip through JSON
// text; it must give exactly what the trip gives (own keys, their order, prototypes), or the same error.
const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

/** Structure, key order, prototypes and -0 compared exactly (toStrictEqual treats -0 and 0 alike). */
function sameAsJson(value: unknown): void {
  const copy = jsonCopy(value);
  const expected = roundTrip(value);
  expect(copy).toStrictEqual(expected);
  expect(shape(copy)).toEqual(shape(expected));
}

function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') {
    return { proto: Object.getPrototypeOf(value) === Object.prototype, keys: Object.keys(value), values: Object.values(value).map(shape) };
  }
  return Object.is(value, -0) ? '-0' : value;
}

const odd = fc.oneof(
  fc.constant(undefined),
  fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.constant(-0),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.date({ noInvalidDate: false }),
  fc.string({ unit: 'binary' }),
  fc.double(),
);

describe('jsonCopy', () => {
  it('equals JSON.parse(JSON.stringify(v)) on random JSON-like values with undefined, NaN, -0, dates, functions', () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, odd, fc.jsonValue(), fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(fc.property(tree, (value) => {
      if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) return;
      sameAsJson(value);
    }), { numRuns: 2_000 });
  });

  it('keeps "__proto__" an own key, as JSON.parse does, and never sets the prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = jsonCopy(value);
    sameAsJson(value);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(copy)).toEqual(['__proto__', 'a']);
  });

  it('hands odd values to JSON itself: toJSON with a key, boxed primitives, null-prototype objects', () => {
    const keyed = { inner: { toJSON: (key: string) => `key was ${key}` } };
    expect(jsonCopy(keyed)).toEqual({ inner: 'key was inner' });
    sameAsJson({ s: new String('x'), n: new Number(2), b: new Boolean(false) });
    const bare = Object.assign(Object.create(null) as object, { b: 1, a: [undefined, () => 1] });
    sameAsJson(bare);
    sameAsJson([new Date(Number.NaN), new Date(0)]);
  });

  it('throws what JSON throws: BigInt, cycles, a bare function', () => {
    expect(() => jsonCopy({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => jsonCopy(cyclic)).toThrow(TypeError);
    expect(() => jsonCopy(() => 1)).toThrow(SyntaxError);
    expect(jsonCopy(undefined)).toBeUndefined();
  });

  it('returns a copy: changing it leaves the original alone', () => {
    const original = { input: { tags: ['a'], nested: { n: 1 } } };
    const copy = jsonCopy(original);
    copy.input.tags.push('b');
    copy.input.nested.n = 2;
    expect(original).toEqual({ input: { tags: ['a'], nested: { n: 1 } } });
  });
});
