import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import { count, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../db/client.ts';
import { type JobRun, type User, healthScores, jobRuns, outbox, playbookRuns, ruleFirings, tasks } from '../../db/schema.ts';
import { rulesWithTasks } from '../../domain/plays/trigger-tasks.ts';
import { addTicket, addTouch, addUsage } from '../support/signals.ts';
import { createAccount, createUser } from '../support/factories.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

const REPLICAS = 3;
const STEP_SECONDS = 3;
/** How long the three schedulers run side by side: at least three fires of every job. */
const RUN_MS = Number(process.env.FAULT_REPLICAS_RUN_MS ?? 11_000);
const AT_RISK_CHANNEL = 'C0FAULTRISK';

// Every job fires every 3 seconds, staggered so health has scored the book before rules and the digest read it.
const SCHEDULES = {
  LIFELINE_SCHEDULE_HEALTH: `*/${STEP_SECONDS} * * * * *`,
  LIFELINE_SCHEDULE_RENEWALS: `*/${STEP_SECONDS} * * * * *`,
  LIFELINE_SCHEDULE_RULES: `1-59/${STEP_SECONDS} * * * * *`,
  LIFELINE_SCHEDULE_DIGEST: `2-59/${STEP_SECONDS} * * * * *`,
  LIFELINE_SCHEDULE_OUTBOX: `1-59/${STEP_SECONDS} * * * * *`,
};
const JOBS = ['health', 'renewals', 'rules', 'digest', 'outbox'] as const;

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack({
    replicas: 0,
    env: { LIFELINE_JOBS: 'on', SLACK_AT_RISK_CHANNEL: AT_RISK_CHANNEL, SLACK_HANDOFF_CHANNEL: 'C0FAULTHAND', ...SCHEDULES },
  });
});
afterAll(async () => {
  await stack?.teardown();
});

/** A small book: accounts whose usage collapsed (Critical, usage_drop), two past their stage SLA, and healthy ones. */
async function seedBook(now: Date): Promise<{ csms: User[]; accounts: number }> {
  const { db } = stack.database;
  const csms: User[] = [];
  for (let index = 0; index < 3; index += 1) {
    csms.push(await createUser(db, { role: 'csm', name: `Replica CSM ${index}`, slackUserId: `UREPCSM${index}` }));
  }
  const far = new Date(now.getTime() + 700 * 86_400_000).toISOString().slice(0, 10);
  let accounts = 0;
  for (let index = 0; index < 6; index += 1) {
    const account = await createAccount(db, { name: `Collapsing ${index}`, stageKey: 'mature_adoption', csmId: csms[index % 3]?.id ?? null, contractEnd: far });
    await addUsage(db, account.id, now, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 40, seats: 50, keyEvents: 200 });
    await addUsage(db, account.id, now, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 3, seats: 50, keyEvents: 2 });
    await addTicket(db, account.id, now, { severity: 'urgent', openedDaysAgo: 9 });
    accounts += 1;
  }
  for (let index = 0; index < 2; index += 1) {
    const account = await createAccount(db, {
      name: `Stuck ${index}`,
      stageKey: 'implementation',
      csmId: csms[index]?.id ?? null,
      enteredAt: new Date(now.getTime() - 80 * 86_400_000),
      contractEnd: far,
    });
    await addUsage(db, account.id, now, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 30, seats: 40, keyEvents: 150 });
    accounts += 1;
  }
  for (let index = 0; index < 4; index += 1) {
    const account = await createAccount(db, { name: `Thriving ${index}`, stageKey: 'mature_adoption', csmId: csms[index % 3]?.id ?? null, contractEnd: far });
    await addUsage(db, account.id, now, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 45, seats: 50, keyEvents: 400 });
    await addTouch(db, account.id, now, 3);
    accounts += 1;
  }
  return { csms, accounts };
}

async function pendingNotifications(): Promise<number> {
  const [row] = await stack.database.db.select({ total: count() }).from(outbox).where(eq(outbox.status, 'pending'));
  return row?.total ?? 0;
}

function outboxIdOf(body: Record<string, unknown>): string | undefined {
  const metadata = body.metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const payload: unknown = Reflect.get(metadata, 'event_payload');
  if (typeof payload !== 'object' || payload === null) return undefined;
  const id: unknown = Reflect.get(payload, 'outbox_id');
  return typeof id === 'string' ? id : undefined;
}

/** Scheduled slots of one job that are not exactly one step after the previous one: fires nobody ran. */
function gapsIn(runs: JobRun[]): number {
  const slots = runs.map((run) => run.scheduledFor.getTime()).sort((a, b) => a - b);
  let gaps = 0;
  for (let index = 1; index < slots.length; index += 1) {
    const previous = slots[index - 1] ?? 0;
    const current = slots[index] ?? 0;
    if (current - previous !== STEP_SECONDS * 1000) gaps += 1;
  }
  return gaps;
}

describe('replicas', () => {
  it('three replicas with schedulers on: each fire runs once, each digest and alert is posted once, health history has no duplicates', async () => {
    const { db } = stack.database;
    const seeded = await seedBook(new Date());
    const started = Date.now();
    await Promise.all(Array.from({ length: REPLICAS }, () => stack.addReplica()));
    const allUp = Date.now();
    await sleep(RUN_MS);

    // Once everything queued went out, every replica gets SIGTERM (a deploy) just as health and renewals fire:
    // claims and runs in progress at that moment must still finish and record their outcome.
    const drainDeadline = Date.now() + 15_000;
    while (Date.now() < drainDeadline && (await pendingNotifications()) > 0) await sleep(100);
    const step = STEP_SECONDS * 1000;
    await sleep(step - (Date.now() % step) + 15);
    const stopping = new Date();
    await Promise.all(stack.replicas.map((replica) => replica.stop()));
    const stopped = Date.now();

    // Each fire: one job_runs row, claimed by one replica, run once and succeeded.
    const runs = await db.select().from(jobRuns);
    const scheduled = runs.filter((run) => run.trigger === 'schedule');
    const perJob = new Map(JOBS.map((job) => [job, scheduled.filter((run) => run.job === job)]));
    const notSucceeded = scheduled.filter((run) => run.status !== 'succeeded' || run.attempt !== 1);
    const gaps = JOBS.reduce((sum, job) => sum + gapsIn(perJob.get(job) ?? []), 0);
    const slotKeys = scheduled.map((run) => `${run.job}@${run.scheduledFor.toISOString()}`);
    const instances = new Set(scheduled.map((run) => run.instanceId));
    const inProgressAtStop = scheduled.filter((run) => run.startedAt <= stopping && (run.finishedAt === null || run.finishedAt >= stopping)).length;
    const replicaInstances = new Set(stack.replicas.map((replica) => `${hostname()}:${replica.process.pid}`));

    // What the runs say they did adds up to what exists: no fire did its work twice.
    const sumOf = (job: (typeof JOBS)[number], ...names: string[]) =>
      (perJob.get(job) ?? []).reduce((sum, run) => sum + names.reduce((inner, name) => inner + (run.counts?.[name] ?? 0), 0), 0);
    const [historyTotal] = await db.select({ total: count() }).from(healthScores);
    const [firingTotal] = await db.select({ total: count() }).from(ruleFirings);
    // Every firing of a rule that asks for work made exactly one task, whichever replica ran the rules.
    const [taskFirings] = await db.select({ total: count() }).from(ruleFirings).where(inArray(ruleFirings.rule, [...rulesWithTasks]));
    // A playbook's tasks share their run's firing: each is told apart by its run and step, a single task by its firing.
    const taskRows = await db.select({ ruleFiringId: tasks.ruleFiringId, playbookRunId: tasks.playbookRunId, playbookStepId: tasks.playbookStepId }).from(tasks);
    const taskKey = (row: (typeof taskRows)[number]) => (row.playbookRunId ? `run:${row.playbookRunId}:${row.playbookStepId}` : `firing:${row.ruleFiringId}`);
    const taskDuplicates = taskRows.length - new Set(taskRows.map(taskKey)).size;
    // Every firing that starts a playbook started at most one run of it.
    const runRows = await db.select({ playbookId: playbookRuns.playbookId, occasion: playbookRuns.occasion }).from(playbookRuns);
    const runDuplicates = runRows.length - new Set(runRows.map((row) => `${row.playbookId}:${row.occasion}`)).size;
    const singleTasks = taskRows.filter((row) => row.playbookRunId === null).length;
    const [wrongRuns] = await queryRows<{ total: number | string }>(
      db,
      sql`select count(*) as total from playbook_runs r
          where (select count(*) from tasks t where t.playbook_run_id = r.id)
             <> (select count(*) from playbook_steps s where s.playbook_id = r.playbook_id and s.removed_at is null)`,
    );
    const runsWithWrongTaskCount = Number(wrongRuns?.total ?? 0);

    // Health history holds only changes: two points of one account at the same moment, or two consecutive
    // points that say the same thing, are duplicates.
    const [sameMoment] = await queryRows<{ total: number | string }>(
      db,
      sql`select count(*) as total from (
            select account_id, computed_at from health_scores group by account_id, computed_at having count(*) > 1) d`,
    );
    const [repeated] = await queryRows<{ total: number | string }>(
      db,
      sql`select count(*) as total from (
            select score, status, facts, model_version,
                   lag(score) over w as p_score, lag(status) over w as p_status, lag(facts) over w as p_facts, lag(model_version) over w as p_model_version
            from health_scores window w as (partition by account_id order by computed_at, id)) h
          where score is not distinct from p_score and (status, model_version) = (p_status, p_model_version) and facts = p_facts`,
    );
    const historyDuplicates = Number(sameMoment?.total ?? 0) + Number(repeated?.total ?? 0);

    // Every queued digest and alert reached Slack exactly once, found by the outbox id in the message metadata.
    const rows = await db.select().from(outbox);
    const posts = stack.fake.callsTo('chat.postMessage').filter((call) => call.outcome === 'ok');
    const postsPerRow = new Map<string, number>();
    for (const call of posts) {
      const id = outboxIdOf(call.body);
      if (id) postsPerRow.set(id, (postsPerRow.get(id) ?? 0) + 1);
    }
    const delivered = rows.filter((row) => row.status === 'sent' && postsPerRow.get(String(row.id)) === 1).length;
    const duplicated = [...postsPerRow.values()].filter((times) => times > 1).length;
    const unknownPosts = [...postsPerRow.keys()].filter((id) => !rows.some((row) => String(row.id) === id)).length;
    const digests = rows.filter((row) => row.kind === 'at_risk_digest');
    const alerts = rows.filter((row) => row.kind === 'alert');
    const digestDays = new Set(digests.map((row) => String(row.payload.day)));
    const csmsListed = new Set(digests.flatMap((row) => (typeof row.payload.csmId === 'string' ? [row.payload.csmId] : [])));
    const fires = Object.fromEntries(JOBS.map((job) => [job, perJob.get(job)?.length ?? 0]));

    await recordScenario({
      scenario: '1. three replicas, schedulers on',
      repetitions: scheduled.length,
      expected: rows.length,
      delivered,
      duplicated: duplicated + historyDuplicates + taskDuplicates + runDuplicates + (slotKeys.length - new Set(slotKeys).size),
      // No requests are sent to the replicas here: only their schedulers and delivery loops run.
      rejected: 'n/a',
      failures: notSucceeded.length + gaps + unknownPosts + runsWithWrongTaskCount,
      note:
        `fires ${JOBS.map((job) => `${job} ${fires[job]}`).join(', ')} over ${Math.round((stopped - allUp) / 1000)} s on ${instances.size} replicas; ` +
        `${digests.length} digests, ${alerts.length} alerts, ${taskRows.length} tasks (${singleTasks} single, the rest in ${runRows.length} playbook runs, ${runsWithWrongTaskCount} with a step missing or doubled) for ${taskFirings?.total ?? 0} firings (${taskDuplicates} duplicate task, ${runDuplicates} duplicate run); ${historyTotal?.total ?? 0} history rows, ${historyDuplicates} duplicate; ` +
        `${inProgressAtStop} runs in progress at SIGTERM; start ${Math.round((allUp - started) / 100) / 10} s`,
    });

    for (const job of JOBS) expect(perJob.get(job)?.length ?? 0, `fires of ${job}`).toBeGreaterThanOrEqual(3);
    expect(new Set(slotKeys).size).toBe(slotKeys.length);
    expect(notSucceeded).toEqual([]);
    expect(gaps).toBe(0);
    // The fires were shared: the coordinator, not luck, kept the other replicas from running them.
    expect([...instances].every((instance) => replicaInstances.has(instance))).toBe(true);
    expect(instances.size).toBeGreaterThanOrEqual(2);

    expect(sumOf('health', 'historyRows')).toBe(historyTotal?.total);
    expect(historyTotal?.total).toBeGreaterThanOrEqual(seeded.accounts);
    expect(historyDuplicates).toBe(0);

    const ruleCounts = sumOf('rules', 'no_first_key_action', 'usage_drop', 'health_worsened', 'expansion_signal', 'stage_sla', 'handoff_sla', 'first_value');
    expect(ruleCounts).toBe(firingTotal?.total);
    expect(alerts.length).toBe(firingTotal?.total);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    // A firing asks for one task, or for the steps of the one playbook run it started: single tasks never outnumber
    // the firings, and every run holds exactly its playbook's steps.
    expect(singleTasks).toBeLessThanOrEqual(Number(taskFirings?.total ?? 0));
    expect(runsWithWrongTaskCount).toBe(0);
    expect(taskRows.length).toBeGreaterThanOrEqual(8);
    expect(taskDuplicates).toBe(0);
    expect(runDuplicates).toBe(0);

    // One digest a day for the channel and one per CSM with listed accounts, however many times the job fired.
    expect(digestDays.size).toBeGreaterThanOrEqual(1);
    expect(digests.length).toBe(digestDays.size * (1 + csmsListed.size));
    expect(sumOf('digest', 'channelDigests', 'csmDigests')).toBe(digests.length);
    expect(csmsListed.size).toBe(seeded.csms.length);

    expect(rows.filter((row) => row.status !== 'sent')).toEqual([]);
    expect(duplicated).toBe(0);
    expect(unknownPosts).toBe(0);
    expect(delivered).toBe(rows.length);
  });
});
