import { defineConfig } from 'vitest/config';

// The fault suite starts real Lifeline processes against a PostgreSQL server of its own: one file at a time.
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/faults/**/*.faults.ts'],
    globalSetup: ['test/faults/support/teardown.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
