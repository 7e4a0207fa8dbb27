import { and, eq, sql } from 'drizzle-orm';
import { createTask } from 'node-cron';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type Db, openDatabase, queryRows } from '../db/client.ts';
import { type JobRun, jobRuns } from '../db/schema.ts';
import { claimScheduledRun, finishRun, startManualRun } from '../jobs/coordinator.ts';
import type { JobName } from '../jobs/registry.ts';
import { DEFAULT_SCHEDULES, latestSlot, startScheduler } from '../jobs/scheduler.ts';
import { useTestDatabase } from './support/database.ts';
import { databaseUrlWithName } from './support/template.ts';
import { waitUntil } from './support/wait.ts';

const PARIS = 'Europe/Paris';
// Slots in March 2027, before Paris moves its clocks: 09:00 there is 08:00 UTC.
const MONDAY_0900 = new Date('2027-03-08T08:00:00.000Z');
const TUESDAY_0900 = new Date('2027-03-09T08:00:00.000Z');
const TUESDAY_0905 = new Date('2027-03-09T08:05:00.000Z');
const HOUR = 3_600_000;

/** A fixed moment for the catch-up to read, counting its reads: the scheduler reads it once per look. */
function fixedClock(at: Date) {
  const clock = {
    reads: 0,
    now: () => {
      clock.reads += 1;
      return at;
    },
  };
  return clock;
}

/** Looks never overlap, so once the clock is read for look n + 1, the first n looks are over. */
async function afterLooks(clock: { reads: number }, looks: number): Promise<void> {
  await waitUntil(`${looks} catch-up looks`, async () => (clock.reads > looks ? true : undefined));
}

/** Runs a scheduler with only the digest job for `looks` catch-up looks, and says how many digests it ran. */
async function digestsAfterLooks(db: Db, clock: ReturnType<typeof fixedClock>, looks: number, options: { catchUpGraceMs?: number } = {}): Promise<number> {
  let digests = 0;
  const stop = startScheduler({
    db,
    logger,
    timezone: PARIS,
    schedules: { digest: DEFAULT_SCHEDULES.digest },
    recoveryIntervalMs: 10,
    now: clock.now,
    ...options,
    jobs: {
      digest: async () => {
        digests += 1;
        return {};
      },
    },
  });
  await afterLooks(clock, looks).finally(stop);
  return digests;
}

/**
 * A scheduled fire of an earlier day, as a replica of this deployment ran it. Its claim is stamped by the database's
 * clock, as every claim is, so the scheduler's pruning of old succeeded runs (by that clock) keeps it whatever the
 * slots' dates.
 */
async function ranOnSchedule(db: Db, job: JobName, slot: Date): Promise<void> {
  const run = await claimScheduledRun(db, { job, scheduledFor: slot, instanceId: 'earlier-replica' });
  if (!run) throw new Error(`the ${job} slot ${slot.toISOString()} was already claimed`);
  await finishRun(db, run, { status: 'succeeded', counts: {} });
}

async function scheduledRuns(db: Db, job: JobName): Promise<JobRun[]> {
  return db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.job, job), eq(jobRuns.trigger, 'schedule')))
    .orderBy(jobRuns.scheduledFor);
}

async function succeededRun(db: Db, job: JobName, slot: Date): Promise<JobRun | undefined> {
  const [run] = await db.select().from(jobRuns).where(and(eq(jobRuns.job, job), eq(jobRuns.scheduledFor, slot)));
  return run?.status === 'succeeded' ? run : undefined;
}

/** The warnings the scheduler logs, as pino writes them. */
function warningLog() {
  const lines: { msg: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
  return { logger, lines };
}

const logger = pino({ level: 'silent' });

describe('slots missed while no replica ran', () => {
  // Its own database for each test: missed slots are found from what job_runs holds, so no other test's rows interfere.
  const database = useTestDatabase({ each: true });

  it('a digest missed while no scheduler ran is run once as the scheduler starts, for its own slot, and stopping waits for it', async () => {
    const { db } = database;
    await ranOnSchedule(db, 'digest', MONDAY_0900);
    const clock = fixedClock(TUESDAY_0905);
    const warnings = warningLog();
    const calls: string[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stop = startScheduler({
      db,
      logger: warnings.logger,
      timezone: PARIS,
      instanceId: 'restarted-replica',
      // The default recovery interval: its first look is half a minute away, so what runs here is the look made at start.
      schedules: { digest: DEFAULT_SCHEDULES.digest },
      now: clock.now,
      jobs: {
        digest: async ({ now }) => {
          calls.push(now.toISOString());
          await released;
          return { digests: 3 };
        },
      },
    });

    await waitUntil('the missed digest being caught up', async () => (calls.length > 0 ? true : undefined));
    const stopped = stop();
    setTimeout(release, 100);
    await stopped;

    expect(calls).toEqual([TUESDAY_0900.toISOString()]);
    const runs = await scheduledRuns(db, 'digest');
    expect(runs.map((run) => run.scheduledFor.toISOString())).toEqual([MONDAY_0900.toISOString(), TUESDAY_0900.toISOString()]);
    expect(runs[1]).toMatchObject({ trigger: 'schedule', status: 'succeeded', attempt: 1, instanceId: 'restarted-replica', counts: { digests: 3 } });
    expect(warnings.lines.map((line) => line.msg)).toContainEqual(expect.stringMatching(/^catching up the digest run of 2027-03-09T08:00:00.000Z: no replica ran it/));
  });

  it('two schedulers starting at once catch the missed slot up exactly once between them', async () => {
    await ranOnSchedule(database.db, 'digest', MONDAY_0900);
    // On PostgreSQL each replica has its own connections, so their claims really overlap; PGlite is one
    // in-process database, which both schedulers share.
    const url = process.env.TEST_DATABASE_URL;
    const [current] = await queryRows<{ name: string }>(database.db, sql`select current_database() as name`);
    const replicas = url
      ? await Promise.all([0, 1].map(() => openDatabase({ kind: 'postgres', url: databaseUrlWithName(url, current?.name ?? ''), max: 4 })))
      : [];
    const clocks = [fixedClock(TUESDAY_0905), fixedClock(TUESDAY_0905)];
    const calls: { instance: string; now: string }[] = [];
    const stops = clocks.map((clock, index) =>
      startScheduler({
        db: replicas[index]?.db ?? database.db,
        logger,
        timezone: PARIS,
        instanceId: `replica-${index}`,
        schedules: { digest: DEFAULT_SCHEDULES.digest },
        recoveryIntervalMs: 10,
        now: clock.now,
        jobs: {
          digest: async ({ now }) => {
            calls.push({ instance: `replica-${index}`, now: now.toISOString() });
            return { digests: 3 };
          },
        },
      }),
    );
    try {
      await waitUntil('the missed digest being caught up', () => succeededRun(database.db, 'digest', TUESDAY_0900));
      // Later looks, on either replica, find the slot run and leave it alone.
      for (const clock of clocks) await afterLooks(clock, clock.reads + 2);
    } finally {
      for (const stop of stops) await stop();
      for (const replica of replicas) await replica.close();
    }

    expect(calls.map((call) => call.now)).toEqual([TUESDAY_0900.toISOString()]);
    const [caughtUp] = (await scheduledRuns(database.db, 'digest')).filter((run) => run.scheduledFor.getTime() === TUESDAY_0900.getTime());
    expect(caughtUp).toMatchObject({ status: 'succeeded', attempt: 1, instanceId: calls[0]?.instance });
  });

  it('a fresh install, whose job never ran on schedule (only by hand), catches nothing up', async () => {
    const { db } = database;
    const byHand = await startManualRun(db, { job: 'digest', instanceId: 'operator', now: MONDAY_0900 });
    await finishRun(db, byHand, { status: 'succeeded', counts: {} });
    const clock = fixedClock(TUESDAY_0905);
    const digests = await digestsAfterLooks(db, clock, 3);

    expect(digests).toBe(0);
    expect(await scheduledRuns(db, 'digest')).toEqual([]);
  });

  it('only the latest missed slot of each job is run, and a slot older than the redo window is not', async () => {
    const { db } = database;
    // Tuesday 21:30 in Paris. Health last ran at 16:00 there: 17:00 to 21:00 were missed, and only 21:00 is run.
    const at = new Date('2027-03-09T20:30:00.000Z');
    await ranOnSchedule(db, 'health', new Date('2027-03-09T15:00:00.000Z'));
    // Renewals ran on Monday at 06:10; Tuesday's 06:10 was missed more than twelve hours ago.
    await ranOnSchedule(db, 'renewals', new Date('2027-03-08T05:10:00.000Z'));
    const clock = fixedClock(at);
    const calls: { job: string; now: string }[] = [];
    const record = (job: string) => async ({ now }: { now: Date }) => {
      calls.push({ job, now: now.toISOString() });
      return {};
    };
    const stop = startScheduler({
      db,
      logger,
      timezone: PARIS,
      schedules: { health: DEFAULT_SCHEDULES.health, renewals: DEFAULT_SCHEDULES.renewals },
      recoveryIntervalMs: 10,
      now: clock.now,
      jobs: { health: record('health'), renewals: record('renewals') },
    });
    try {
      await waitUntil('the latest health slot being caught up', () => succeededRun(db, 'health', new Date('2027-03-09T20:00:00.000Z')));
      await afterLooks(clock, clock.reads + 2);
    } finally {
      await stop();
    }

    expect(calls).toEqual([{ job: 'health', now: '2027-03-09T20:00:00.000Z' }]);
    expect((await scheduledRuns(db, 'health')).map((run) => run.scheduledFor.toISOString())).toEqual(['2027-03-09T15:00:00.000Z', '2027-03-09T20:00:00.000Z']);
    expect(await scheduledRuns(db, 'renewals')).toHaveLength(1);
  });

  it('a slot younger than the grace is left to its own fire', async () => {
    const { db } = database;
    await ranOnSchedule(db, 'digest', MONDAY_0900);
    const clock = fixedClock(new Date(TUESDAY_0900.getTime() + 30_000));
    const digests = await digestsAfterLooks(db, clock, 3, { catchUpGraceMs: 60_000 });

    expect(digests).toBe(0);
    expect(await scheduledRuns(db, 'digest')).toHaveLength(1);
  });

  it('refuses a grace that would leave no slot to catch up', () => {
    expect(() =>
      startScheduler({ db: database.db, logger, timezone: PARIS, jobs: {}, catchUpGraceMs: 2 * HOUR, redoWithinMs: HOUR }),
    ).toThrow(/catch-up grace \(7200000 ms\) must be zero or more and shorter than how long a slot may be redone \(3600000 ms\)/);
  });
});

describe('the latest slot of a schedule', () => {
  /** Reads the schedule back with node-cron's own matcher, as the scheduler does. */
  function latest(expression: string, at: Date, options: { timezone?: string; withinMs?: number } = {}): string | undefined {
    const timezone = options.timezone ?? PARIS;
    const task = createTask(expression, () => {}, { timezone });
    try {
      const slot = latestSlot({ expression, timezone, matches: (date) => task.match(date) }, { at, notBefore: new Date(at.getTime() - (options.withinMs ?? 40 * 24 * HOUR)) });
      return slot?.toISOString();
    } finally {
      void task.destroy();
    }
  }

  it('reads the default schedules, with and without a seconds field', () => {
    expect(latest(DEFAULT_SCHEDULES.health, TUESDAY_0905)).toBe('2027-03-09T08:00:00.000Z');
    expect(latest(DEFAULT_SCHEDULES.renewals, TUESDAY_0905)).toBe('2027-03-09T05:10:00.000Z');
    expect(latest(DEFAULT_SCHEDULES.rules, TUESDAY_0905)).toBe('2027-03-09T05:20:00.000Z');
    expect(latest(DEFAULT_SCHEDULES.digest, TUESDAY_0905)).toBe('2027-03-09T08:00:00.000Z');
    // A slot at the very moment counts.
    expect(latest(DEFAULT_SCHEDULES.outbox, TUESDAY_0905)).toBe('2027-03-09T08:05:00.000Z');
    expect(latest('30 0 9 * * *', TUESDAY_0905)).toBe('2027-03-09T08:00:30.000Z');
    expect(latest(DEFAULT_SCHEDULES.digest, new Date('2027-03-09T08:05:00.000Z'), { timezone: 'America/New_York' })).toBe('2027-03-08T14:00:00.000Z');
  });

  it('reads what node-cron accepts as node-cron does, where cron-parser alone would not', () => {
    expect(latest('@midnight', TUESDAY_0905)).toBe('2027-03-08T23:00:00.000Z');
    expect(latest('0 9 * * monday', TUESDAY_0905)).toBe('2027-03-08T08:00:00.000Z');
    expect(latest('0 9 * march *', TUESDAY_0905)).toBe('2027-03-09T08:00:00.000Z');
    expect(latest('0 22-2 * * *', TUESDAY_0905)).toBe('2027-03-09T01:00:00.000Z');
    // node-cron wants both days to match: the first Monday of the month, not every Monday and every 1st to 7th.
    expect(latest('0 9 1-7 * mon', TUESDAY_0905)).toBe('2027-03-01T08:00:00.000Z');
    expect(latest('0 9 L * *', TUESDAY_0905)).toBe('2027-02-28T08:00:00.000Z');
    expect(latest('0 9 LW * *', TUESDAY_0905)).toBe('2027-02-26T08:00:00.000Z');
    expect(latest('0 9 L-3 * *', TUESDAY_0905)).toBe('2027-02-25T08:00:00.000Z');
  });

  it('finds none older than the window, none on a day whose time does not exist, and none for a time that occurs twice', () => {
    // Monday 09:05: the last weekday 09:00 before this morning was Friday's.
    expect(latest(DEFAULT_SCHEDULES.digest, new Date('2027-03-08T07:05:00.000Z'), { withinMs: 12 * HOUR })).toBeUndefined();
    // 02:30 did not exist in Paris on 28 March 2027: the latest 02:30 is the day before.
    expect(latest('30 2 * * *', new Date('2027-03-28T06:00:00.000Z'))).toBe('2027-03-27T01:30:00.000Z');
    // 02:30 came twice on 25 October 2026, and node-cron fires only one of them.
    expect(latest('30 2 * * *', new Date('2026-10-25T01:00:00.000Z'))).toBeUndefined();
    expect(latest('30 2 * * *', new Date('2026-10-25T02:00:00.000Z'))).toBeUndefined();
    expect(latest('30 2 * * *', new Date('2026-10-26T02:00:00.000Z'))).toBe('2026-10-26T01:30:00.000Z');
  });
});
