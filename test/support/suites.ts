/**
 * The suite runs twice, on PGlite (`npm test`) and on PostgreSQL (`TEST_DATABASE_URL=… npm test`). Test files that
 * open no database check the same thing in both runs, so the PostgreSQL run leaves them to the PGlite run.
 */
export const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

/** Why a file or test does not run again on PostgreSQL: shown in that run's output and in the skipped tests' names. */
export const PGLITE_RUN_ONLY = 'run in the PGlite run only: TEST_DATABASE_URL changes nothing they check';

/** Test files that open no database: Block Kit views, configuration, manifests, request signing, the fake Slack. */
export const databaseIndependentFiles = [
  'test/block-kit.test.ts',
  'test/bot-views.test.ts',
  'test/config.test.ts',
  'test/engines.test.ts',
  'test/fake-slack.test.ts',
  'test/layers.test.ts',
  'test/manifest.test.ts',
  'test/slack-requests.test.ts',
  'test/views.test.ts',
];
