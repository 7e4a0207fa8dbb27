import { type SQL, eq, sql } from 'drizzle-orm';
import type { RunCoordinator } from 'node-cron';
import type { Logger } from 'pino';
import { DEFAULT_REDO_WITHIN_MS } from '../config.ts';
import { type Db, queryRows } from '../db/client.ts';
import { type JobRun, type JobRunTrigger, jobRuns } from '../db/schema.ts';
import type { JobName } from './registry.ts';

/**
 * How long a run stays claimed without a heartbeat. Its process extends the lease every third of it while the
 * run goes on, so the lease only bounds how long a crashed run looks alive, not how long a run may take.
 */
export const DEFAULT_LEASE_MS = 2 * 60_000;
/** How many times one scheduled slot may be started (the first fire and its take-overs) before it is given up. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Succeeded runs are kept this long; failed and abandoned ones are kept for inspection. */
const KEEP_SUCCEEDED_DAYS = 7;

type JobRunRow = {
  id: number | string;
};

/**
 * Leases are written and compared on one clock: the database's, so replicas whose clocks drift agree on when a
 * lease ran out, or the moment a caller passes (tests).
 */
function clockAt(now: Date | undefined): SQL {
  return now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;
}

function leaseFrom(clock: SQL, leaseMs: number): SQL {
  return sql`(${clock} + ${leaseMs}::double precision * interval '1 millisecond')`;
}

export async function findRun(db: Db, id: number): Promise<JobRun | null> {
  const [run] = await db.select().from(jobRuns).where(eq(jobRuns.id, id));
  return run ?? null;
}

export interface ClaimScheduledRunParams {
  job: JobName;
  scheduledFor: Date;
  instanceId: string;
  leaseMs?: number;
  /** The clock; the database's when omitted. */
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
  const clock = clockAt(params.now);
  return db.transaction(async (tx) => {
    await tx.execute(sql`
      update job_runs set status = 'abandoned', finished_at = ${clock},
             error = 'lease expired while running: the process that ran it stopped; a later fire redoes its work'
      where job = ${params.job} and status = 'running' and lease_until < ${clock}`);
    await tx.execute(sql`
      delete from job_runs
      where job = ${params.job} and status = 'succeeded' and started_at < ${clock} - make_interval(days => ${KEEP_SUCCEEDED_DAYS}::int)`);
    const rows = await queryRows<JobRunRow>(
      tx,
      sql`
      insert into job_runs (job, trigger, scheduled_for, instance_id, status, attempt, started_at, lease_until)
      values (${params.job}, 'schedule', ${params.scheduledFor.toISOString()}::timestamptz, ${params.instanceId}, 'running', 1, ${clock},
              ${leaseFrom(clock, params.leaseMs ?? DEFAULT_LEASE_MS)})
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

/**
 * Whether a scheduled slot was missed: no fire of it is recorded, nor any later one (a later fire does its work),
 * and the job has run on schedule at this deployment before, so a brand-new install does not begin by catching
 * up a slot it never had. Several replicas may find the same slot missed: claimScheduledRun decides which one
 * runs it.
 */
export async function wasSlotMissed(db: Db, params: { job: JobName; slot: Date }): Promise<boolean> {
  const slot = sql`${params.slot.toISOString()}::timestamptz`;
  const scheduled = sql`job_runs.job = ${params.job} and job_runs.trigger = 'schedule'`;
  const [row] = await queryRows<{ ran_before: boolean; fired_since: boolean }>(
    db,
    sql`select exists (select 1 from job_runs where ${scheduled} and scheduled_for < ${slot}) as ran_before,
               exists (select 1 from job_runs where ${scheduled} and scheduled_for >= ${slot}) as fired_since`,
  );
  return row?.ran_before === true && row.fired_since === false;
}

/** Records a run by hand. `now` is the moment the job runs for; its lease is on the database's clock. */
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
      leaseUntil: leaseFrom(clockAt(undefined), params.leaseMs ?? DEFAULT_LEASE_MS),
    })
    .returning();
  if (!run) throw new Error(`Recording a manual run of ${params.job} returned no row`);
  return run;
}

/**
 * Records how a run ended, on the row of this very attempt. Returns null when another replica took the run over
 * meanwhile (this process stalled past its lease): the outcome of that attempt is the one to keep.
 */
export async function finishRun(
  db: Db,
  run: Pick<JobRun, 'id' | 'attempt'>,
  outcome: { status: 'succeeded'; counts: Record<string, number> } | { status: 'failed'; error: string },
): Promise<JobRun | null> {
  const [finished] = await db
    .update(jobRuns)
    .set(
      outcome.status === 'succeeded'
        ? { status: 'succeeded', counts: outcome.counts, finishedAt: new Date(), error: null }
        : { status: 'failed', error: outcome.error, finishedAt: new Date() },
    )
    .where(sql`${jobRuns.id} = ${run.id} and ${jobRuns.attempt} = ${run.attempt}`)
    .returning();
  if (finished) return finished;
  if (!(await findRun(db, run.id))) throw new Error(`Job run ${run.id} disappeared before it finished`);
  return null;
}

/**
 * Pushes a running run's lease forward. False when the run is no longer this attempt's to run: it finished, or
 * its lease ran out and another replica took it over or settled it.
 */
export async function extendLease(db: Db, run: Pick<JobRun, 'id' | 'attempt'>, params: { leaseMs: number; now?: Date }): Promise<boolean> {
  const rows = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set lease_until = ${leaseFrom(clockAt(params.now), params.leaseMs)}
        where id = ${run.id} and attempt = ${run.attempt} and status = 'running'
        returning id`,
  );
  return rows.length > 0;
}

export interface Heartbeat {
  /** Stops extending the lease, once a heartbeat in flight has landed. */
  stop(): Promise<void>;
}

/** Extends a run's lease every `everyMs` while its process lives; a crashed process stops, and its lease runs out. */
export function startHeartbeat(db: Db, run: JobRun, params: { leaseMs: number; everyMs: number; logger: Logger }): Heartbeat {
  let timer: NodeJS.Timeout | undefined;
  let beat: Promise<void> | undefined;
  let stopped = false;
  const arm = () => {
    timer = setTimeout(tick, params.everyMs);
    // The run itself keeps the process alive; a heartbeat alone must not.
    timer.unref();
  };
  const tick = () => {
    beat = extendLease(db, run, { leaseMs: params.leaseMs })
      .then(
        (held) => {
          if (held) return;
          stopped = true;
          params.logger.warn(
            `the ${run.job} run lost its lease: another replica took it over or settled it, and that outcome is the one recorded`,
          );
        },
        // A missed beat is retried at the next one; the lease is three beats long.
        (error: unknown) => params.logger.warn({ err: error }, `could not extend the lease of the ${run.job} run; trying again`),
      )
      .finally(() => {
        beat = undefined;
        if (!stopped) arm();
      });
  };
  arm();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await beat;
    },
  };
}

export interface SettleLostRunsParams {
  /** A lost slot already started this many times is given up. */
  maxAttempts?: number;
  /** A lost slot older than this is left to the job's next fire. */
  redoWithinMs?: number;
  /** The clock; the database's when omitted. */
  now?: Date;
}

/** A later scheduled fire of the same job has started, so it has done (or is doing) the lost run's work. */
const laterFireStarted = sql`exists (
  select 1 from job_runs later
  where later.job = job_runs.job and later.trigger = 'schedule' and later.scheduled_for > job_runs.scheduled_for)`;

/**
 * Settles the lost runs that are not to be redone: those whose lease ran out while `running` and whose work a
 * later fire already redid, whose moment has passed, or that were run by hand (whoever asked saw them fail), as
 * `abandoned`; and slots that were started `maxAttempts` times, each time losing their process, as `failed`.
 */
export async function settleLostRuns(db: Db, params: SettleLostRunsParams = {}): Promise<{ abandoned: number; failed: number }> {
  const clock = clockAt(params.now);
  const lost = sql`job_runs.status = 'running' and job_runs.lease_until < ${clock}`;
  const manual = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set status = 'abandoned', finished_at = ${clock},
               error = 'lease expired while running: the process that ran it by hand stopped; run it again, or wait for its next fire'
        where ${lost} and trigger = 'manual'
        returning id`,
  );
  const redone = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set status = 'abandoned', finished_at = ${clock},
               error = 'lease expired while running: the process that ran it stopped; a later fire redid its work'
        where ${lost} and trigger = 'schedule' and ${laterFireStarted}
        returning id`,
  );
  const redoWithinMs = params.redoWithinMs ?? DEFAULT_REDO_WITHIN_MS;
  const stale = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set status = 'abandoned', finished_at = ${clock},
               error = ${`lease expired while running: the process that ran it stopped, and its slot is more than ${formatDuration(redoWithinMs)} old; the next fire does its work`}
        where ${lost} and trigger = 'schedule' and scheduled_for < ${clock} - ${redoWithinMs}::double precision * interval '1 millisecond'
        returning id`,
  );
  const failed = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set status = 'failed', finished_at = ${clock},
               error = 'the process running it stopped before it finished, ' || attempt || ' times: given up. '
                 || 'Find what ends the process during this job (memory, a crash), then run it by hand with runJob'
        where ${lost} and trigger = 'schedule' and attempt >= ${params.maxAttempts ?? DEFAULT_MAX_ATTEMPTS}::int
        returning id`,
  );
  return { abandoned: manual.length + redone.length + stale.length, failed: failed.length };
}

function formatDuration(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 1 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(ms / 60_000)} min`;
}

export interface TakeOverLostRunParams extends SettleLostRunsParams {
  instanceId: string;
  /** The jobs this instance can run; a lost run of another job is left to an instance that can. */
  jobs: readonly JobName[];
  leaseMs?: number;
}

/**
 * Takes over the oldest scheduled run whose process died: its lease ran out while `running`, no later fire of its
 * job has started, it is recent enough to redo and has attempts left. The update re-checks the expired lease, so
 * of several replicas looking at once exactly one gets the run (attempt + 1, this instance, a fresh lease); the
 * caller runs it for its `scheduledFor` and records the outcome on the same row. Null when there is none.
 */
export async function takeOverLostRun(db: Db, params: TakeOverLostRunParams): Promise<JobRun | null> {
  if (params.jobs.length === 0) return null;
  const clock = clockAt(params.now);
  const redoWithinMs = params.redoWithinMs ?? DEFAULT_REDO_WITHIN_MS;
  const rows = await queryRows<JobRunRow>(
    db,
    sql`update job_runs set instance_id = ${params.instanceId}, attempt = attempt + 1, started_at = ${clock},
               lease_until = ${leaseFrom(clock, params.leaseMs ?? DEFAULT_LEASE_MS)}, finished_at = null, error = null, counts = null
        where id = (
          select id from job_runs
          where status = 'running' and lease_until < ${clock} and trigger = 'schedule'
            and job in (${sql.join(
              params.jobs.map((job) => sql`${job}`),
              sql`, `,
            )})
            and attempt < ${params.maxAttempts ?? DEFAULT_MAX_ATTEMPTS}::int
            and scheduled_for >= ${clock} - ${redoWithinMs}::double precision * interval '1 millisecond'
            and not ${laterFireStarted}
          order by scheduled_for
          limit 1
          for update skip locked)
        and status = 'running' and lease_until < ${clock}
        returning id`,
  );
  const id = rows[0]?.id;
  return id === undefined ? null : findRun(db, Number(id));
}

/**
 * node-cron's run coordinator, backed by job_runs. node-cron asks `shouldRun(key)` for every fire, with the key
 * `<task name>:<slot ISO time>`; the task names are job names. The run this instance claimed is kept until the
 * task function picks it up, so the function records its outcome on the same row.
 */
export class PostgresRunCoordinator implements RunCoordinator {
  private readonly claimed = new Map<string, JobRun>();
  private readonly claiming = new Set<Promise<JobRun | null>>();
  private closed = false;

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
    // A stopping instance leaves the fire to the others rather than claim a run it may not live to finish.
    if (this.closed) return false;
    const claim = claimScheduledRun(this.db, { job, scheduledFor, instanceId: this.instanceId, leaseMs: ttlMs });
    this.claiming.add(claim);
    try {
      const run = await claim;
      if (run) this.claimed.set(job, run);
      return run !== null;
    } finally {
      this.claiming.delete(claim);
    }
  }

  /** Claims nothing more, and resolves once the claims already asked for are settled. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.claiming]);
  }

  /** The run claimed for this job's current fire; each claim is handed out once. */
  takeClaimed(job: JobName): JobRun | undefined {
    const run = this.claimed.get(job);
    this.claimed.delete(job);
    return run;
  }
}
