import { keyFilePath, pgliteDir, type Config } from '../commons/config.ts';
import type { Database } from '../commons/db/database.ts';
import { migrate } from '../commons/db/migrate.ts';
import { openPostgres } from '../commons/db/postgres.ts';
import type { Ledger } from './ledger.ts';
import { ledgerMigrations } from './migrations.ts';
import { applySeeds, type Seed } from './seeds.ts';
import { loadOrCreateKeyFile, signerFromSeed } from './signing.ts';

/**
 * Opens the configured database, applies pending migrations, loads the deployment key and applies
 * the seeds (signed by that key when signing is on).
 */
export async function openLedger(config: Config, seeds: readonly Seed[] = [], options: { readonly onMigration?: (checked: number, total: number) => void } = {}): Promise<Ledger & { readonly migrated: readonly string[] }> {
  // PGlite is loaded only when it is used, so a Lambda bundle (always PostgreSQL) can leave it out.
  const db: Database = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, max: config.databasePoolSize, min: config.databasePoolMin, ...(config.databasePassword ? { password: config.databasePassword } : {}) })
    : await (await import('../commons/db/pglite.ts')).openPglite({ dataDir: pgliteDir(config) });
  try {
    const report = await migrate(db, ledgerMigrations(), options.onMigration);
    const key = config.signing ? (config.signingKeyHex ?? (await loadOrCreateKeyFile(keyFilePath(config)))) : undefined;
    const ledger: Ledger = { db, ...(key ? { signer: signerFromSeed(key) } : {}), ...(config.appendGroups ? { appendGroups: config.appendGroups } : {}), ...(config.logOrigin ? { logOrigin: config.logOrigin } : {}) };
    const seeded = await applySeeds(ledger, seeds);
    return { ...ledger, migrated: [...report.applied, ...seeded.map((entry) => `seed ${entry}`)] };
  } catch (error) {
    await db.close();
    throw error;
  }
}
