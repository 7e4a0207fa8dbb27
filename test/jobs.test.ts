import { and, eq, sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase, queryRows } from '../db/client.ts';
import { jobRuns } from '../db/schema.ts';
import { claimScheduledRun } from '../jobs/coordinator.ts';
import { type JobRegistry, createCoreJobs } from '../jobs/registry.ts';
import { runJobByHand } from '../jobs/run.ts';
import { startScheduler } from '../jobs/scheduler.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { databaseUrlWithName } from './support/template.ts';
import { addTicket } from './health-fixtures.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const logger = pino({ level: 'silent' });

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.destroy();
});

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
    expect(unknown.body.errors?.[0]?.message).toBe('There is no job "backup". Run one of: health, renewals, rules, digest, outbox.');
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
