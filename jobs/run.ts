import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { JobRun } from '../db/schema.ts';
import type { Actor } from '../domain/actors.ts';
import { ForbiddenError, InvalidInputError } from '../domain/errors.ts';
import { DEFAULT_LEASE_MS, findRun, finishRun, startHeartbeat, startManualRun } from './coordinator.ts';
import { type JobFn, type JobName, type JobRegistry, isJobName, jobNames } from './registry.ts';
import { jobDuration, jobRuns } from '../metrics.ts';

export interface ExecuteRunOptions {
  /** The moment the job runs for: the slot of a scheduled run, even when it is redone later. */
  now: Date;
  logger: Logger;
  /** How long the run's lease is; it is extended every `heartbeatMs` while the job body runs. */
  leaseMs?: number;
  /** A third of the lease by default, so two missed beats in a row still leave the run its lease. */
  heartbeatMs?: number;
}

/**
 * Runs a job body against its job_runs row: the outcome and counts, or the error, are recorded either way. While
 * the body runs, a heartbeat keeps the run's lease fresh, so only a run whose process died is ever presumed lost.
 */
export async function executeRun(db: Db, run: JobRun, fn: JobFn, options: ExecuteRunOptions): Promise<JobRun> {
  const logger = options.logger.child({ job: run.job, runId: run.id, trigger: run.trigger, attempt: run.attempt });
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const heartbeat = startHeartbeat(db, run, { leaseMs, everyMs: options.heartbeatMs ?? leaseMs / 3, logger });
  let outcome: { status: 'succeeded'; counts: Record<string, number> } | { status: 'failed'; error: string };
  const started = performance.now();
  try {
    outcome = { status: 'succeeded', counts: await fn({ db, now: options.now, logger }) };
    // A run that found nothing to do (an idle outbox tick, a quiet hour) is not news: debug, not info.
    const didSomething = Object.values(outcome.counts).some((count) => count !== 0);
    logger[didSomething || run.trigger !== 'schedule' ? 'info' : 'debug']({ counts: outcome.counts }, `job ${run.job} succeeded`);
  } catch (error) {
    outcome = { status: 'failed', error: error instanceof Error ? error.message : String(error) };
    logger.error({ err: error }, `job ${run.job} failed`);
  } finally {
    await heartbeat.stop();
  }
  jobRuns.inc({ job: run.job, outcome: outcome.status });
  jobDuration.observe({ job: run.job, outcome: outcome.status }, (performance.now() - started) / 1000);
  const finished = await finishRun(db, run, outcome);
  if (finished) return finished;
  logger.warn(`job ${run.job} ${outcome.status}, but another replica had taken the run over: its outcome is the one recorded`);
  const current = await findRun(db, run.id);
  if (!current) throw new Error(`Job run ${run.id} disappeared before it finished`);
  return current;
}

export function resolveJob(jobs: JobRegistry, name: string): { name: JobName; fn: JobFn } {
  if (!isJobName(name)) {
    throw new InvalidInputError(`There is no job "${name}". Run one of: ${jobNames.join(', ')}.`, 'name');
  }
  const fn = jobs[name];
  if (!fn) {
    const available = jobNames.filter((job) => jobs[job]);
    throw new InvalidInputError(
      `The ${name} job has no function registered in this process, so it cannot run here. ` +
        `Job functions are wired in main.ts for the server and in jobs/cli.ts for npm run job; available here: ${available.join(', ') || 'none'}.`,
      'name',
    );
  }
  return { name, fn };
}

export interface RunJobByHandParams {
  name: string;
  jobs: JobRegistry;
  logger: Logger;
  /** Who asked; only admins may run jobs through the API. Omitted for the operator's CLI. */
  actor?: Actor;
  instanceId?: string;
  now?: Date;
}

/** Runs a job now, outside its schedule, and records it in job_runs as a manual run. */
export async function runJobByHand(db: Db, params: RunJobByHandParams): Promise<JobRun> {
  if (params.actor && params.actor.role !== 'admin') {
    throw new ForbiddenError(`Only admins can run jobs by hand; your role is ${params.actor.role}. Ask an admin, or wait for the schedule.`);
  }
  const { name, fn } = resolveJob(params.jobs, params.name);
  const now = params.now ?? new Date();
  const run = await startManualRun(db, { job: name, instanceId: params.instanceId ?? `manual:${process.pid}`, now });
  return executeRun(db, run, fn, { now, logger: params.logger });
}
