import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';

/*
 * Arguments for any schema field, from the argument's GraphQL type alone: mostly well-typed values
 * that reach the domain code (real ids of other callers' objects, the domain's vocabularies), mixed
 * with hostile ones (wrong types, huge and unicode strings with lone surrogates and NUL, SQL-ish
 * text, deep JSON, out-of-range numbers, invalid ids and cursors, oversized lists, nulls).
 */

/** Real values seen in the ledger, so fuzzed ids and cursors hit existing objects of every owner. */
export interface ValuePools {
  readonly ids: string[];
  readonly cursors: string[];
  readonly tenants: string[];
  readonly users: string[];
  readonly sessions: string[];
  readonly families: string[];
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'nul\u0000inside',
  '\ud800',
  'lone \udfff surrogate',
  '😀🏳️‍🌈e\u0301',
  '\u202eevil\u202c',
  "'; drop table ledger.universal_registry; --",
  "' or '1'='1",
  '$1',
  '%_\\',
  '{"a":1}',
  '__proto__',
  'constructor',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '${process.exit(1)}',
  'x'.repeat(10_000),
  'é'.repeat(70_000),
] as const;

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

const INVALID_IDS = ['not-a-uuid', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '00000000-0000-4000-8000-00000000000Z', '0'.repeat(200), 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF'];
const INVALID_CURSORS = ['', 'abc', 'eyJ4IjoxfQ', '-1', '99999999999999999999999999', 'MTox', Buffer.from('{"position":"-1","txId":"x"}').toString('base64url')];

/** A value of the wrong GraphQL type for whatever was expected. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant({}),
  fc.constant({ nested: { deeper: [1, 'two'] } }),
  fc.constant([]),
  fc.constant(['a', 1, null]),
  fc.string({ maxLength: 8 }),
);

const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }).map((value) => JSON.stringify(value)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{',
      'null',
      '"text"',
      '12',
      '[]',
      '{"__proto__":{"polluted":true}}',
      '{"text":"nul \\u0000 inside"}',
      '{"text":"lone \\ud800"}',
      '{"a":1e999}',
      `${'['.repeat(2000)}${']'.repeat(2000)}`,
      `${'{"a":'.repeat(600)}1${'}'.repeat(600)}`,
      JSON.stringify({ big: 'y'.repeat(200_000) }),
      JSON.stringify(Array.from({ length: 5000 }, (_, i) => i)),
    ),
  },
);

const dateTime: fc.Arbitrary<string> = fc.oneof(
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '0001-01-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999999Z',
    '2024-02-30T00:00:00Z',
    '2023-02-29T12:00:00Z',
    '2024-01-01T25:61:61Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:00:00+99:99',
    '2024-01-01T00:00:00-23:59:59',
    'yesterday',
    '2024-01-01',
  ),
);

/** Plausible strings for argument and input-field names the domains give meaning to. */
function vocabulary(name: string, pools: ValuePools): fc.Arbitrary<string> | null {
  const lower = name.toLowerCase();
  if (lower === 'visibility') return fc.constantFrom('private', 'tenant', 'public', 'PUBLIC', 'secret');
  if (lower === 'layer' || lower === 'layers') return fc.constantFrom('session', 'temporary', 'permanent', 'shared', 'local', 'global');
  if (lower === 'type' || lower === 'types' || lower === 'memorytype') return fc.constantFrom('note', 'fact', 'profile', 'preference', 'relationship', 'plan', 'action', 'other', 'secret');
  if (lower === 'sensitivity') return fc.constantFrom('public', 'internal', 'secret', 'pii', 'top-secret');
  if (lower === 'consent') return fc.constantFrom('on', 'session-only', 'off', 'maybe');
  if (lower === 'scopes') return fc.constantFrom('span.read', 'span.write', 'memory.read', 'memory.write', 'prompt.run', 'provider.invoke', 'admin', 'kernel:run_code:invoke', 'kernel:*:invoke', 'root');
  if (lower === 'entitytype' || lower === 'entitytypes') return fc.constantFrom('note', 'function', 'memory', 'manifest', 'execution', 'prompt_block', 'auth.decision', 'Bad Type', 'x'.repeat(80));
  if (lower === 'tenantid') return pools.tenants.length > 0 ? fc.oneof(fc.constantFrom(...pools.tenants), fc.constant('')) : null;
  if (lower === 'ownerid') return pools.users.length > 0 ? fc.constantFrom(...pools.users) : null;
  if (lower === 'sessionid') return pools.sessions.length > 0 ? fc.constantFrom(...pools.sessions) : null;
  if (lower === 'family') return pools.families.length > 0 ? fc.constantFrom(...pools.families) : null;
  if (lower === 'after') return pools.cursors.length > 0 ? fc.oneof(fc.constantFrom(...pools.cursors), fc.constantFrom(...INVALID_CURSORS)) : fc.constantFrom(...INVALID_CURSORS);
  if (lower === 'name') return fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/);
  if (lower === 'version') return fc.constantFrom('1', '2.0', 'v3');
  if (lower === 'code') return fc.constantFrom('globalThis.default = async function main(ctx) { return { ok: true, input: ctx.input }; }', 'globalThis.default = async (ctx) => ctx.sql("select count(*)::int as n from ledger.universal_registry")', 'syntax error (');
  if (lower === 'text' || lower === 'userinput' || lower === 'query') return fc.oneof(fc.lorem({ maxCount: 6 }), fc.constant('Hello {{name}}, {{missing}}'));
  if (lower === 'publickey' || lower === 'signature' || lower === 'currhash' || lower === 'expectedhead' || lower === 'fingerprint' || lower === 'chainhash') return fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 130 }), fc.constant('zz'));
  return null;
}

function idArbitrary(pools: ValuePools): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: pools.ids.length > 0 ? fc.constantFrom(...pools.ids) : fc.uuid() },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom(...INVALID_IDS) },
    { weight: 1, arbitrary: hostileString },
  );
}

function scalarArbitrary(typeName: string, fieldName: string, pools: ValuePools): fc.Arbitrary<unknown> {
  const plausible = ((): fc.Arbitrary<unknown> => {
    switch (typeName) {
      case 'ID':
        return idArbitrary(pools);
      case 'Int':
        return fc.oneof(fc.integer({ min: -3, max: 120 }), fc.constantFrom(0, -1, 2_147_483_647, -2_147_483_648, 2_147_483_648, 1e15, 1.5));
      case 'Float':
        return fc.oneof(fc.integer({ min: -3, max: 50 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 1e308, 2 ** 53 + 2, 0.5));
      case 'Boolean':
        return fc.boolean();
      case 'AWSJSON':
        return jsonText;
      case 'AWSDateTime':
        return dateTime;
      case 'String':
        return vocabulary(fieldName, pools) ?? fc.oneof(fc.string({ maxLength: 20 }), fc.lorem({ maxCount: 3 }));
      default:
        return fc.string({ maxLength: 20 });
    }
  })();
  // Wrong types are rare per value: an input of 60 fields would otherwise almost never be well-typed,
  // and GraphQL's coercion would answer every case before the domain code runs.
  return fc.oneof({ weight: 40, arbitrary: plausible }, { weight: 3, arbitrary: typeName === 'String' || typeName === 'ID' ? hostileString : plausible }, { weight: 1, arbitrary: wrongType });
}

/** Values for one GraphQL input type; `fieldName` picks a vocabulary for strings. */
export function valueFor(schema: GraphQLSchema, type: GraphQLInputType, fieldName: string, pools: ValuePools, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) {
    const inner = valueFor(schema, type.ofType, fieldName, pools, depth);
    // null (or nothing) where the schema requires a value, now and then
    return fc.oneof({ weight: 60, arbitrary: inner }, { weight: 1, arbitrary: fc.constant(null) });
  }
  const nullable = (arbitrary: fc.Arbitrary<unknown>) => fc.oneof({ weight: 30, arbitrary }, { weight: 1, arbitrary: fc.constant(null) });
  if (isListType(type)) {
    const element = valueFor(schema, type.ofType, fieldName, pools, depth + 1);
    return nullable(
      fc.oneof(
        { weight: 10, arbitrary: fc.array(element, { maxLength: 4 }) },
        // a single value where a list goes: GraphQL coerces it to a list of one
        { weight: 1, arbitrary: element },
        { weight: 1, arbitrary: fc.constant(null).map(() => Array.from({ length: 3000 }, (_, i) => (isScalarType(getNamedType(type)) && getNamedType(type).name === 'Int' ? i : `item-${i}`))) },
        { weight: 1, arbitrary: fc.array(fc.constant(null), { minLength: 1, maxLength: 2 }) },
      ),
    );
  }
  if (isInputObjectType(type)) {
    if (depth > 3) return fc.constant(null);
    const fields = type.getFields();
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    const required: string[] = [];
    for (const [name, field] of Object.entries(fields)) {
      record[name] = valueFor(schema, field.type, name, pools, depth + 1);
      if (isNonNullType(field.type)) required.push(name);
    }
    const object = fc.record(record, { requiredKeys: required });
    return nullable(
      fc.oneof(
        { weight: 12, arbitrary: object },
        // a field the input type does not have
        { weight: 1, arbitrary: object.map((value) => ({ ...value, notAField: 'x' })) },
        { weight: 1, arbitrary: wrongType },
      ),
    );
  }
  if (isEnumType(type)) return nullable(fc.oneof(fc.constantFrom(...type.getValues().map((v) => v.name)), fc.string({ maxLength: 5 })));
  return nullable(scalarArbitrary(type.name, fieldName, pools));
}

/** One operation's variables (`$a0`…, one per argument; a left-out key is a left-out argument). */
export function argumentsFor(schema: GraphQLSchema, args: readonly GraphQLArgument[], pools: ValuePools): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  args.forEach((arg, index) => {
    record[`a${index}`] = valueFor(schema, arg.type, arg.name, pools);
    if (isNonNullType(arg.type)) required.push(`a${index}`);
  });
  // Sometimes a required argument is left out altogether.
  return fc.oneof({ weight: 15, arbitrary: fc.record(record, { requiredKeys: required }) }, { weight: 1, arbitrary: fc.record(record, { requiredKeys: [] }) });
}

/** Every field below an output type, to `depth` levels: the fuzz reads everything an answer can carry. */
export function selectionOf(type: GraphQLOutputType, depth = 2): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const parts: string[] = [];
  for (const [name, field] of Object.entries(named.getFields()) as [string, GraphQLField<unknown, unknown>][]) {
    const inner = getNamedType(field.type);
    if (isObjectType(inner)) {
      if (depth > 0) parts.push(`${name} ${selectionOf(inner, depth - 1)}`);
    } else {
      parts.push(name);
    }
  }
  return parts.length > 0 ? `{ ${parts.join(' ')} }` : '{ __typename }';
}

/** The document for one root field with every argument bound to a variable `$a<i>`. */
export function documentFor(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>): string {
  const declared = field.args.map((arg, index) => `$a${index}: ${String(arg.type)}`);
  const passed = field.args.map((arg, index) => `${arg.name}: $a${index}`);
  const variables = declared.length > 0 ? `(${declared.join(', ')})` : '';
  const args = passed.length > 0 ? `(${passed.join(', ')})` : '';
  return `${kind} Fuzz${variables} { ${field.name}${args} ${selectionOf(field.type)} }`;
}
