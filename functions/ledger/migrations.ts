import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Migration } from '../commons/db/migrate.ts';

const folder = fileURLToPath(new URL('./migrations/', import.meta.url));

/** The ledger's migrations: `NNNN_name.sql` files beside this module, in version order. */
export function ledgerMigrations(): Migration[] {
  return readdirSync(folder)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(folder + file, 'utf8'),
    }));
}
