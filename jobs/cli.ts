// `npm run job -- <name>`: runs one job now, records it in job_runs as a manual run, prints its outcome.
import { loadConfigOrReport } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { type JobFn, type JobRegistry, createCoreJobs, jobNames } from './registry.ts';
import { runJobByHand } from './run.ts';

/**
 * The `digest`, `outbox` and `slack_links` jobs talk to through Slack, which only a running Lifeline holds (server.ts builds
 * them for its scheduler and the `runJob` mutation); from the command line they answer that they are not here.
 */
const slackJobsForCli: Partial<Record<'digest' | 'outbox' | 'slack_links', JobFn>> = {};

async function main(): Promise<number> {
  const name = process.argv[2];
  if (!name) {
    process.stderr.write(`Which job? Usage: npm run job -- <name>, where <name> is one of: ${jobNames.join(', ')}.\n`);
    return 2;
  }
  const config = loadConfigOrReport();
  if (!config) return 1;
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config.database);
  try {
    await database.migrate();
    const jobs: JobRegistry = { ...createCoreJobs({ renewalWindowDays: config.jobs.renewalWindowDays }), ...slackJobsForCli };
    const run = await runJobByHand(database.db, { name, jobs, logger, instanceId: `cli:${process.pid}` });
    process.stdout.write(`${JSON.stringify({ job: run.job, status: run.status, counts: run.counts, error: run.error, runId: run.id })}\n`);
    return run.status === 'succeeded' ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

process.exitCode = await main();
