// @ts-check
import appsync from '@aws-appsync/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.tmp/**', 'cdk.out/**', '**/generated/**', 'console/dist/**', 'console/dist.building-*/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // The architecture, written down: only the database module talks to a driver.
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'pg', message: 'Only functions/commons/db may import pg; use the Database interface.' },
          { name: '@electric-sql/pglite', message: 'Only functions/commons/db may import PGlite; use the Database interface.' },
        ],
      }],
    },
  },
  {
    files: ['functions/commons/db/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The domain never reaches into the hosts that run it.
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'pg', message: 'Only functions/commons/db may import pg; use the Database interface.' },
          { name: '@electric-sql/pglite', message: 'Only functions/commons/db may import PGlite; use the Database interface.' },
        ],
        patterns: [{ group: ['**/infra/**', '**/local/**'], message: 'functions/ must not import from infra/ or local/.' }],
      }],
    },
  },
  {
    files: ['functions/commons/db/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Resolvers run in AppSync's APPSYNC_JS runtime: only what it supports.
    files: ['resolvers/**/*.ts'],
    ...appsync.configs.recommended,
    languageOptions: {
      ...appsync.configs.recommended.languageOptions,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
);
