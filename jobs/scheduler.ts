import { hostname } from 'node:os';
import { createTask, validate, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { DEFAULT_LEASE_MS, PostgresRunCoordinator } from './coordinator.ts';
import { type JobName, type JobRegistry, isJobName, jobNames } from './registry.ts';
import { executeRun } from './run.ts';

/** Cron expressions (node-cron: optional seconds field first), read in the scheduler's timezone. */
export const DEFAULT_SCHEDULES: Record<JobName, string> = {
  health: '0 * * * *',
  renewals: '10 6 * * *',
  rules: '20 6 * * *',
  digest: '0 9 * * 1-5',
  outbox: '*/5 * * * * *',
};

export interface StartSchedulerOptions {
  db: Db;
  logger: Logger;
  /** The job functions; a job without one is not scheduled. */
  jobs: JobRegistry;
  /** Overrides of DEFAULT_SCHEDULES. */
  schedules?: Partial<Record<JobName, string>>;
  /** An IANA zone, e.g. Europe/Paris: `0 9 * * 1-5` is 09:00 there. */
  timezone: string;
  /** Names this process in job_runs; hostname and pid by default. */
  instanceId?: string;
  /** How long a run may take before another replica may presume it lost. */
  leaseMs?: number;
}

export type StopScheduler = () => Promise<void>;

/**
 * Starts one node-cron task per job. Every fire asks the PostgreSQL run coordinator first, so with several
 * replicas each fire runs on exactly one of them, and every run is recorded in job_runs.
 */
export function startScheduler(options: StartSchedulerOptions): StopScheduler {
  const instanceId = options.instanceId ?? `${hostname()}:${process.pid}`;
  const coordinator = new PostgresRunCoordinator(options.db, instanceId, isJobName);
  const logger = options.logger.child({ component: 'scheduler', instanceId });
  const schedules = { ...DEFAULT_SCHEDULES, ...options.schedules };
  const tasks: ScheduledTask[] = [];

  for (const job of jobNames) {
    const fn = options.jobs[job];
    if (!fn) continue;
    const expression = schedules[job];
    if (!validate(expression)) {
      throw new Error(`The schedule of the ${job} job, "${expression}", is not a valid cron expression; fix LIFELINE_SCHEDULE_${job.toUpperCase()}.`);
    }
    const task = createTask(
      expression,
      async () => {
        const run = coordinator.takeClaimed(job);
        if (!run) return;
        await executeRun(options.db, run, fn, { now: run.scheduledFor, logger });
      },
      {
        name: job,
        timezone: options.timezone,
        noOverlap: true,
        distributed: true,
        runCoordinator: coordinator,
        distributedLease: options.leaseMs ?? DEFAULT_LEASE_MS,
        logger: {
          info: (message) => logger.debug(message),
          warn: (message) => logger.warn(message),
          error: (message, err) => logger.error({ err: err ?? message }, typeof message === 'string' ? message : message.message),
          debug: (message) => logger.debug(typeof message === 'string' ? message : message.message),
        },
      },
    );
    task.start();
    tasks.push(task);
    logger.info({ job, schedule: expression, timezone: options.timezone }, `scheduled the ${job} job`);
  }

  return async () => {
    for (const task of tasks) await task.destroy();
  };
}
