import { defineConfig } from 'vitest/config';
import { databaseIndependentFiles, onPostgres } from './test/support/suites.ts';

export default defineConfig({
  resolve: {
    // graphql ships CommonJS and ESM builds; Node (and so Pothos and Yoga) load the CommonJS one, and our
    // sources must use the same instance or the schema fails with "from another module or realm".
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts', '**/*.unit.test.ts'],
    // On PostgreSQL, the files that open no database are left to the PGlite run (global-setup says so).
    exclude: ['node_modules/**', '.data/**', ...(onPostgres ? databaseIndependentFiles : [])],
    globalSetup: ['test/support/global-setup.ts'],
    // Each file opens its own database (a PGlite copy or a PostgreSQL database): keep it in its own process.
    pool: 'forks',
    // One file per core. Vitest's default keeps a core free for itself (one file at a time on two cores), but the
    // main process only gathers results, and the files wait on PostgreSQL, child processes and the browser too.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
