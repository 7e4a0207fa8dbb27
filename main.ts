import { ensureInstallDefaults } from './domain/install-defaults.ts';
import { loadConfigOrReport } from './config.ts';
import { openDatabase } from './db/client.ts';
import { seedDemoBook } from './demo/book.ts';
import { demoAdminToken, demoTokenMayBeShown } from './demo/token.ts';
import { startScheduler } from './jobs/scheduler.ts';
import { createLogger } from './logger.ts';
import { startLifeline, startMetricsServer } from './server.ts';
import { explainDatabaseFailure, explainListenFailure } from './startup.ts';

/** Stops the start with a message for the operator (no stack trace) when `explain` recognises the failure. */
async function orExplain<T>(step: Promise<T>, explain: (error: unknown) => string | undefined): Promise<T> {
  try {
    return await step;
  } catch (error) {
    const message = explain(error);
    if (message === undefined) throw error;
    process.stderr.write(`\nLifeline cannot start.\n${message}\n\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrReport();
  if (!config) process.exit(1);
  const logger = createLogger(config.logLevel);
  const explainDatabase = (error: unknown) => explainDatabaseFailure(error, config.database);
  const database = await orExplain(openDatabase(config.database), explainDatabase);
  await orExplain(database.migrate(), explainDatabase);
  await ensureInstallDefaults(database.db);

  // The demo book only ever goes into the embedded database: a real server's data is never touched.
  let demoToken: string | undefined;
  if (config.database.kind === 'pglite' && config.seedDemo === 'auto') {
    const { seeded, admin } = await seedDemoBook(database.db, new Date(), { renewalWindowDays: config.jobs.renewalWindowDays });
    if (seeded) logger.info('seeded the demo book: 40 accounts, 10 people');
    // The same token across restarts, kept in the database's folder (demo/token.ts).
    ({ token: demoToken } = await demoAdminToken(database.db, { dir: config.database.dir, adminId: admin?.id ?? null }));
  }

  const shownToken = demoToken && demoTokenMayBeShown(config.host) ? { demoToken } : {};
  const lifeline = await orExplain(startLifeline({ config, database, logger, host: config.host, ...shownToken }), (error) =>
    explainListenFailure(error, { port: config.port, host: config.host, variable: 'PORT' }),
  );
  const metrics = config.metrics
    ? await orExplain(startMetricsServer({ database, logger, port: config.metrics.port, host: config.metrics.host }), (error) =>
        explainListenFailure(error, { port: config.metrics?.port ?? 0, host: config.metrics?.host, variable: 'METRICS_PORT' }),
      )
    : undefined;

  // The process's jobs (server.ts assembles them) are scheduled here, coordinated across replicas and recorded in
  // job_runs; the runJob mutation runs the same ones by hand.
  const stopScheduler = config.jobs.enabled
    ? startScheduler({
        db: database.db,
        logger,
        jobs: lifeline.jobs.jobs,
        schedules: config.jobs.schedules,
        timezone: config.jobs.timezone,
        catchUpGraceMs: config.jobs.catchUpGraceMs,
      })
    : async () => {};

  // Slack delivery: the outbox loop posts notifications as they are queued (woken by clicks, polling otherwise);
  // every replica runs one, and FOR UPDATE SKIP LOCKED keeps them from posting the same row twice.
  lifeline.delivery.start();

  const lines = [
    '',
    `Lifeline is running on ${lifeline.url}`,
    `  GraphiQL:       ${lifeline.url}/graphql`,
    config.slack.mode === 'socket' ? '  Slack events:   over Socket Mode (no public URL needed)' : `  Slack events:   ${lifeline.url}/slack/events`,
    `  Health:         ${lifeline.url}/healthz`,
    `  Metrics:        ${metrics ? `${metrics.url} (Prometheus; METRICS_PORT)` : 'off (METRICS_PORT=off)'}`,
    `  Database:       ${config.database.kind === 'pglite' ? `embedded PGlite in ${config.database.dir}` : 'PostgreSQL (DATABASE_URL)'}`,
    config.slack.mode === 'local'
      ? `  Slack:          local mode (no SLACK_BOT_TOKEN): try it in the simulator at ${lifeline.url}/local-slack`
      : config.slack.mode === 'socket'
        ? '  Slack:          Socket Mode with SLACK_APP_TOKEN and SLACK_BOT_TOKEN'
        : '  Slack:          connected with SLACK_BOT_TOKEN',
  ];
  if (demoToken) {
    lines.push(
      `  Demo API token: ${demoToken}`,
      `  Try it:         curl -s ${lifeline.url}/graphql -H 'Authorization: Bearer ${demoToken}' -H 'content-type: application/json' -d '{"query":"{ accounts(first: 5) { totalCount edges { node { name stage { name } } } } }"}'`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await stopScheduler();
    await lifeline.close();
    await metrics?.close();
    await database.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
