import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../domain/renewals/window.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { runRules } from '../domain/rules.ts';
import { recomputeDuration } from '../metrics.ts';

export const jobNames = ['health', 'renewals', 'rules', 'digest', 'outbox', 'slack_links'] as const;
export type JobName = (typeof jobNames)[number];

export interface JobContext {
  db: Db;
  /** The moment the run is for: the cron slot for scheduled runs, the request time for manual ones. */
  now: Date;
  logger: Logger;
}

/** A job is an ordinary async function: it returns counts of what it did, recorded with its run. */
export type JobFn = (ctx: JobContext) => Promise<Record<string, number>>;
export type JobRegistry = Partial<Record<JobName, JobFn>>;

/** The jobs a process runs and the logger their runs are logged with: what the scheduler and `runJob` are given. */
export interface ProcessJobs {
  jobs: JobRegistry;
  logger: Logger;
}

export function isJobName(name: string): name is JobName {
  return (jobNames as readonly string[]).includes(name);
}

export interface CoreJobOptions {
  renewalWindowDays?: number;
}

/** The jobs that need only the database. `digest`, `outbox` and `slack_links` need Slack (bot/jobs.ts). */
export function createCoreJobs(options: CoreJobOptions = {}): Required<Pick<JobRegistry, 'health' | 'renewals' | 'rules'>> {
  return {
    health: async ({ db, now }) => {
      const timer = recomputeDuration.startTimer({ scope: 'book' });
      const { accounts, insufficientData, scoresRemoved, statusChanges, historyRows } = await recomputeHealth(db, { now });
      timer();
      return { accounts, insufficientData, scoresRemoved, statusChanges, historyRows };
    },
    renewals: async ({ db, now }) => ({ ...(await runRenewals(db, { now, windowDays: options.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS })) }),
    rules: async ({ db, now }) => ({ ...(await runRules(db, { now })) }),
  };
}
