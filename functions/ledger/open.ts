import { keyFilePath, pgliteDir, type Config } from '../commons/config.ts';
import { migrate, openPglite, openPostgres, type Database } from '../commons/db/index.ts';
import type { Ledger } from './ledger.ts';
import { ledgerMigrations } from './migrations.ts';
import { loadOrCreateKeyFile, signerFromSeed } from './signing.ts';

/** Opens the configured database, applies pending migrations and loads the deployment key. */
export async function openLedger(config: Config): Promise<Ledger & { readonly migrated: readonly string[] }> {
  const db: Database = config.databaseUrl
    ? openPostgres({ connectionString: config.databaseUrl, max: config.databasePoolSize })
    : await openPglite({ dataDir: pgliteDir(config) });
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
