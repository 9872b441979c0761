import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createDatabase, dropDatabase, migrate, openPglite, openPostgres } from '../../functions/commons/db/index.ts';
import { SEEDS } from '../../functions/deploy/seeds.ts';
import { ledgerMigrations } from '../../functions/ledger/migrations.ts';
import { applySeeds } from '../../functions/ledger/seeds.ts';
import { testSigner } from './signer.ts';
import { databaseUrl } from './urls.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    backend: 'pglite' | 'postgres';
    /** PGlite: a tarball of a migrated database. PostgreSQL: the name of a migrated template database. */
    template: string;
  }
}

/**
 * Migrates one database once, and lets every test file start from a copy of it: initdb and the
 * migrations run once per test run instead of once per file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const db = await openPglite();
    await migrate(db, ledgerMigrations());
    await applySeeds({ db, signer: testSigner }, SEEDS);
    const dir = resolve('.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `pglite-template-${process.pid}.tar`);
    writeFileSync(file, Buffer.from(await (await db.dump()).arrayBuffer()));
    await db.close();
    project.provide('backend', 'pglite');
    project.provide('template', file);
    return async () => rmSync(file, { force: true });
  }

  const template = `loglineos_tpl_${randomBytes(4).toString('hex')}`;
  await createDatabase(url, template);
  const db = openPostgres({ connectionString: databaseUrl(url, template), max: 1 });
  await migrate(db, ledgerMigrations());
  await applySeeds({ db, signer: testSigner }, SEEDS);
  await db.close();
  project.provide('backend', 'postgres');
  project.provide('template', template);
  return () => dropDatabase(url, template);
}
