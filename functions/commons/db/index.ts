export * from './database.ts';
export { migrate, type Migration, type MigrationReport } from './migrate.ts';
export { openPglite, type PgliteOptions } from './pglite.ts';
export { createDatabase, dropDatabase, openPostgres, type PostgresOptions } from './postgres.ts';
