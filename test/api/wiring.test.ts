import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isObjectType } from 'graphql';
import { describe, expect, test } from 'vitest';
import { DATA_SOURCES } from '../../functions/api/data-sources.ts';
import { COLUMNS, camelCase } from '../../functions/ledger/index.ts';
import { discoverResolvers } from '../../local/resolvers.ts';
import { loadSchema } from '../../local/schema.ts';

const schema = loadSchema();

describe('resolvers are wired by their file names', () => {
  test('every resolver file names a field of the schema', () => {
    expect(discoverResolvers(schema).length).toBeGreaterThan(0);
  });

  test('every Query, Mutation and Subscription field has a resolver', () => {
    const covered = new Set(discoverResolvers(schema).map((r) => r.coordinate));
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) => (type ? Object.keys(type.getFields()).map((field) => `${type.name}.${field}`) : []));
    expect(roots.filter((coordinate) => !covered.has(coordinate))).toEqual([]);
  });

  test('each Lambda data source serves exactly the fields whose resolvers name it', () => {
    const named = new Set(discoverResolvers(schema).map((r) => r.dataSource).filter((name) => name !== 'none'));
    expect([...named].sort()).toEqual(Object.keys(DATA_SOURCES).sort());
    for (const [name, definition] of Object.entries(DATA_SOURCES)) {
      const fields = discoverResolvers(schema).filter((r) => r.dataSource === name).map((r) => r.coordinate).sort();
      expect({ name, fields: Object.keys(definition.operations).sort() }).toEqual({ name, fields });
    }
  });

  test('each Lambda data source has its Lambda entry, as infra bundles it', () => {
    for (const name of Object.keys(DATA_SOURCES)) {
      expect(existsSync(fileURLToPath(new URL(`../../functions/api/${name}.handler.ts`, import.meta.url))), name).toBe(true);
    }
  });

  test('a file naming a field the schema lacks fails loudly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'resolvers-'));
    try {
      writeFileSync(join(dir, 'Query.nosuchfield.[ledger].ts'), 'export {}');
      expect(() => discoverResolvers(schema, dir)).toThrow('type Query has no field nosuchfield');
      rmSync(join(dir, 'Query.nosuchfield.[ledger].ts'));
      writeFileSync(join(dir, 'helpers.ts'), 'export {}');
      expect(() => discoverResolvers(schema, dir)).toThrow(/Type\.field\.\[dataSource\]\.ts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Span type mirrors the column catalogue', () => {
  test('Span has one field per column, plus its cursor', () => {
    const span = schema.getType('Span');
    if (!isObjectType(span)) throw new Error('no Span type');
    expect(Object.keys(span.getFields())).toEqual([...COLUMNS.map((col) => camelCase(col.name)), 'cursor']);
  });

  test('SpanInput has every column a client may send, and the proofs', () => {
    const input = schema.getType('SpanInput');
    if (!input || !('getFields' in input)) throw new Error('no SpanInput type');
    const expected = COLUMNS.filter((col) => col.origin === 'client').map((col) => camelCase(col.name));
    expect(Object.keys(input.getFields()).sort()).toEqual([...expected, 'currHash', 'signature'].sort());
  });
});
