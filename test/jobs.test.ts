import { and, eq, sql } from 'drizzle-orm';
import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type Database, openDatabase, queryRows } from '../db/client.ts';
import { healthScores, jobRuns } from '../db/schema.ts';
import { claimScheduledRun, findRun, finishRun, settleLostRuns, takeOverLostRun } from '../jobs/coordinator.ts';
import { type JobRegistry, createCoreJobs } from '../jobs/registry.ts';
import { executeRun, runJobByHand } from '../jobs/run.ts';
import { startScheduler } from '../jobs/scheduler.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createAccounts, createToken } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { databaseUrlWithName } from './support/template.ts';
import { waitUntil } from './support/wait.ts';
import { addTicket, addUsageRows, daysBefore } from './support/signals.ts';
import { isoDay } from '../domain/dates.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const logger = pino({ level: 'silent' });

const database = useTestDatabase();

const RUN_JOB = `mutation ($name: String!) { runJob(name: $name) { job status trigger counts { name value } error } }`;

describe('running jobs by hand', () => {
  it('an admin runs the health job through the API and sees its outcome and counts', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'high', openedDaysAgo: 1 });
    const client = createGraphqlClient(db);
    const token = await createToken(db, 'admin');

    const response = await client.request(RUN_JOB, { name: 'health' }, token);

    expect(response.body.errors).toBeUndefined();
    const run = response.body.data?.runJob as { job: string; status: string; trigger: string; counts: { name: string; value: number }[] };
    expect(run).toMatchObject({ job: 'health', status: 'succeeded', trigger: 'manual' });
    expect(run.counts.find((count) => count.name === 'accounts')?.value).toBeGreaterThanOrEqual(1);
    const rows = await db.select().from(jobRuns).where(and(eq(jobRuns.job, 'health'), eq(jobRuns.trigger, 'manual')));
    expect(rows.map((row) => row.status)).toContain('succeeded');
  });

  it('only admins may run a job', async () => {
    const { db } = database;
    const client = createGraphqlClient(db);
    const response = await client.request(RUN_JOB, { name: 'rules' }, await createToken(db, 'manager'));
    expect(response.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(response.body.errors?.[0]?.message).toMatch(/Only admins can run jobs by hand/);
  });

  it('says clearly when a job has no function in this process, and when there is no such job', async () => {
    const { db } = database;
    const client = createGraphqlClient(db);
    const token = await createToken(db, 'admin');
    const digest = await client.request(RUN_JOB, { name: 'digest' }, token);
    expect(digest.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(digest.body.errors?.[0]?.message).toMatch(/The digest job has no function registered in this process.*available here: health, renewals, rules/);
    const unknown = await client.request(RUN_JOB, { name: 'backup' }, token);
    expect(unknown.body.errors?.[0]?.message).toBe('There is no job "backup". Run one of: health, renewals, rules, digest, outbox, slack_links.');
  });

  it('records a failing job as failed with its error instead of losing it', async () => {
    const { db } = database;
    const jobs: JobRegistry = {
      digest: async () => {
        throw new Error('Slack is down');
      },
    };
    const run = await runJobByHand(db, { name: 'digest', jobs, logger, now: NOW });
    expect(run).toMatchObject({ job: 'digest', status: 'failed', error: 'Slack is down' });
    expect(run.finishedAt).not.toBeNull();
  });
});

describe('run coordination', () => {
  it('gives each scheduled fire to exactly one of several instances claiming it at once', async () => {
    const { db } = database;
    const slot = new Date('2026-11-25T13:00:00.000Z');
    const claims = await Promise.all(
      ['replica-a', 'replica-b', 'replica-c', 'replica-d'].map((instanceId) => claimScheduledRun(db, { job: 'rules', scheduledFor: slot, instanceId, now: slot })),
    );
    expect(claims.filter((claim) => claim !== null)).toHaveLength(1);
    const rows = await db.select().from(jobRuns).where(and(eq(jobRuns.job, 'rules'), eq(jobRuns.scheduledFor, slot)));
    expect(rows).toHaveLength(1);
  });

  it('marks a run whose process died as abandoned, and lets its slot be retried once the lease ran out', async () => {
    const { db } = database;
    const slot = new Date('2026-11-25T14:00:00.000Z');
    const crashed = await claimScheduledRun(db, { job: 'renewals', scheduledFor: slot, instanceId: 'replica-a', leaseMs: 60_000, now: slot });
    expect(crashed).not.toBeNull();
    // Another replica, before the lease ran out: still someone else's.
    expect(await claimScheduledRun(db, { job: 'renewals', scheduledFor: slot, instanceId: 'replica-b', now: new Date(slot.getTime() + 30_000) })).toBeNull();

    const later = new Date(slot.getTime() + 120_000);
    const retried = await claimScheduledRun(db, { job: 'renewals', scheduledFor: slot, instanceId: 'replica-b', now: later });
    expect(retried).toMatchObject({ instanceId: 'replica-b', status: 'running', attempt: 2 });

    const next = new Date(slot.getTime() + 3_600_000);
    await claimScheduledRun(db, { job: 'renewals', scheduledFor: next, instanceId: 'replica-a', now: next });
    const [previous] = await db.select().from(jobRuns).where(and(eq(jobRuns.job, 'renewals'), eq(jobRuns.scheduledFor, slot)));
    expect(previous?.status).toBe('abandoned');
    expect(previous?.error).toMatch(/lease expired while running/);
  });

  it('the core jobs are idempotent: running rules and renewals twice fires nothing new', async () => {
    const { db } = database;
    await createAccount(db, { stageKey: 'implementation', enteredAt: new Date(NOW.getTime() - 60 * 86_400_000), contractEnd: '2027-01-10' });
    const jobs = createCoreJobs();
    const first = await runJobByHand(db, { name: 'rules', jobs, logger, now: NOW });
    const again = await runJobByHand(db, { name: 'rules', jobs, logger, now: NOW });
    expect(first.counts?.stage_sla).toBeGreaterThanOrEqual(1);
    expect(again.counts?.stage_sla).toBe(0);
    const renewals = await runJobByHand(db, { name: 'renewals', jobs, logger, now: NOW });
    const renewalsAgain = await runJobByHand(db, { name: 'renewals', jobs, logger, now: NOW });
    expect(renewals.counts?.checkpoints).toBeGreaterThanOrEqual(1);
    expect(renewalsAgain.counts).toMatchObject({ created: 0, checkpoints: 0, escalations: 0 });
  });

  it('stopping the scheduler, as a deploy does, lets the run in progress finish and record its outcome', async () => {
    const { db } = database;
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let finished = 0;
    const stop = startScheduler({
      db,
      logger,
      timezone: 'UTC',
      instanceId: 'stopping-replica',
      schedules: { renewals: '* * * * * *' },
      jobs: {
        renewals: async () => {
          started();
          await new Promise((resolve) => setTimeout(resolve, 500));
          finished += 1;
          return { checkpoints: 0 };
        },
      },
    });
    await running;
    await stop();

    const runs = await db.select().from(jobRuns).where(eq(jobRuns.instanceId, 'stopping-replica'));
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'succeeded'));
    expect(finished).toBe(runs.length);
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'two scheduler processes against one PostgreSQL run each fire once',
    async () => {
      const url = process.env.TEST_DATABASE_URL ?? '';
      const [current] = await queryRows<{ name: string }>(database.db, sql`select current_database() as name`);
      const openReplica = () => openDatabase({ kind: 'postgres', url: databaseUrlWithName(url, current?.name ?? ''), max: 4 });
      const replicas: Database[] = [await openReplica(), await openReplica()];
      const fires: { instance: string; slot: string }[] = [];
      const stops = replicas.map((replica, index) =>
        startScheduler({
          db: replica.db,
          logger,
          timezone: 'Europe/Paris',
          instanceId: `replica-${index}`,
          schedules: { outbox: '* * * * * *' },
          jobs: {
            outbox: async ({ now }) => {
              fires.push({ instance: `replica-${index}`, slot: now.toISOString() });
              return { delivered: 0 };
            },
          },
        }),
      );
      try {
        // Wait for three fires to finish; what is asserted is how often each ran, never how long it took.
        for (let waited = 0; waited < 100; waited++) {
          const [done] = await queryRows<{ count: number | string }>(
            database.db,
            sql`select count(*) as count from job_runs where job = 'outbox' and trigger = 'schedule' and status = 'succeeded'`,
          );
          if (Number(done?.count ?? 0) >= 3) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        for (const stop of stops) await stop();
      }
      const runs = await database.db.select().from(jobRuns).where(and(eq(jobRuns.job, 'outbox'), eq(jobRuns.trigger, 'schedule')));
      const slots = fires.map((fire) => fire.slot);
      expect(runs.filter((run) => run.status === 'succeeded').length).toBeGreaterThanOrEqual(3);
      // No fire ran twice, and each ran on the replica that claimed it.
      expect(new Set(slots).size).toBe(slots.length);
      for (const fire of fires) {
        const claimed = runs.filter((run) => run.scheduledFor.toISOString() === fire.slot);
        expect(claimed.map((run) => run.instanceId)).toEqual([fire.instance]);
      }
      for (const replica of replicas) await replica.close();
    },
    30_000,
  );
});

describe('health runs that overlap', () => {
  it('two health runs at once, as when a slow fire overlaps the next one on another replica, record each change once', async () => {
    const { db } = database;
    const ids = await createAccounts(
      db,
      Array.from({ length: 3000 }, (_, g) => ({ name: `Overlap ${g + 1}`, stageKey: 'mature_adoption', contractEnd: '2028-01-01', arrCents: 100_000 })),
    );
    // Every other day of the last six weeks, a different number of active users per account.
    await addUsageRows(
      db,
      ids.flatMap((accountId, index) =>
        Array.from({ length: 21 }, (_, step) => ({ accountId, day: isoDay(daysBefore(NOW, 41 - 2 * step)), activeUsers: 5 + (index % 40), seats: 50, keyEvents: 100 })),
      ),
    );
    const jobs = createCoreJobs();
    const later = new Date(NOW.getTime() + 1000);
    const historyBefore = await db.$count(healthScores);

    const runs = await Promise.all([
      runJobByHand(db, { name: 'health', jobs, logger, now: NOW }),
      runJobByHand(db, { name: 'health', jobs, logger, now: later }),
    ]);

    expect(runs.map((run) => run.status)).toEqual(['succeeded', 'succeeded']);
    const [history] = await queryRows<{ points: number | string; accounts: number | string }>(
      db,
      sql`select count(*) as points, count(distinct h.account_id) as accounts
          from health_scores h join accounts a on a.id = h.account_id where a.name like 'Overlap %'`,
    );
    expect(Number(history?.accounts)).toBe(3000);
    // The first score of each account is one change: one history point, whichever run wrote it.
    expect(Number(history?.points)).toBe(3000);
    // And each run's count is what it wrote: together, every new point once.
    expect(runs.reduce((sum, run) => sum + (run.counts?.historyRows ?? 0), 0)).toBe((await db.$count(healthScores)) - historyBefore);
  });
});

describe('runs lost with their process', () => {
  // Its own database: these runs are found by age and by which fire came later, so no other test's rows interfere.
  const lost = useTestDatabase();

  const NEVER = '0 0 1 1 *';
  const LEASE_MS = 60_000;

  /** A run claimed by a replica that was then killed: it never heartbeats nor finishes, and its lease has run out. */
  async function crashedRun(job: 'digest' | 'renewals' | 'health', scheduledFor: Date, now: Date = scheduledFor) {
    const run = await claimScheduledRun(lost.db, { job, scheduledFor, instanceId: 'killed-replica', leaseMs: LEASE_MS, now });
    if (!run) throw new Error(`the ${job} slot ${scheduledFor.toISOString()} was already claimed`);
    return run;
  }

  /** A minute slot some minutes ago, on the real clock the scheduler's recovery reads. */
  function minutesAgo(minutes: number): Date {
    return new Date(Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000);
  }

  it('a digest whose replica was killed mid-run is redone once, for its own slot, by one of two replicas looking at once', async () => {
    const { db } = lost;
    const slot = minutesAgo(10);
    const crashed = await crashedRun('digest', slot);
    const calls: { instance: string; now: string }[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stops = ['survivor-a', 'survivor-b'].map((instanceId) =>
      startScheduler({
        db,
        logger,
        timezone: 'UTC',
        instanceId,
        schedules: { digest: NEVER },
        recoveryIntervalMs: 10,
        jobs: {
          digest: async ({ now }) => {
            calls.push({ instance: instanceId, now: now.toISOString() });
            await released;
            return { digests: 4 };
          },
        },
      }),
    );

    await waitUntil('a replica taking the digest over', async () => (calls.length > 0 ? true : undefined));
    // Stopping while the redone digest is still running waits for it to finish and be recorded.
    const stopped = Promise.all(stops.map((stop) => stop()));
    setTimeout(release, 100);
    await stopped;

    const row = await findRun(db, crashed.id);
    expect(calls).toEqual([{ instance: row?.instanceId, now: slot.toISOString() }]);
    expect(row).toMatchObject({ job: 'digest', trigger: 'schedule', status: 'succeeded', attempt: 2, counts: { digests: 4 }, error: null });
    expect(row?.scheduledFor.toISOString()).toBe(slot.toISOString());
    expect(await lost.db.$count(jobRuns, eq(jobRuns.job, 'digest'))).toBe(1);
  });

  it('of eight replicas taking over the same lost run at once, exactly one gets it', async () => {
    const { db } = lost;
    const crashed = await crashedRun('renewals', minutesAgo(10));
    // A replica without the job's function leaves it to one that has it.
    expect(await takeOverLostRun(db, { instanceId: 'digest-only', jobs: ['digest'] })).toBeNull();

    const replicas = ['replica-a', 'replica-b', 'replica-c', 'replica-d', 'replica-e', 'replica-f', 'replica-g', 'replica-h'];
    // With PostgreSQL, each replica on a connection already open, so their statements really overlap.
    await Promise.all(replicas.map(() => db.execute(sql`select pg_sleep(0.05)`)));
    const takeOvers = await Promise.all(replicas.map((instanceId) => takeOverLostRun(db, { instanceId, jobs: ['renewals'] })));

    const taken = takeOvers.filter((run) => run !== null);
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({ id: crashed.id, status: 'running', attempt: 2 });
    expect(taken[0]?.leaseUntil.getTime()).toBeGreaterThan(Date.now());
    // Its fresh lease keeps it taken while the new attempt runs.
    expect(await takeOverLostRun(db, { instanceId: 'replica-i', jobs: ['renewals'] })).toBeNull();
    const [taker] = taken;
    if (taker) await finishRun(db, taker, { status: 'succeeded', counts: {} });
  });

  it('a lost run whose next fire has already started is marked abandoned, not redone', async () => {
    const { db } = lost;
    const slot = minutesAgo(20);
    const crashed = await crashedRun('health', slot);
    // The next fire was claimed before the lost run's lease ran out, so its claim left the lost run alone.
    const next = await claimScheduledRun(db, {
      job: 'health',
      scheduledFor: new Date(slot.getTime() + 5 * 60_000),
      instanceId: 'healthy-replica',
      now: new Date(slot.getTime() + 30_000),
    });
    if (!next) throw new Error('the next health fire was not claimed');
    await finishRun(db, next, { status: 'succeeded', counts: {} });
    let redone = 0;
    const stop = startScheduler({
      db,
      logger,
      timezone: 'UTC',
      instanceId: 'survivor',
      schedules: { health: NEVER },
      recoveryIntervalMs: 10,
      jobs: {
        health: async () => {
          redone += 1;
          return {};
        },
      },
    });
    const settled = await waitUntil('the lost health run being settled', async () => {
      const row = await findRun(db, crashed.id);
      return row?.status === 'running' ? undefined : row;
    }).finally(stop);

    expect(settled).toMatchObject({ status: 'abandoned', attempt: 1, instanceId: 'killed-replica' });
    expect(settled?.error).toMatch(/a later fire redid its work/);
    expect(settled?.finishedAt).not.toBeNull();
    expect(redone).toBe(0);
  });

  it('a long run keeps its lease fresh with a heartbeat, so no replica takes it over, and the heartbeat ends with the run', async () => {
    const { db } = lost;
    const slot = minutesAgo(1);
    // Claimed on the database clock, with a lease far shorter than the run.
    const run = await claimScheduledRun(db, { job: 'rules', scheduledFor: slot, instanceId: 'busy-replica', leaseMs: 5_000 });
    if (!run) throw new Error('the rules slot was not claimed');
    const leases = new Set<number>([run.leaseUntil.getTime()]);
    const takeOvers: (number | null)[] = [];

    const finished = await executeRun(
      db,
      run,
      async () => {
        for (let look = 0; look < 400 && leases.size < 4; look += 1) {
          const current = await findRun(db, run.id);
          if (current) leases.add(current.leaseUntil.getTime());
          await settleLostRuns(db);
          takeOvers.push((await takeOverLostRun(db, { instanceId: 'rescuer', jobs: ['rules'] }))?.id ?? null);
          await sleep(25);
        }
        return { extended: leases.size - 1 };
      },
      { now: slot, logger, leaseMs: 5_000, heartbeatMs: 20 },
    );

    expect(finished).toMatchObject({ status: 'succeeded', attempt: 1, instanceId: 'busy-replica', counts: { extended: 3 } });
    expect(takeOvers.every((id) => id === null)).toBe(true);
    // Once the run ended, nothing pushes its lease any more.
    const leaseAtEnd = (await findRun(db, run.id))?.leaseUntil.getTime();
    await sleep(100);
    expect((await findRun(db, run.id))?.leaseUntil.getTime()).toBe(leaseAtEnd);
  });

  it('a replica that stalled past its lease and comes back does not overwrite the attempt that took its run over', async () => {
    const { db } = lost;
    const slot = new Date(Date.now() + 3 * 86_400_000);
    const stalled = await claimScheduledRun(db, { job: 'rules', scheduledFor: slot, instanceId: 'stalled-replica', leaseMs: LEASE_MS, now: slot });
    if (!stalled) throw new Error('the rules slot was not claimed');
    const takenOver = await takeOverLostRun(db, { instanceId: 'rescuer', jobs: ['rules'], leaseMs: LEASE_MS, now: new Date(slot.getTime() + LEASE_MS + 1_000) });
    expect(takenOver).toMatchObject({ id: stalled.id, attempt: 2 });

    const late = await executeRun(db, stalled, async () => ({ firings: 1 }), { now: slot, logger });

    expect(late).toMatchObject({ id: stalled.id, status: 'running', attempt: 2, instanceId: 'rescuer', counts: null });
    if (takenOver) await finishRun(db, takenOver, { status: 'succeeded', counts: { firings: 1 } });
    expect(await findRun(db, stalled.id)).toMatchObject({ status: 'succeeded', attempt: 2, instanceId: 'rescuer' });
  });

  it('a slot whose process dies on every attempt is given up after three, marked failed with the reason', async () => {
    const { db } = lost;
    // Moments on a passed clock, past every other run here.
    const slot = new Date(Date.now() + 86_400_000);
    await claimScheduledRun(db, { job: 'outbox', scheduledFor: slot, instanceId: 'replica-a', leaseMs: LEASE_MS, now: slot });

    let at = slot;
    const attempts: (number | null)[] = [];
    const settledFailed: number[] = [];
    for (const instanceId of ['replica-b', 'replica-c', 'replica-d']) {
      // Each attempt's process dies too: the lease runs out without a heartbeat.
      at = new Date(at.getTime() + LEASE_MS + 1_000);
      settledFailed.push((await settleLostRuns(db, { now: at })).failed);
      attempts.push((await takeOverLostRun(db, { instanceId, jobs: ['outbox'], leaseMs: LEASE_MS, now: at }))?.attempt ?? null);
    }

    expect(attempts).toEqual([2, 3, null]);
    expect(settledFailed).toEqual([0, 0, 1]);
    const [row] = await db.select().from(jobRuns).where(and(eq(jobRuns.job, 'outbox'), eq(jobRuns.scheduledFor, slot)));
    expect(row).toMatchObject({ status: 'failed', attempt: 3, instanceId: 'replica-c', finishedAt: at });
    expect(row?.error).toMatch(/the process running it stopped before it finished, 3 times: given up/);
  });

  it('a run lost more than twelve hours ago is left to its next fire instead of being redone out of its moment', async () => {
    const { db } = lost;
    const slot = new Date(Date.now() + 2 * 86_400_000);
    const crashed = await crashedRun('digest', slot);
    const later = new Date(slot.getTime() + 13 * 3_600_000);

    expect(await takeOverLostRun(db, { instanceId: 'replica-b', jobs: ['digest'], now: later })).toBeNull();
    expect(await settleLostRuns(db, { now: later })).toEqual({ abandoned: 1, failed: 0 });
    const row = await findRun(db, crashed.id);
    expect(row).toMatchObject({ status: 'abandoned', attempt: 1 });
    expect(row?.error).toMatch(/more than 12 h old; the next fire does its work/);
  });
});
