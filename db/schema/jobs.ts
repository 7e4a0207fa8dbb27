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
 * index lets exactly one replica win. A run whose lease expired while `running` was lost with its process;
 * the next claim marks it `abandoned`, and the next fire does its work (jobs are idempotent over `now`).
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
    /** Past this moment a `running` row is presumed dead (its process crashed) and may be taken over. */
    leaseUntil: timestamptz('lease_until').notNull(),
    counts: jsonb('counts').$type<Record<string, number>>(),
    error: text('error'),
  },
  (t) => [
    uniqueIndex('job_runs_scheduled_fire_key').on(t.job, t.scheduledFor).where(sql`${t.trigger} = 'schedule'`),
    index('job_runs_job_started_idx').on(t.job, t.startedAt),
  ],
);

export type JobRun = typeof jobRuns.$inferSelect;
