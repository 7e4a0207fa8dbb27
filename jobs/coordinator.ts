import { eq, sql } from 'drizzle-orm';
import type { RunCoordinator } from 'node-cron';
import { type Db, queryRows } from '../db/client.ts';
import { type JobRun, type JobRunTrigger, jobRuns } from '../db/schema.ts';
import type { JobName } from './registry.ts';

/** How long a claimed run may go without finishing before it is presumed lost with its process. */
export const DEFAULT_LEASE_MS = 30 * 60_000;
/** Succeeded runs are kept this long; failed and abandoned ones are kept for inspection. */
const KEEP_SUCCEEDED_DAYS = 7;

type JobRunRow = {
  id: number | string;
};

export interface ClaimScheduledRunParams {
  job: JobName;
  scheduledFor: Date;
  instanceId: string;
  leaseMs?: number;
  now?: Date;
}

/**
 * Claims one scheduled fire for this instance. The (job, scheduled_for) unique index decides: exactly one
 * replica inserts the row, the others get nothing back. Before claiming, runs of the same job whose lease ran
 * out while `running` are marked `abandoned`: their process died, and this fire does their work again (every
 * job computes from `now` and is idempotent). The same slot may be retaken only when its own claim was
 * abandoned. Returns the run, or null when another instance has it.
 */
export async function claimScheduledRun(db: Db, params: ClaimScheduledRunParams): Promise<JobRun | null> {
  const now = params.now ?? new Date();
  const nowTs = sql`${now.toISOString()}::timestamptz`;
  const leaseUntil = new Date(now.getTime() + (params.leaseMs ?? DEFAULT_LEASE_MS));
  return db.transaction(async (tx) => {
    await tx.execute(sql`
      update job_runs set status = 'abandoned', finished_at = ${nowTs},
             error = 'lease expired while running: the process that ran it stopped; a later fire redoes its work'
      where job = ${params.job} and status = 'running' and lease_until < ${nowTs}`);
    await tx.execute(sql`
      delete from job_runs
      where job = ${params.job} and status = 'succeeded' and started_at < ${nowTs} - make_interval(days => ${KEEP_SUCCEEDED_DAYS}::int)`);
    const rows = await queryRows<JobRunRow>(
      tx,
      sql`
      insert into job_runs (job, trigger, scheduled_for, instance_id, status, attempt, started_at, lease_until)
      values (${params.job}, 'schedule', ${params.scheduledFor.toISOString()}::timestamptz, ${params.instanceId}, 'running', 1, ${nowTs},
              ${leaseUntil.toISOString()}::timestamptz)
      on conflict (job, scheduled_for) where trigger = 'schedule' do update set
        instance_id = excluded.instance_id, status = 'running', attempt = job_runs.attempt + 1,
        started_at = excluded.started_at, lease_until = excluded.lease_until, finished_at = null, error = null, counts = null
      where job_runs.status = 'abandoned'
      returning id`,
    );
    const id = rows[0]?.id;
    if (id === undefined) return null;
    const [run] = await tx.select().from(jobRuns).where(eq(jobRuns.id, Number(id)));
    return run ?? null;
  });
}

export async function startManualRun(db: Db, params: { job: JobName; instanceId: string; now: Date; leaseMs?: number }): Promise<JobRun> {
  const trigger: JobRunTrigger = 'manual';
  const [run] = await db
    .insert(jobRuns)
    .values({
      job: params.job,
      trigger,
      scheduledFor: params.now,
      instanceId: params.instanceId,
      status: 'running',
      startedAt: params.now,
      leaseUntil: new Date(params.now.getTime() + (params.leaseMs ?? DEFAULT_LEASE_MS)),
    })
    .returning();
  if (!run) throw new Error(`Recording a manual run of ${params.job} returned no row`);
  return run;
}

export async function finishRun(
  db: Db,
  runId: number,
  outcome: { status: 'succeeded'; counts: Record<string, number> } | { status: 'failed'; error: string },
): Promise<JobRun> {
  const [run] = await db
    .update(jobRuns)
    .set(
      outcome.status === 'succeeded'
        ? { status: 'succeeded', counts: outcome.counts, finishedAt: new Date(), error: null }
        : { status: 'failed', error: outcome.error, finishedAt: new Date() },
    )
    .where(eq(jobRuns.id, runId))
    .returning();
  if (!run) throw new Error(`Job run ${runId} disappeared before it finished`);
  return run;
}

/**
 * node-cron's run coordinator, backed by job_runs. node-cron asks `shouldRun(key)` for every fire, with the key
 * `<task name>:<slot ISO time>`; the task names are job names. The run this instance claimed is kept until the
 * task function picks it up, so the function records its outcome on the same row.
 */
export class PostgresRunCoordinator implements RunCoordinator {
  private readonly claimed = new Map<string, JobRun>();

  constructor(
    private readonly db: Db,
    private readonly instanceId: string,
    private readonly isJob: (name: string) => name is JobName,
  ) {}

  async shouldRun(key: string, ttlMs: number): Promise<boolean> {
    const separator = key.indexOf(':');
    const job = key.slice(0, separator);
    const scheduledFor = new Date(key.slice(separator + 1));
    if (separator < 0 || !this.isJob(job) || Number.isNaN(scheduledFor.getTime())) {
      throw new Error(`Run coordinator got the key "${key}", expected "<job>:<ISO time>"; tasks must be named after their job`);
    }
    const run = await claimScheduledRun(this.db, { job, scheduledFor, instanceId: this.instanceId, leaseMs: ttlMs });
    if (run) this.claimed.set(job, run);
    return run !== null;
  }

  /** The run claimed for this job's current fire; each claim is handed out once. */
  takeClaimed(job: JobName): JobRun | undefined {
    const run = this.claimed.get(job);
    this.claimed.delete(job);
    return run;
  }
}
