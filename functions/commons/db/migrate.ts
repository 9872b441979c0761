import { createHash } from 'node:crypto';
import type { Database } from './database.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: number;
}

// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK = 7_406_531_212;

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * Applies pending migrations in version order, all in one transaction that holds a
 * transaction-scoped advisory lock: concurrent migrators queue, and the second finds nothing to do.
 * An applied migration whose file has changed since is refused rather than silently skipped.
 * `onProgress` hears each migration checked (a long first migration is a visible wait).
 */
export async function migrate(db: Database, migrations: readonly Migration[], onProgress?: (checked: number, total: number) => void): Promise<MigrationReport> {
  return db.withOwner(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // Checked first: CREATE TABLE IF NOT EXISTS still needs CREATE on the schema, which the Lambdas'
    // login role does not have; it only reads this table to find nothing pending.
    const [table] = await tx.query<{ exists: boolean }>("select to_regclass('public.loglineos_migrations') is not null as exists");
    if (!table?.exists) await tx.exec(`create table public.loglineos_migrations (
      version integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const rows = await tx.query<{ version: number; name: string; checksum: string }>(
      'select version, name, checksum from public.loglineos_migrations order by version',
    );
    const done = new Map(rows.map((row) => [row.version, row]));
    const applied: string[] = [];
    let checked = 0;
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      onProgress?.(checked++, migrations.length);
      const sum = checksum(migration.sql);
      const previous = done.get(migration.version);
      if (previous) {
        if (previous.checksum !== sum) {
          throw new Error(
            `migration ${migration.version} (${migration.name}) was changed after it was applied; ` +
              'add a new numbered migration instead of editing an applied one',
          );
        }
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query('insert into public.loglineos_migrations (version, name, checksum) values ($1, $2, $3)', [
        migration.version,
        migration.name,
        sum,
      ]);
      applied.push(`${String(migration.version).padStart(4, '0')}_${migration.name}`);
    }
    onProgress?.(checked, migrations.length);
    return { applied, alreadyApplied: done.size };
  });
}
