import { keyFilePath, pgliteDir, type Config } from '../commons/config.ts';
import type { Database } from '../commons/db/database.ts';
import { migrate } from '../commons/db/migrate.ts';
import { openPostgres } from '../commons/db/postgres.ts';
import type { Ledger } from './ledger.ts';
import { ledgerMigrations } from './migrations.ts';
import { loadOrCreateKeyFile, signerFromSeed } from './signing.ts';

/** Opens the configured database, applies pending migrations and loads the deployment key. */
export async function openLedger(config: Config): Promise<Ledger & { readonly migrated: readonly string[] }> {
  // PGlite is loaded only when it is used, so a Lambda bundle (always PostgreSQL) can leave it out.
  const db: Database = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, max: config.databasePoolSize })
    : await (await import('../commons/db/pglite.ts')).openPglite({ dataDir: pgliteDir(config) });
  try {
    const report = await migrate(db, ledgerMigrations());
    if (!config.signing) return { db, migrated: report.applied };
    const seed = config.signingKeyHex ?? (await loadOrCreateKeyFile(keyFilePath(config)));
    return { db, signer: signerFromSeed(seed), migrated: report.applied };
  } catch (error) {
    await db.close();
    throw error;
  }
}
