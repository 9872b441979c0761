/**
 * `JSON.parse(JSON.stringify(value))` without the text in between: what a value looks like after it
 * crossed a JSON boundary (AppSync's Lambda invoke, a resolver's `ctx`), made by walking it.
 *
 * The local server copies every resolver's arguments and every Lambda payload and result this way,
 * so that handlers and resolvers see exactly what they would on AWS. The round trip through text cost
 * ~60 µs per `appendSpan` (bench/api.bench.ts); the walk costs a third to a half of it. Anything the
 * walk does not reproduce exactly is handed to the real round trip instead, so the result (or the
 * error) is always JSON's own: a `toJSON` other than Date's (it may depend on its key), boxed
 * primitives, BigInt (JSON throws), and values nested deeper than `MAX_DEPTH` (JSON throws on cycles).
 */
export function jsonCopy<T>(value: T): T {
  if (value === undefined) return value;
  try {
    const copy = walk(value, 0);
    // A function or symbol alone has no JSON text: JSON.parse's own error follows below.
    if (copy !== undefined) return copy as T;
  } catch (error) {
    if (error !== UNUSUAL) throw error;
  }
  return JSON.parse(JSON.stringify(value)) as T;
}

const UNUSUAL = Symbol('unusual value');
const MAX_DEPTH = 256;
const dateToJson = Date.prototype.toJSON;

/** The copy of one value; `undefined` where JSON would leave the property out. */
function walk(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON writes NaN and ±Infinity as null, and -0 as 0.
      return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    case 'object': {
      if (value === null) return null;
      if (depth > MAX_DEPTH) throw UNUSUAL;
      const toJson = (value as { toJSON?: unknown }).toJSON;
      if (toJson !== undefined) {
        if (toJson !== dateToJson) throw UNUSUAL;
        return walk((value as Date).toJSON(), depth + 1);
      }
      if (Array.isArray(value)) {
        const out = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i += 1) {
          const item = walk(value[i], depth + 1);
          out[i] = item === undefined ? null : item;
        }
        return out;
      }
      if (value instanceof String || value instanceof Number || value instanceof Boolean) throw UNUSUAL;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const item = walk((value as Record<string, unknown>)[key], depth + 1);
        if (item === undefined) continue;
        // JSON.parse makes "__proto__" an own property; an assignment would set the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
        else out[key] = item;
      }
      return out;
    }
    case 'bigint':
      throw UNUSUAL;
    default:
      // undefined, functions and symbols: left out of objects, null in arrays.
      return undefined;
  }
}
