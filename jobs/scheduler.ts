import { hostname } from 'node:os';
import { createTask, validate, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_REDO_WITHIN_MS,
  PostgresRunCoordinator,
  settleLostRuns,
  takeOverLostRun,
} from './coordinator.ts';
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

/** How often each replica looks for runs lost with their process. */
export const DEFAULT_RECOVERY_INTERVAL_MS = 30_000;

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
  /** How long a run may go without a heartbeat before another replica presumes it lost with its process. */
  leaseMs?: number;
  /** How often a running run extends its lease; a third of the lease by default. */
  heartbeatMs?: number;
  /** How often this replica looks for lost runs to take over. */
  recoveryIntervalMs?: number;
  /** How many times a slot is started (its fire and take-overs) before a slot that keeps losing its process is given up. */
  maxAttempts?: number;
  /** How old a lost run may be and still be redone; an older one is left to its job's next fire. */
  redoWithinMs?: number;
}

export type StopScheduler = () => Promise<void>;

/**
 * Starts one node-cron task per job. Every fire asks the PostgreSQL run coordinator first, so with several
 * replicas each fire runs on exactly one of them, and every run is recorded in job_runs. Every replica also
 * looks for scheduled runs whose process died mid-run (their heartbeat stopped and their lease ran out) and
 * redoes each on exactly one replica, for its own slot: a crashed 09:00 digest is still that day's digest.
 */
export function startScheduler(options: StartSchedulerOptions): StopScheduler {
  const instanceId = options.instanceId ?? `${hostname()}:${process.pid}`;
  const coordinator = new PostgresRunCoordinator(options.db, instanceId, isJobName);
  const logger = options.logger.child({ component: 'scheduler', instanceId });
  const schedules = { ...DEFAULT_SCHEDULES, ...options.schedules };
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const heartbeatMs = options.heartbeatMs ?? leaseMs / 3;
  if (!(heartbeatMs > 0 && heartbeatMs < leaseMs)) {
    throw new Error(`The scheduler's heartbeat (${heartbeatMs} ms) must be positive and shorter than its lease (${leaseMs} ms), or every long run looks lost.`);
  }
  const lostRuns = {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    redoWithinMs: options.redoWithinMs ?? DEFAULT_REDO_WITHIN_MS,
  };
  const tasks: ScheduledTask[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let stopping = false;

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
        const execution = executeRun(options.db, run, fn, { now: run.scheduledFor, logger, leaseMs, heartbeatMs });
        inFlight.add(execution);
        try {
          await execution;
        } finally {
          inFlight.delete(execution);
        }
      },
      {
        name: job,
        timezone: options.timezone,
        noOverlap: true,
        distributed: true,
        runCoordinator: coordinator,
        distributedLease: leaseMs,
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

  const runnable = jobNames.filter((job) => options.jobs[job]);
  const recoverLostRuns = async () => {
    const settled = await settleLostRuns(options.db, lostRuns);
    if (settled.abandoned > 0 || settled.failed > 0) logger.warn(settled, 'settled job runs lost with their process');
    // One at a time: each takes over a fresh lease, so runs this replica cannot start yet stay free for the others.
    while (!stopping) {
      const run = await takeOverLostRun(options.db, { ...lostRuns, instanceId, jobs: runnable, leaseMs });
      if (!run) return;
      const fn = isJobName(run.job) ? options.jobs[run.job] : undefined;
      if (!fn) throw new Error(`Took over a ${run.job} run, but this process has no ${run.job} job`);
      logger.warn(
        { job: run.job, runId: run.id, scheduledFor: run.scheduledFor, attempt: run.attempt },
        `taking over the ${run.job} run of ${run.scheduledFor.toISOString()}: the process that ran it stopped before it finished`,
      );
      await executeRun(options.db, run, fn, { now: run.scheduledFor, logger, leaseMs, heartbeatMs });
    }
  };
  let recovering: Promise<void> | undefined;
  const recoveryTimer = setInterval(() => {
    if (recovering || stopping) return;
    recovering = recoverLostRuns()
      // The next check retries; a database outage must not end the process from a timer.
      .catch((error: unknown) => logger.error({ err: error }, 'looking for lost job runs failed; trying again at the next check'))
      .finally(() => {
        recovering = undefined;
      });
  }, options.recoveryIntervalMs ?? DEFAULT_RECOVERY_INTERVAL_MS);
  recoveryTimer.unref();

  // Stopping (SIGTERM in a deploy) lets the runs in progress finish and record their outcome: cut short, a run
  // would stay `running` in job_runs until its lease ran out, and another replica would have to redo it.
  return async () => {
    stopping = true;
    clearInterval(recoveryTimer);
    await coordinator.close();
    // A claim that just succeeded reaches its task function within this turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    for (const task of tasks) await task.destroy();
    await Promise.allSettled([...inFlight, ...(recovering ? [recovering] : [])]);
  };
}
