import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const jobRunStatuses = ['running', 'succeeded', 'failed', 'abandoned'] as const;
export type JobRunStatus = (typeof jobRunStatuses)[number];
export const jobRunStatus = pgEnum('job_run_status', jobRunStatuses);

export const jobRunTriggers = ['schedule', 'manual'] as const;
export type JobRunTrigger = (typeof jobRunTriggers)[number];
export const jobRunTrigger = pgEnum('job_run_trigger', jobRunTriggers);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * One row per run of a job. A scheduled fire is claimed by inserting its (job, scheduled_for) row: the unique
 * index lets exactly one replica win. While a run goes on, its process extends `lease_until` (a heartbeat); a run
 * whose lease expired while `running` was lost with its process. One replica takes it over on the same row
 * (`attempt` + 1) and redoes it for its slot, unless a later fire of the job already started (then it is
 * `abandoned`: that fire redid its work, jobs being idempotent over `now`) or it was started too many times
 * (then it is `failed`).
 */
export const jobRuns = pgTable(
  'job_runs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    job: text('job').notNull(),
    trigger: jobRunTrigger('trigger').notNull(),
    /** The cron slot for scheduled runs; the request time for manual runs. */
    scheduledFor: timestamptz('scheduled_for').notNull(),
    instanceId: text('instance_id').notNull(),
    status: jobRunStatus('status').notNull().default('running'),
    attempt: integer('attempt').notNull().default(1),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    finishedAt: timestamptz('finished_at'),
    /** Past this moment a `running` row is presumed dead (its process crashed, its heartbeat stopped) and may be taken over. */
    leaseUntil: timestamptz('lease_until').notNull(),
    counts: jsonb('counts').$type<Record<string, number>>(),
    error: text('error'),
  },
  (t) => [
    uniqueIndex('job_runs_scheduled_fire_key').on(t.job, t.scheduledFor).where(sql`${t.trigger} = 'schedule'`),
    index('job_runs_job_started_idx').on(t.job, t.startedAt),
    // Every replica looks for lost runs every few seconds; the running ones are a handful among a week of runs.
    index('job_runs_running_lease_idx').on(t.leaseUntil).where(sql`${t.status} = 'running'`),
  ],
);

export type JobRun = typeof jobRuns.$inferSelect;
