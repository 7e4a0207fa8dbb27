import pino, { type Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { recomputeHealth } from '../domain/health.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, runRenewals } from '../domain/renewals.ts';
import { runRules } from '../domain/rules.ts';

export const jobNames = ['health', 'renewals', 'rules', 'digest', 'outbox'] as const;
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

export function isJobName(name: string): name is JobName {
  return (jobNames as readonly string[]).includes(name);
}

export interface CoreJobOptions {
  renewalWindowDays?: number;
}

/** The jobs this part of Lifeline owns. `digest` and `outbox` come from the Slack side (see main.ts). */
export function createCoreJobs(options: CoreJobOptions = {}): Required<Pick<JobRegistry, 'health' | 'renewals' | 'rules'>> {
  return {
    health: async ({ db, now }) => {
      const { accounts, insufficientData, scoresRemoved, statusChanges, historyRows } = await recomputeHealth(db, { now });
      return { accounts, insufficientData, scoresRemoved, statusChanges, historyRows };
    },
    renewals: async ({ db, now }) => ({ ...(await runRenewals(db, { now, windowDays: options.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS })) }),
    rules: async ({ db, now }) => ({ ...(await runRules(db, { now })) }),
  };
}

/**
 * The job functions of this process, for the hand-run path (the `runJob` mutation). The API has no other way
 * to reach functions that main.ts assembles from Slack configuration, so main.ts registers them here once at
 * start; until it does, the core jobs are available with default settings and runs are not logged.
 */
let processJobs: { jobs: JobRegistry; logger: Logger } = { jobs: createCoreJobs(), logger: pino({ level: 'silent' }) };

export function registerJobs(jobs: JobRegistry, logger: Logger): void {
  processJobs = { jobs: { ...jobs }, logger };
}

export function registeredJobs(): { jobs: JobRegistry; logger: Logger } {
  return processJobs;
}
