import { hostname } from 'node:os';
import { type CronExpression, CronExpressionParser } from 'cron-parser';
import { createTask, parse, validate, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { DEFAULT_REDO_WITHIN_MS } from '../config.ts';
import type { Db } from '../db/client.ts';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  PostgresRunCoordinator,
  claimScheduledRun,
  settleLostRuns,
  takeOverLostRun,
  wasSlotMissed,
} from './coordinator.ts';
import { type JobFn, type JobName, type JobRegistry, isJobName, jobNames } from './registry.ts';
import { executeRun } from './run.ts';

/** Cron expressions (node-cron: optional seconds field first), read in the scheduler's timezone. */
export const DEFAULT_SCHEDULES: Record<JobName, string> = {
  health: '0 * * * *',
  renewals: '10 6 * * *',
  rules: '20 6 * * *',
  digest: '0 9 * * 1-5',
  outbox: '*/5 * * * * *',
  // People imported without a Slack id are linked within a minute or so.
  slack_links: '30 * * * * *',
};

/** How often each replica looks for runs lost with their process, and for slots no replica ran. */
export const DEFAULT_RECOVERY_INTERVAL_MS = 30_000;
/**
 * How old a slot must be before it counts as missed: until then its own fire may still be claiming it. Were they
 * to race anyway, the slot's unique index in job_runs lets only one of them run it.
 */
export const DEFAULT_CATCH_UP_GRACE_MS = 60_000;
/** The outbox and the Slack links run every few seconds or every minute: their next fire does the work of a missed one, so they are never caught up. */
const CONTINUOUS_JOBS: ReadonlySet<JobName> = new Set(['outbox', 'slack_links']);

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
  /** How old a lost run or a missed slot may be and still be redone; an older one is left to its job's next fire. */
  redoWithinMs?: number;
  /** How long a slot's own fire has to claim it before a slot with no run counts as missed and is caught up. */
  catchUpGraceMs?: number;
  /**
   * The clock against which missed slots are found, read once per look. Tests set it to place slots at fixed
   * moments; the real time otherwise. The fires and the runs' leases always keep the real clock.
   */
  now?: () => Date;
}

export type StopScheduler = () => Promise<void>;

/**
 * Starts one node-cron task per job. Every fire asks the PostgreSQL run coordinator first, so with several
 * replicas each fire runs on exactly one of them, and every run is recorded in job_runs. Every replica also
 * looks for scheduled runs whose process died mid-run (their heartbeat stopped and their lease ran out) and
 * redoes each on exactly one replica, for its own slot: a crashed 09:00 digest is still that day's digest. A
 * slot that left no run at all, because no replica was running or the database could not be reached when it fell,
 * is caught up the same way, at start and at every look: only a job's latest slot, once, if it is recent enough.
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
  const catchUpGraceMs = options.catchUpGraceMs ?? DEFAULT_CATCH_UP_GRACE_MS;
  if (!(catchUpGraceMs >= 0 && catchUpGraceMs < lostRuns.redoWithinMs)) {
    throw new Error(
      `The scheduler's catch-up grace (${catchUpGraceMs} ms) must be zero or more and shorter than how long a slot may be redone (${lostRuns.redoWithinMs} ms), or no missed slot is ever caught up.`,
    );
  }
  const clock = options.now ?? (() => new Date());
  const tasks: ScheduledTask[] = [];
  const caughtUp: CaughtUpJob[] = [];
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
    if (!CONTINUOUS_JOBS.has(job)) {
      caughtUp.push({ job, fn, expression, matches: (date) => task.match(date), busy: () => task.isBusy() });
    }
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

  const catchUp = async ({ job, fn, expression, matches, busy }: CaughtUpJob, now: Date) => {
    // node-cron skips a fire while the previous one still runs here (noOverlap); a look after it ends catches it up.
    if (busy()) return;
    const slot = latestSlot({ expression, timezone: options.timezone, matches }, { at: now, notBefore: new Date(now.getTime() - lostRuns.redoWithinMs) });
    if (!slot || slot.getTime() > now.getTime() - catchUpGraceMs) return;
    if (!(await wasSlotMissed(options.db, { job, slot })) || stopping) return;
    const run = await claimScheduledRun(options.db, { job, scheduledFor: slot, instanceId, leaseMs });
    // Another replica caught it up first, or the slot's own fire came in late and claimed it.
    if (!run) return;
    logger.warn(
      { job, runId: run.id, scheduledFor: slot },
      `catching up the ${job} run of ${slot.toISOString()}: no replica ran it at its time (none was running, or the database could not be reached)`,
    );
    // Not awaited, so a long run does not hold up the other jobs' catch-up nor the lost runs; stop() waits for it.
    const execution = executeRun(options.db, run, fn, { now: slot, logger, leaseMs, heartbeatMs }).catch((error: unknown) =>
      logger.error(
        { err: error, job, runId: run.id },
        `could not record how the caught-up ${job} run ended; its lease runs out and a replica takes it over`,
      ),
    );
    inFlight.add(execution);
    void execution.finally(() => inFlight.delete(execution));
  };
  const catchUpMissedSlots = async () => {
    const now = clock();
    for (const job of caughtUp) {
      if (stopping) return;
      // Each job on its own: a schedule that cannot be read back must not keep the others from being caught up.
      await catchUp(job, now).catch((error: unknown) =>
        logger.error({ err: error, job: job.job }, `looking for a missed ${job.job} slot failed; trying again at the next check`),
      );
    }
  };

  let recovering: Promise<void> | undefined;
  const look = (work: () => Promise<void>) => {
    if (recovering || stopping) return;
    recovering = work()
      // The next check retries; a database outage must not end the process from a timer.
      .catch((error: unknown) => logger.error({ err: error }, 'looking for lost job runs failed; trying again at the next check'))
      .finally(() => {
        recovering = undefined;
      });
  };
  // Right away, so a slot missed while no replica ran is caught up as soon as one starts.
  look(catchUpMissedSlots);
  const recoveryTimer = setInterval(
    () =>
      look(async () => {
        await catchUpMissedSlots();
        await recoverLostRuns();
      }),
    options.recoveryIntervalMs ?? DEFAULT_RECOVERY_INTERVAL_MS,
  );
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
    // A look in progress may still start a caught-up run; once it is over, inFlight holds every run there is.
    await recovering;
    await Promise.allSettled([...inFlight]);
  };
}

interface CaughtUpJob {
  job: JobName;
  fn: JobFn;
  expression: string;
  /** node-cron's own reading of the expression: whether the job fires at this moment. */
  matches: (date: Date) => boolean;
  /** Whether a fire of the job is running in this process. */
  busy: () => boolean;
}

export interface Schedule {
  /** A node-cron expression. */
  expression: string;
  timezone: string;
  /** Whether node-cron fires at this moment: the task's `match`. */
  matches: (date: Date) => boolean;
}

/**
 * Past this many candidate moments, a look gives up: only a schedule whose slots are seconds apart gets there, and
 * its next fire is moments away.
 */
const MAX_SLOT_CANDIDATES = 10_000;

/**
 * The latest moment at or before `at`, and not before `notBefore`, at which node-cron fires the schedule; none
 * when there is no such moment, or when the latest one is a wall-clock time that occurs twice (see below).
 *
 * cron-parser walks back in time, but does not read node-cron's expressions as node-cron does: it knows neither
 * @midnight, full day and month names, ranges that wrap (22-2) nor W and L-3, and it fires when either the day of
 * month or the day of week matches, where node-cron wants both. So cron-parser is given only the seconds,
 * minutes, hours and months, as node-cron expanded them, on every day; node-cron's own matcher then keeps the
 * moments it would fire at.
 */
export function latestSlot(schedule: Schedule, window: { at: Date; notBefore: Date }): Date | undefined {
  const fields = parse(schedule.expression);
  const everyDay = `${fields.second.join(',')} ${fields.minute.join(',')} ${fields.hour.join(',')} * ${fields.month.join(',')} *`;
  const candidates = CronExpressionParser.parse(everyDay, {
    // cron-parser looks strictly before its current date; a slot at `at` itself counts.
    currentDate: new Date(window.at.getTime() + 1),
    tz: schedule.timezone,
  });
  for (let examined = 0; examined < MAX_SLOT_CANDIDATES; examined += 1) {
    const candidate = previous(candidates, schedule);
    if (candidate < window.notBefore) return undefined;
    if (!schedule.matches(candidate)) continue;
    // When clocks go back, node-cron fires a repeated wall-clock time once, at one of its two moments, and which
    // one depends on the zone; both match. Rather than risk running that slot twice, it is not caught up.
    return occursTwice(candidate, schedule.timezone) ? undefined : candidate;
  }
  return undefined;
}

function previous(candidates: CronExpression, schedule: Schedule): Date {
  try {
    return candidates.prev().toDate();
  } catch (error) {
    // cron-parser gives up on some clock changes (Lord Howe's half hour): for the hours around one, this
    // schedule's missed slots cannot be found. Its fires go on as usual.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cron-parser could not walk back through the slots of "${schedule.expression}" in ${schedule.timezone} (${reason}); a missed slot of this schedule is not caught up until it can, and its fires are not affected`,
      { cause: error },
    );
  }
}

/** Whether the wall-clock time of `moment` in the zone also falls half an hour to two hours earlier or later. */
function occursTwice(moment: Date, timezone: string): boolean {
  const wallClock = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const shown = wallClock.format(moment);
  // Clock changes are of half an hour (Lord Howe), an hour (most zones) or two (Troll).
  return [-4, -3, -2, -1, 1, 2, 3, 4].some((halfHours) => wallClock.format(new Date(moment.getTime() + halfHours * 1_800_000)) === shown);
}
