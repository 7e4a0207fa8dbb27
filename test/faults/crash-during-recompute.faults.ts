import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { type JobRun, type Segment, jobRuns } from '../../db/schema.ts';
import { createAccounts, createToken } from '../support/factories.ts';
import { createGraphqlClient } from '../support/graphql.ts';
import { addTicket, addUsageRows, daysBefore } from '../support/signals.ts';
import { addDays, isoDay } from '../../domain/dates.ts';
import { recordScenario } from './support/report.ts';
import type { Replica } from './support/replica.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

/** Enough accounts that a full recompute takes a second or two here, so a kill lands inside it. */
const ACCOUNTS = Number(process.env.FAULT_RECOMPUTE_ACCOUNTS ?? 15_000);
const KILLS = Number(process.env.FAULT_RECOMPUTE_KILLS ?? 3);
const STEP_SECONDS = 3;
const NEVER = '0 0 1 1 *';
// Only health is scheduled, every 3 seconds; the other jobs stay out of the way.
const WORKER_ENV = {
  LIFELINE_JOBS: 'on',
  LIFELINE_SCHEDULE_HEALTH: `*/${STEP_SECONDS} * * * * *`,
  LIFELINE_SCHEDULE_RENEWALS: NEVER,
  LIFELINE_SCHEDULE_RULES: NEVER,
  LIFELINE_SCHEDULE_DIGEST: NEVER,
  LIFELINE_SCHEDULE_OUTBOX: NEVER,
};

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 0, env: { LIFELINE_JOBS: 'off' } });
});
afterAll(async () => {
  await stack?.teardown();
});

const SEGMENTS: Segment[] = ['smb', 'mid_market', 'enterprise'];
const STAGES = ['onboarding', 'implementation', 'early_adoption', 'mature_adoption'];

/**
 * Accounts across stages and segments with six weeks of usage (every fourth day), written in one transaction: a
 * replica that recomputes meanwhile sees all of them or none.
 */
async function seedBook(): Promise<string[]> {
  const now = new Date();
  const contractEnd = isoDay(addDays(now, 700));
  const ids = await stack.database.db.transaction(async (tx) => {
    const book = await createAccounts(
      tx,
      Array.from({ length: ACCOUNTS }, (_, index) => {
        const g = index + 1;
        return { name: `Recompute account ${g}`, segment: SEGMENTS[g % 3], stageKey: STAGES[g % 4], contractEnd, arrCents: 100_000 * (1 + (g % 50)) };
      }),
    );
    await addUsageRows(
      tx,
      book.flatMap((accountId, index) => {
        const seats = 10 + (index % 90);
        return Array.from({ length: 11 }, (_, step) => ({
          accountId,
          day: isoDay(daysBefore(now, 41 - 4 * step)),
          activeUsers: Math.round(seats * (0.2 + 0.7 * Math.random())),
          seats,
          keyEvents: Math.round(seats * 3 * Math.random()),
        }));
      }),
    );
    return book;
  });
  await stack.database.db.execute(sql`analyze`);
  return ids;
}

/** The recompute statement as pg_stat_activity shows it: its first 1024 bytes only, so its opening words. */
const RECOMPUTE_MARKER = 'with settings(segment, w_usage';

const healthPage = z.object({
  accounts: z.object({ edges: z.array(z.object({ node: z.object({ health: z.object({ computedAt: z.string() }).nullable() }) })) }),
});

function pidOf(run: JobRun): number {
  return Number(run.instanceId.slice(run.instanceId.lastIndexOf(':') + 1));
}

/** The first health run after a slot in this status. */
async function runAfter(slot: Date, status: JobRun['status']): Promise<JobRun | undefined> {
  const [run] = await stack.database.db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.job, 'health'), eq(jobRuns.status, status), gt(jobRuns.scheduledFor, slot)))
    .orderBy(asc(jobRuns.scheduledFor))
    .limit(1);
  return run;
}

/** The first succeeded health run after a slot that scored the whole book. */
async function fullRunAfter(slot: Date): Promise<JobRun | undefined> {
  const runs = await stack.database.db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.job, 'health'), eq(jobRuns.status, 'succeeded'), gt(jobRuns.scheduledFor, slot)))
    .orderBy(asc(jobRuns.scheduledFor));
  return runs.find((run) => run.counts?.accounts === ACCOUNTS);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(everyMs);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

/**
 * A deadline sized from what this machine just did, not from a fixed number: on a loaded machine every step is
 * slower, the measured ones included. The floor keeps a very fast measurement from making it tight.
 */
function deadlineFrom(measuredMs: number, times: number, floorMs: number): number {
  return Math.max(floorMs, Math.round(times * measuredMs));
}

/**
 * Reads in a loop until stopped. A read that throws ends the loop and is kept, to be reported as one assertion
 * instead of escaping as an unhandled rejection while the test is failing for another reason.
 */
function watch(signal: AbortSignal, read: () => Promise<void>): Promise<unknown> {
  return (async () => {
    try {
      while (!signal.aborted) {
        await read();
        await sleep(50, undefined, { signal }).catch(() => {});
      }
      return undefined;
    } catch (error) {
      return error;
    }
  })();
}

interface Generations {
  rows: number;
  moments: number;
  /** History moments that hold some accounts but not all: a recompute that landed halfway. */
  partialHistory: number;
}

/** What a reader sees in the database: one statement, so one snapshot. */
async function readGenerations(): Promise<Generations> {
  const [row] = await queryRows<{ rows: number | string; moments: number | string; partial: number | string }>(
    stack.database.db,
    sql`select (select count(*) from account_health) as rows,
               (select count(distinct computed_at) from account_health) as moments,
               (select count(*) from (select computed_at from health_scores group by computed_at having count(*) <> ${ACCOUNTS}::int) p) as partial`,
  );
  return { rows: Number(row?.rows ?? 0), moments: Number(row?.moments ?? 0), partialHistory: Number(row?.partial ?? 0) };
}

describe('crash during recompute', () => {
  it(`kill -9 the replica running the health recompute ${KILLS} times: no half-written score is ever visible, the next fire completes`, async () => {
    const { db } = stack.database;
    const api = createGraphqlClient(db);
    const token = await createToken(db, 'admin');
    // Three replicas with the health schedule start while the book is written (their early fires see none of it):
    // whichever claims a fire is killed, and the others take the next one.
    const started = Date.now();
    const workersUp = Promise.all([stack.addReplica(WORKER_ENV), stack.addReplica(WORKER_ENV), stack.addReplica(WORKER_ENV)]);
    const book = await seedBook();
    const seedMs = Date.now() - started;
    await workersUp;
    const startMs = Date.now() - started;

    // The first full recompute is the generation every reader sees until another one commits. Before it nothing
    // is measured but the seeding, which does comparable work on the same rows.
    const baseline = await waitFor('a first full health run', () => fullRunAfter(new Date(0)), deadlineFrom(seedMs + startMs, 4, 60_000), 100);
    const recomputeMs = (baseline.finishedAt?.getTime() ?? 0) - baseline.startedAt.getTime();
    expect(await readGenerations()).toEqual({ rows: ACCOUNTS, moments: 1, partialHistory: 0 });

    // An urgent ticket opens on every account: every account's score changes, so the next recompute that commits
    // rewrites all of them, and one that commits halfway would leave two moments side by side.
    await db.transaction(async (tx) => {
      for (const accountId of book) await addTicket(tx, accountId, new Date(), { severity: 'urgent', openedDaysAgo: 1 / 24 });
    });

    let observations = 0;
    let apiObservations = 0;
    let halfWritten = 0;
    let apiHalfWritten = 0;
    // Every step waits in proportion to the uninterrupted recompute measured above: a run to start is at most a
    // few fires away, and the run after the crashes first waits for the killed statement to finish in the server
    // (holding the recompute lock), then rewrites every score, while replacements start on the same cores.
    const runStartDeadline = deadlineFrom(recomputeMs, 8, 20_000) + 2 * STEP_SECONDS * 1000;
    const recoveryDeadline = deadlineFrom(recomputeMs, 20, 60_000) + 4 * STEP_SECONDS * 1000;
    const watchers = new AbortController();
    const watcherResults: Promise<unknown>[] = [];
    const crashed: { run: JobRun; killedAt: number; midStatement: boolean }[] = [];
    const missed: JobRun[] = [];
    const replacements: Promise<Replica>[] = [];
    let next: JobRun;
    try {
      watcherResults.push(
        watch(watchers.signal, async () => {
          const seen = await readGenerations();
          observations += 1;
          if (seen.rows !== ACCOUNTS || seen.moments !== 1 || seen.partialHistory !== 0) halfWritten += 1;
        }),
      );
      // Through the GraphQL API: a page of the lowest scores, and when each was computed, must come from one run.
      watcherResults.push(
        watch(watchers.signal, async () => {
          const response = await api.request('{ accounts(first: 100, orderBy: health) { edges { node { health { computedAt } } } } }', {}, token);
          const page = healthPage.safeParse(response.body.data);
          const moments = new Set(page.data?.accounts.edges.map((edge) => edge.node.health?.computedAt ?? 'none'));
          apiObservations += 1;
          if (response.status !== 200 || page.data?.accounts.edges.length !== 100 || moments.size !== 1 || moments.has('none')) apiHalfWritten += 1;
        }),
      );

      let lastSlot = baseline.scheduledFor;
      // A kill counts only when it lands while the run's recompute statement is executing in the server. The
      // replica is killed as soon as that statement is seen active; a run that still got to record its success
      // first (the statement ended between the look and the kill) is a missed kill, reported and tried again.
      for (let attempt = 0; crashed.length < KILLS && attempt < KILLS * 3; attempt += 1) {
        const run = await waitFor('a health run to start', () => runAfter(lastSlot, 'running'), runStartDeadline);
        lastSlot = run.scheduledFor;
        if (!run.instanceId.startsWith(`${hostname()}:`)) throw new Error(`no replica of this stack runs ${run.instanceId}`);
        // A replacement schedules before it says it is ready, so it may claim a fire a moment before it is listed.
        const victim = await waitFor('the replica running it to be listed', async () => stack.replicas.find((replica) => replica.process.pid === pidOf(run)), 5_000);
        const midStatement = await waitFor(
          'its recompute statement to be executing',
          async () => {
            const [active] = await queryRows<{ total: number | string }>(
              db,
              sql`select count(*) as total from pg_stat_activity
                  where state = 'active' and query like ${`%${RECOMPUTE_MARKER}%`} and query_start >= ${run.startedAt.toISOString()}::timestamptz
                    and pid <> pg_backend_pid()`,
            );
            if (Number(active?.total ?? 0) > 0) return true;
            const [now] = await db.select({ status: jobRuns.status }).from(jobRuns).where(eq(jobRuns.id, run.id));
            return now?.status === 'running' ? undefined : false;
          },
          runStartDeadline,
          10,
        );
        const victimIndex = stack.replicas.indexOf(victim);
        await victim.kill();
        const [after] = await db.select({ status: jobRuns.status }).from(jobRuns).where(eq(jobRuns.id, run.id));
        stack.replicas.splice(victimIndex, 1);
        stack.slackClients.splice(victimIndex, 1);
        if (midStatement && after?.status === 'running') crashed.push({ run, killedAt: Date.now(), midStatement });
        else missed.push(run);
        // Restarted in the background, as an orchestrator would; after the last kill the survivors are enough.
        if (crashed.length < KILLS) replacements.push(stack.addReplica(WORKER_ENV));
      }

      next = await waitFor('a health run after the crashes to succeed', () => runAfter(lastSlot, 'succeeded'), recoveryDeadline, 50);
    } finally {
      // Stopped whether the scenario got here or failed on the way: no loop keeps querying a stack being torn down.
      watchers.abort();
      await Promise.allSettled(replacements);
    }
    const watcherErrors = (await Promise.all(watcherResults)).filter((error) => error !== undefined);
    expect(watcherErrors.map(String), 'reads of the watchers that failed').toEqual([]);
    const lastKill = crashed.at(-1)?.killedAt ?? Date.now();

    const crashedRows = await db
      .select()
      .from(jobRuns)
      .where(inArray(jobRuns.id, crashed.map((entry) => entry.run.id)));
    const midStatement = crashed.filter((entry) => entry.midStatement).length;
    const final = await readGenerations();
    const [current] = await queryRows<{ computed_at: Date | string }>(db, sql`select min(computed_at) as computed_at from account_health`);
    const [duplicates] = await queryRows<{ total: number | string }>(
      db,
      sql`select count(*) as total from (
            select score, status, facts, lag(score) over w as p_score, lag(status) over w as p_status, lag(facts) over w as p_facts
            from health_scores window w as (partition by account_id order by computed_at, id)) h
          where score is not distinct from p_score and status = p_status and facts = p_facts`,
    );
    // A killed recompute's server side finishes its statement, finds its client gone and rolls back: its slot
    // has no history, unless the kill came after the commit, and then all of it.
    const committedBeforeKill = await queryRows<{ total: number | string }>(
      db,
      sql`select count(*) as total from health_scores
          where computed_at in (${sql.join(crashed.map((entry) => sql`${entry.run.scheduledFor.toISOString()}::timestamptz`), sql`, `)})
          group by computed_at`,
    );
    const recoveredAfterMs = (next.finishedAt?.getTime() ?? 0) - lastKill;
    const nextRunMs = (next.finishedAt?.getTime() ?? 0) - next.startedAt.getTime();

    await recordScenario({
      scenario: '3. crash during recompute (kill -9)',
      repetitions: KILLS,
      expected: ACCOUNTS,
      delivered: next.counts?.accounts ?? 0,
      duplicated: Number(duplicates?.total ?? 0),
      rejected: 'n/a',
      failures: halfWritten + apiHalfWritten + (next.status === 'succeeded' ? 0 : 1),
      note:
        `${ACCOUNTS} accounts seeded in ${seedMs} ms, replicas up in ${startMs} ms; recompute ${recomputeMs} ms; ` +
        `${midStatement}/${KILLS} kills landed mid-statement (${missed.length} missed and tried again), ${committedBeforeKill.length} after commit; ` +
        `half-written reads ${halfWritten}/${observations} (SQL), ${apiHalfWritten}/${apiObservations} (API); ` +
        `next fire succeeded ${recoveredAfterMs} ms after the last kill (started after ${next.startedAt.getTime() - lastKill} ms, ran ${nextRunMs} ms, ` +
        `deadline ${recoveryDeadline} ms); crashed runs left ${[...new Set(crashedRows.map((row) => row.status))].join('/')}`,
    });

    expect(halfWritten).toBe(0);
    expect(apiHalfWritten).toBe(0);
    expect(observations).toBeGreaterThan(KILLS);
    expect(apiObservations).toBeGreaterThan(KILLS);
    // Every repetition's fault landed: each counted kill hit a run whose recompute statement was executing.
    expect(crashed).toHaveLength(KILLS);
    expect(midStatement).toBe(KILLS);
    // The fire after the crashes ran and finished: the crashed claims did not hold the job back.
    expect(next).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(next.counts?.accounts).toBe(ACCOUNTS);
    // The crashed claims did not hold the job back: the fire after them started while the last crashed claim
    // still looked alive (its lease had not run out), so nothing waited for that lease. It is not at once: the
    // killed statement runs on in the server until it rolls back, holding the recompute lock, and the next run
    // waits for it; the deadline above covers that, in proportion to the measured recompute.
    const lastCrashed = crashedRows.find((row) => row.id === crashed.at(-1)?.run.id);
    expect(lastCrashed?.leaseUntil.getTime() ?? 0).toBeGreaterThan(next.startedAt.getTime());
    expect(final).toEqual({ rows: ACCOUNTS, moments: 1, partialHistory: 0 });
    expect(new Date(current?.computed_at ?? 0).getTime()).toBeGreaterThan(baseline.scheduledFor.getTime());
    expect(Number(duplicates?.total ?? 0)).toBe(0);
    for (const slot of committedBeforeKill) expect(Number(slot.total)).toBe(ACCOUNTS);
    // Each crashed claim stays on record under its own slot, never as succeeded.
    expect(crashedRows).toHaveLength(KILLS);
    for (const row of crashedRows) expect(['running', 'abandoned']).toContain(row.status);
  });
});
