import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../functions/commons/db/index.ts';
import { renderColumnsDoc } from '../../functions/ledger/columns-doc.ts';
import { COLUMNS, ledgerMigrations } from '../../functions/ledger/index.ts';
import { openTestDatabase } from '../support/ledger.ts';

let handle: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  handle = await openTestDatabase();
});
afterAll(() => handle.close());

describe('the registry schema', () => {
  test('has exactly the catalogued columns, in order, with their types', async () => {
    const rows = await handle.db.withOwner((tx) =>
      tx.query<{ column_name: string; type: string }>(
        `select a.attname as column_name, format_type(a.atttypid, a.atttypmod) as type
           from pg_attribute a
          where a.attrelid = 'ledger.universal_registry'::regclass and a.attnum > 0 and not a.attisdropped
          order by a.attnum`,
      ),
    );
    const aliases: Record<string, string> = { 'timestamp with time zone': 'timestamptz', 'text[]': 'text[]', 'uuid[]': 'uuid[]' };
    expect(rows.map((row) => `${row.column_name}:${aliases[row.type] ?? row.type}`)).toEqual(COLUMNS.map((col) => `${col.name}:${col.type}`));
    expect(COLUMNS.length).toBeGreaterThanOrEqual(65);
  });

  test('docs/columns.md is the rendered catalogue (run `npm run docs:columns` after changing it)', () => {
    expect(readFileSync('docs/columns.md', 'utf8')).toBe(renderColumnsDoc());
  });

  test('row-level security is enabled and forced; the API role can only select and insert', async () => {
    const [table] = await handle.db.withOwner((tx) =>
      tx.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
        "select relrowsecurity, relforcerowsecurity from pg_class where oid = 'ledger.universal_registry'::regclass",
      ),
    );
    expect(table).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
    const grants = await handle.db.withOwner((tx) =>
      tx.query<{ privilege_type: string }>(
        "select privilege_type from information_schema.role_table_grants where table_schema = 'ledger' and table_name = 'universal_registry' and grantee = 'loglineos_api' order by 1",
      ),
    );
    expect(grants.map((grant) => grant.privilege_type)).toEqual(['INSERT', 'SELECT']);
  });

  test('migrating again, even twice at once, applies nothing', async () => {
    const reports = await Promise.all([migrate(handle.db, ledgerMigrations()), migrate(handle.db, ledgerMigrations())]);
    expect(reports.map((report) => report.applied)).toEqual([[], []]);
  });

  test('an applied migration that was edited afterwards is refused', async () => {
    const edited = ledgerMigrations().map((m) => (m.version === 1 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    await expect(migrate(handle.db, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  test('every migration file is numbered and applied in order', () => {
    const versions = ledgerMigrations().map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(versions[0]).toBe(1);
    expect(readFileSync(new URL('../../functions/ledger/migrations/0001_registry.sql', import.meta.url), 'utf8')).toContain('force row level security');
  });
});
