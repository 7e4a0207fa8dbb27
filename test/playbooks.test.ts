import { and, asc, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/client.ts';
import { type User, playbookRuns, playbooks, ruleFirings, tasks, users } from '../db/schema.ts';
import { type Actor, actorFromUser, systemReader } from '../domain/actors.ts';
import { DAY_MS, addDays, isoDay } from '../domain/dates.ts';
import { ForbiddenError, InvalidInputError, NotFoundError, StaleVersionError } from '../domain/errors.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { acceptHandoff, confirmHandoff } from '../domain/handoffs/handoffs.ts';
import { getAccountHealth } from '../domain/health/queries.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { closePlaybookRun, listOnboardingProgress, listPlaybookRunsByAccountIds, startPlaybook, startTriggeredPlaybooks } from '../domain/plays/playbook-runs.ts';
import { definePlaybook, ensureDefaultPlaybooks, listPlaybooks, requirePlaybook, retirePlaybook, updatePlaybook } from '../domain/plays/playbooks.ts';
import { cancelTask, completeTask, listTasks } from '../domain/plays/tasks.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { runRules } from '../domain/rules.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { addTouch, addUsage, daysBefore } from './support/signals.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const day = (offset: number, from = NOW) => isoDay(new Date(from.getTime() + offset * DAY_MS));
const admin: Actor = { userId: null, role: 'admin', label: 'Test admin' };

let database: TestDatabase;
let manager: User;
beforeAll(async () => {
  database = await createTestDatabase();
  // Every test's CSMs report to this manager unless a test says otherwise.
  manager = await createUser(database.db, { role: 'manager', name: 'Aaron Manager' });
});
afterAll(async () => {
  await database?.destroy();
});

async function csmReportingTo(db: Db, boss: User | null, name?: string): Promise<User> {
  const csm = await createUser(db, { role: 'csm', ...(name ? { name } : {}) });
  if (boss) await db.update(users).set({ managerId: boss.id }).where(eq(users.id, csm.id));
  return { ...csm, managerId: boss?.id ?? null };
}

async function runTasksOf(db: Db, runId: string) {
  return db.select().from(tasks).where(eq(tasks.playbookRunId, runId)).orderBy(asc(tasks.dueOn), asc(tasks.title));
}

async function runsOf(db: Db, accountId: string) {
  return db.select().from(playbookRuns).where(eq(playbookRuns.accountId, accountId)).orderBy(asc(playbookRuns.startedAt));
}

describe('default playbooks', () => {
  it('a new install has onboarding, risk, champion left, renewal and expansion, and seeding again changes nothing, edits included', async () => {
    const { db } = database;
    const listed = await listPlaybooks(db, { reader: systemReader });
    expect(listed.map((p) => [p.playbook.key, p.playbook.triggers, p.steps.length])).toEqual([
      ['champion_left', ['champion_left'], 3],
      ['expansion', ['expansion_signal'], 2],
      ['onboarding', ['handoff_accepted'], 4],
      ['renewal', ['renewal_90'], 2],
      ['risk', ['usage_drop', 'health_critical'], 3],
    ]);
    const onboarding = listed.find((p) => p.playbook.key === 'onboarding');
    expect(onboarding?.steps.map((s) => [s.position, s.ownerRole, s.dueInDays, s.suggestedStageKey])).toEqual([
      [1, 'csm', 5, 'implementation'],
      [2, 'csm', 14, null],
      [3, 'csm', 21, null],
      [4, 'csm', 45, 'early_adoption'],
    ]);
    const expansion = listed.find((p) => p.playbook.key === 'expansion');
    if (!expansion) throw new Error('no expansion playbook');
    await updatePlaybook(db, { playbookId: expansion.playbook.id, expectedVersion: 1, name: 'Expansion (edited)', actor: admin });
    await ensureDefaultPlaybooks(db);
    await ensureDefaultPlaybooks(db);
    const again = await listPlaybooks(db, { reader: systemReader });
    expect(again).toHaveLength(5);
    expect(again.find((p) => p.playbook.key === 'expansion')?.playbook.name).toBe('Expansion (edited)');
    expect(again.find((p) => p.playbook.key === 'expansion')?.steps).toHaveLength(2);
    await updatePlaybook(db, { playbookId: expansion.playbook.id, expectedVersion: 2, name: 'Expansion', actor: admin });
  });
});

describe('defining playbooks', () => {
  it('only admins define, edit and retire; keys are unique; a stale edit and an unknown stage are refused with what to do', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const steps = [{ title: 'Book the executive review', ownerRole: 'manager' as const, dueInDays: 10, suggestedStageKey: null }];
    await expect(definePlaybook(db, { key: 'exec_review', name: 'Executive review', triggers: ['manual'], steps, actor: actorFromUser(csm) })).rejects.toThrow(
      new ForbiddenError('Your role (csm) cannot define, edit or retire playbooks (ask an admin).'),
    );
    const defined = await definePlaybook(db, { key: 'exec_review', name: 'Executive review', triggers: ['manual', 'manual'], steps, actor: admin });
    expect(defined.playbook).toMatchObject({ key: 'exec_review', triggers: ['manual'], version: 1, retiredAt: null });
    await expect(definePlaybook(db, { key: 'exec_review', name: 'Again', triggers: ['manual'], steps, actor: admin })).rejects.toThrow(
      'A playbook with the key “exec_review” already exists. Choose another key, or edit that one with updatePlaybook.',
    );
    await expect(definePlaybook(db, { key: 'no_steps', name: 'Empty', triggers: ['manual'], steps: [], actor: admin })).rejects.toThrow('steps: a playbook needs at least one step');
    await expect(definePlaybook(db, { key: 'no_trigger', name: 'Nothing starts it', triggers: [], steps, actor: admin })).rejects.toThrow(InvalidInputError);
    await expect(
      definePlaybook(db, { key: 'bad_stage', name: 'Bad stage', triggers: ['manual'], steps: [{ ...steps[0]!, suggestedStageKey: 'nowhere' }], actor: admin }),
    ).rejects.toThrow('There is no stage “nowhere”. Use a key from the `stages` query, or leave the suggested stage out.');

    const edited = await updatePlaybook(db, {
      playbookId: defined.playbook.id,
      expectedVersion: 1,
      steps: [
        { title: 'Prepare the review deck', ownerRole: 'csm', dueInDays: 3 },
        { title: 'Hold the review', ownerRole: 'manager', dueInDays: 10, suggestedStageKey: 'mature_adoption' },
      ],
      actor: admin,
    });
    expect(edited.playbook.version).toBe(2);
    expect(edited.steps.map((s) => [s.position, s.title])).toEqual([
      [1, 'Prepare the review deck'],
      [2, 'Hold the review'],
    ]);
    await expect(updatePlaybook(db, { playbookId: defined.playbook.id, expectedVersion: 1, name: 'Stale', actor: admin })).rejects.toThrow(StaleVersionError);

    const retired = await retirePlaybook(db, { playbookId: defined.playbook.id, actor: admin });
    expect(retired.playbook.retiredAt).not.toBeNull();
    expect((await listPlaybooks(db, { reader: systemReader })).map((p) => p.playbook.key)).not.toContain('exec_review');
    expect((await listPlaybooks(db, { reader: systemReader, includeRetired: true })).map((p) => p.playbook.key)).toContain('exec_review');
    await expect(retirePlaybook(db, { playbookId: defined.playbook.id, actor: admin })).rejects.toThrow('“Executive review” is already retired.');
    const account = await createAccount(db, { csmId: csm.id });
    await expect(startPlaybook(db, { accountId: account.id, playbookKey: 'exec_review', actor: admin, now: NOW })).rejects.toThrow(
      '“Executive review” is retired and cannot be started. Choose an active playbook.',
    );
  });
});

describe('starting a playbook by hand', () => {
  it("creates each step as a task for the right person: CSM, account executive, the CSM's manager", async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const ae = await createUser(db, { role: 'ae' });
    const account = await createAccount(db, { csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption' });
    const { run, tasks: created } = await startPlaybook(db, { accountId: account.id, playbookKey: 'risk', actor: actorFromUser(csm), now: NOW });
    expect(run).toMatchObject({ trigger: 'manual', status: 'running', startedBy: csm.id, startedByLabel: csm.name, occasion: null });
    const rows = await runTasksOf(db, run.id);
    expect(rows.map((t) => [t.title, t.ownerId, t.dueOn, t.source])).toEqual([
      ['Reach the champion and find out what changed', csm.id, day(2), 'playbook'],
      ['Review usage with the customer and agree a recovery plan', csm.id, day(7), 'playbook'],
      ['Escalate to the executive sponsor if usage has not recovered', manager.id, day(14), 'playbook'],
    ]);
    expect(created).toHaveLength(3);
    // The renewal playbook's AE step goes to the AE.
    const renewal = await startPlaybook(db, { accountId: account.id, playbookKey: 'renewal', actor: actorFromUser(manager), now: NOW });
    expect((await runTasksOf(db, renewal.run.id)).map((t) => [t.ownerId, t.dueOn])).toEqual([
      [csm.id, day(7)],
      [ae.id, day(60)],
    ]);
  });

  it('when the person a step names is missing, the closest one gets it and the title says so', async () => {
    const { db } = database;
    const loneCsm = await csmReportingTo(db, null);
    const account = await createAccount(db, { csmId: loneCsm.id, stageKey: 'mature_adoption' });
    const risk = await startPlaybook(db, { accountId: account.id, playbookKey: 'risk', actor: admin, now: NOW });
    const riskTasks = await runTasksOf(db, risk.run.id);
    // The CSM reports to nobody: the first manager by name (this file's "Aaron Manager") gets the escalation.
    expect(riskTasks.at(-1)).toMatchObject({
      ownerId: manager.id,
      title: 'Escalate to the executive sponsor if usage has not recovered (for the CSM’s manager: the CSM reports to nobody on record)',
    });
    const renewal = await startPlaybook(db, { accountId: account.id, playbookKey: 'renewal', actor: admin, now: NOW });
    expect((await runTasksOf(db, renewal.run.id)).at(-1)).toMatchObject({
      ownerId: loneCsm.id,
      title: 'Get the renewal paperwork signed (for the account executive: the account has none on record)',
    });
    const ae = await createUser(db, { role: 'ae' });
    const soldOnly = await createAccount(db, { aeId: ae.id, stageKey: 'mature_adoption' });
    const expansion = await startPlaybook(db, { accountId: soldOnly.id, playbookKey: 'expansion', actor: admin, now: NOW });
    expect((await runTasksOf(db, expansion.run.id)).map((t) => [t.ownerId, t.title])).toEqual([
      [ae.id, 'Qualify the expansion signal with the champion (for the CSM: the account has none yet)'],
      [ae.id, 'Take the qualified expansion to the customer'],
    ]);
  });

  it('the account’s CSM, their manager and admins may; another CSM, an AE and a viewer are told why; a running playbook is not started twice', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager, 'Cora Owner');
    const otherManager = await createUser(db, { role: 'manager', name: 'Zed Other Manager' });
    const otherCsm = await createUser(db, { role: 'csm' });
    const ae = await createUser(db, { role: 'ae' });
    const viewer = await createUser(db, { role: 'viewer' });
    const account = await createAccount(db, { name: 'Heron Labs', csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption' });
    const start = (actor: Actor) => startPlaybook(db, { accountId: account.id, playbookKey: 'expansion', actor, now: NOW });
    await expect(start(actorFromUser(otherCsm))).rejects.toThrow(new ForbiddenError("Only Heron Labs's own CSM, their manager or an admin can start playbooks on it."));
    await expect(start(actorFromUser(ae))).rejects.toThrow(new ForbiddenError("Your role (ae) cannot start playbooks on accounts. Ask the account's CSM, their manager or an admin."));
    await expect(start(actorFromUser(viewer))).rejects.toThrow(ForbiddenError);
    await expect(start(actorFromUser(otherManager))).rejects.toThrow(/Managers can start playbooks only for accounts whose CSM or account executive reports to them/);
    await expect(startPlaybook(db, { accountId: account.id, actor: actorFromUser(csm), now: NOW })).rejects.toThrow('Say which playbook to start');
    await expect(startPlaybook(db, { accountId: account.id, playbookKey: 'nope', actor: actorFromUser(csm), now: NOW })).rejects.toThrow(NotFoundError);

    // Two people start it at the same moment: the database lets one through.
    const results = await Promise.allSettled([start(actorFromUser(csm)), start(actorFromUser(manager))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(String(refused?.reason.message)).toMatch(/^“Expansion” is already running for Heron Labs since 2026-11-25 \(started by .+\)\. Work its tasks, or close that run first to start it again\.$/);
    expect(await runsOf(db, account.id)).toHaveLength(1);
    // An admin closes it; then it may start again.
    const [run] = await runsOf(db, account.id);
    await closePlaybookRun(db, { runId: run!.id, reason: 'Handled in the QBR', actor: admin, now: NOW });
    await start(admin);
    expect((await runsOf(db, account.id)).map((r) => r.status)).toEqual(['closed', 'running']);
  });
});

describe('a run ends', () => {
  it('completes by itself when its last task is done or cancelled', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const ae = await createUser(db, { role: 'ae' });
    const account = await createAccount(db, { csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption' });
    const { run } = await startPlaybook(db, { accountId: account.id, playbookKey: 'expansion', actor: actorFromUser(csm), now: NOW });
    const [qualify, handOver] = await runTasksOf(db, run.id);
    await completeTask(db, { taskId: qualify!.id, actor: actorFromUser(csm), now: addDays(NOW, 1) });
    expect((await runsOf(db, account.id))[0]?.status).toBe('running');
    await cancelTask(db, { taskId: handOver!.id, reason: 'Customer not ready', actor: actorFromUser(ae), now: addDays(NOW, 2) });
    expect((await runsOf(db, account.id))[0]).toMatchObject({ status: 'completed', completedAt: addDays(NOW, 2) });
    const [item] = await listPlaybookRunsByAccountIds(db, { accountIds: [account.id], reader: systemReader });
    expect(item).toMatchObject({ playbookName: 'Expansion', openTasks: 0, totalTasks: 2 });
  });

  it('two of its tasks finished at once still complete it', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const ae = await createUser(db, { role: 'ae' });
    const account = await createAccount(db, { csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption' });
    const { run } = await startPlaybook(db, { accountId: account.id, playbookKey: 'expansion', actor: actorFromUser(csm), now: NOW });
    const [first, second] = await runTasksOf(db, run.id);
    await Promise.all([
      completeTask(db, { taskId: first!.id, actor: actorFromUser(csm), now: NOW }),
      completeTask(db, { taskId: second!.id, actor: actorFromUser(ae), now: NOW }),
    ]);
    expect((await runsOf(db, account.id))[0]?.status).toBe('completed');
  });

  it('closing records why and by whom, cancels its open tasks with that reason, and cannot happen twice', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const otherCsm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { name: 'Osprey Co', csmId: csm.id, stageKey: 'mature_adoption' });
    const { run } = await startPlaybook(db, { accountId: account.id, playbookKey: 'risk', actor: actorFromUser(csm), now: NOW });
    const [reach] = await runTasksOf(db, run.id);
    await completeTask(db, { taskId: reach!.id, actor: actorFromUser(csm), now: NOW });
    await expect(closePlaybookRun(db, { runId: run.id, reason: 'Health recovered', actor: actorFromUser(otherCsm), now: NOW })).rejects.toThrow(ForbiddenError);
    await expect(closePlaybookRun(db, { runId: run.id, reason: '  ', actor: actorFromUser(csm), now: NOW })).rejects.toThrow(
      'reason: say why the run is closed (e.g. “health recovered”): it is kept with the run',
    );
    const closed = await closePlaybookRun(db, { runId: run.id, reason: 'Health recovered', actor: actorFromUser(manager), now: addDays(NOW, 3) });
    expect(closed).toMatchObject({ status: 'closed', closedReason: 'Health recovered', closedBy: manager.id, closedByLabel: manager.name, closedAt: addDays(NOW, 3) });
    expect((await runTasksOf(db, run.id)).map((t) => [t.status, t.outcomeNote])).toEqual([
      ['done', null],
      ['cancelled', 'Health recovered'],
      ['cancelled', 'Health recovered'],
    ]);
    await expect(closePlaybookRun(db, { runId: run.id, reason: 'Again', actor: admin, now: NOW })).rejects.toThrow(
      '“Risk” for Osprey Co was already closed on 2026-11-28 (Health recovered), so there is nothing to close.',
    );
  });
});

describe('triggers start playbooks', () => {
  /** An account whose active users fell from 10 to 4 a day: usage_drop fires for it. */
  async function fallingUsage(db: Db, csmId: string) {
    const account = await createAccount(db, { csmId, stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10, keyEvents: 5 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 4, seats: 10, keyEvents: 5 });
    return account;
  }

  it('a usage drop starts the risk playbook once, however often and on however many replicas the rules run, and makes no single task', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const account = await fallingUsage(db, csm.id);
    await runRules(db, { now: NOW });
    await Promise.all([runRules(db, { now: NOW }), runRules(db, { now: NOW })]);
    await runRules(db, { now: new Date(NOW.getTime() + 3_600_000) });
    const [firing] = await db.select().from(ruleFirings).where(and(eq(ruleFirings.accountId, account.id), eq(ruleFirings.rule, 'usage_drop')));
    const runs = await runsOf(db, account.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger: 'usage_drop', occasion: `rule_firing:${firing?.id}`, ruleFiringId: firing?.id, startedByLabel: 'Lifeline rules', startedBy: null });
    const rows = await db.select().from(tasks).where(eq(tasks.accountId, account.id));
    expect(rows.map((t) => [t.source, t.ownerId, t.ruleFiringId]).sort()).toEqual(
      [
        ['playbook', csm.id, firing?.id],
        ['playbook', csm.id, firing?.id],
        ['playbook', manager.id, firing?.id],
      ].sort(),
    );
  });

  it('two transactions starting the same occasion at once start one run', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const account = await createAccount(db, { csmId: csm.id, stageKey: 'mature_adoption' });
    const occasion = { trigger: 'expansion_signal' as const, accountId: account.id, occasion: `test:${account.id}` };
    const started = await Promise.all(
      [0, 1].map(() => db.transaction((tx) => startTriggeredPlaybooks(tx, { occasions: [occasion], actor: admin, now: NOW }))),
    );
    expect(started.map((result) => result.started.length).sort()).toEqual([0, 1]);
    expect(started.every((result) => result.covered.has(`expansion_signal|test:${account.id}`))).toBe(true);
    const runs = await runsOf(db, account.id);
    expect(runs).toHaveLength(1);
    expect(await runTasksOf(db, runs[0]!.id)).toHaveLength(2);
    // Another occasion of the same trigger while the run goes on starts nothing either.
    const later = await db.transaction((tx) => startTriggeredPlaybooks(tx, { occasions: [{ ...occasion, occasion: `later:${account.id}` }], actor: admin, now: NOW }));
    expect(later.started).toEqual([]);
    expect(await runsOf(db, account.id)).toHaveLength(1);
  });

  it('a trigger whose playbook is retired goes back to its single task', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const account = await createAccount(db, { csmId: csm.id, stageKey: 'mature_adoption', contractEnd: day(80) });
    const renewal = await requirePlaybook(db, { key: 'renewal' });
    // The 90-day checkpoint starts the renewal playbook: two tasks, no single checkpoint task.
    await runRenewals(db, { now: NOW });
    const [run] = await runsOf(db, account.id);
    expect(run).toMatchObject({ trigger: 'renewal_90', playbookId: renewal.playbook.id });
    expect(run?.renewalId).toEqual(expect.any(String));
    expect((await db.select().from(tasks).where(eq(tasks.accountId, account.id))).map((t) => t.source)).toEqual(['playbook', 'playbook']);
    // 55 days on, 25 days are left: the 30-day checkpoint adds nothing while the renewal run goes on.
    await runRenewals(db, { now: addDays(NOW, 55) });
    expect(await db.select().from(tasks).where(eq(tasks.accountId, account.id))).toHaveLength(2);

    // Retired, the playbook starts nothing: another account's 90-day checkpoint makes its single task.
    const other = await createAccount(db, { csmId: csm.id, stageKey: 'mature_adoption', contractEnd: day(85) });
    await db.update(playbooks).set({ retiredAt: NOW }).where(eq(playbooks.key, 'renewal'));
    try {
      await runRenewals(db, { now: NOW });
      expect(await runsOf(db, other.id)).toEqual([]);
      expect((await db.select().from(tasks).where(eq(tasks.accountId, other.id))).map((t) => [t.source, t.title])).toEqual([
        ['renewal_checkpoint', 'Confirm the renewal plan and the decision makers'],
      ]);
    } finally {
      await db.update(playbooks).set({ retiredAt: null }).where(eq(playbooks.key, 'renewal'));
    }
  });

  it('an accepted handoff starts onboarding, due from the acceptance', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const ae = await createUser(db, { role: 'ae' });
    const { handoff } = await recordClosedWon(db, {
      opportunityId: `pb-onboarding-${csm.id}`,
      account: { externalId: `pb-onboarding-${csm.id}`, name: 'Wren Analytics', segment: 'smb', arrCents: 100_000 },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(),
      context: { goals: 'Replace spreadsheets' },
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    if (!handoff) throw new Error('no handoff');
    await confirmHandoff(db, { handoffId: handoff.id, actor: actorFromUser(ae) });
    expect(await runsOf(db, handoff.accountId)).toEqual([]);
    const accepted = await acceptHandoff(db, { handoffId: handoff.id, actor: actorFromUser(csm) });
    const [run] = await runsOf(db, handoff.accountId);
    expect(run).toMatchObject({ trigger: 'handoff_accepted', handoffId: handoff.id, occasion: `handoff:${handoff.id}` });
    const acceptedOn = accepted.acceptedAt ?? new Date();
    expect((await runTasksOf(db, run!.id)).map((t) => [t.dueOn, t.ownerId, t.handoffId])).toEqual([
      [day(5, acceptedOn), csm.id, handoff.id],
      [day(14, acceptedOn), csm.id, handoff.id],
      [day(21, acceptedOn), csm.id, handoff.id],
      [day(45, acceptedOn), csm.id, handoff.id],
    ]);
  });
});

describe('onboarding milestones in health', () => {
  it('the share reached on time replaces time in stage against its SLA in engagement', async () => {
    const { db } = database;
    const csm = await csmReportingTo(db, manager);
    const started = daysBefore(NOW, 20);
    const account = await createAccount(db, { csmId: csm.id, stageKey: 'onboarding', enteredAt: started });
    await addTouch(db, account.id, NOW, 37);
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    // Before the run: touch (60 - 37) / 46 = 50; 20 days of a 14-day SLA = 100 * (2 - 20/14) = 57.1; mean 53.6.
    const before = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    expect(before?.components?.engagement.score).toBe(54);
    expect(before?.reasons).toContain('20 days in Onboarding, past its 14-day SLA');

    // Onboarding started 20 days ago: milestones due 15 and 6 days ago (reached 16 days ago and 3 days ago, late),
    // the third due tomorrow, the fourth in 25 days: 1 of 2 due on time = 50.
    const { run } = await startPlaybook(db, { accountId: account.id, playbookKey: 'onboarding', actor: admin, now: started });
    const [kickoff, setup] = await runTasksOf(db, run.id);
    expect([kickoff?.dueOn, setup?.dueOn]).toEqual([day(-15), day(-6)]);
    await completeTask(db, { taskId: kickoff!.id, actor: admin, now: daysBefore(NOW, 16) });
    await completeTask(db, { taskId: setup!.id, actor: admin, now: daysBefore(NOW, 3) });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const after = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    // Touch 50 and milestones 50: engagement 50. Both cost the same; the touch comes first in tie-break order.
    expect(after?.components?.engagement).toMatchObject({ score: 50, detail: 'last CSM touch 37 days ago; 1 of 2 onboarding milestones reached on time' });
    expect(after?.reasons).toEqual(['no CSM touch in 37 days', '1 of 2 onboarding milestones reached on time', 'no usage or support or NPS/CSAT data: scored on engagement']);

    const [progress] = await listOnboardingProgress(db, { reader: actorFromUser(manager), now: NOW, accountIds: [account.id] });
    expect(progress).toMatchObject({ milestonesDue: 2, milestonesOnTime: 1 });
    await expect(listOnboardingProgress(db, { reader: actorFromUser(csm), now: NOW })).rejects.toThrow(ForbiddenError);

    // A closed run no longer counts: back to the SLA.
    await closePlaybookRun(db, { runId: run.id, reason: 'Restarting onboarding', actor: admin, now: NOW });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    expect((await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW }))?.components?.engagement.score).toBe(54);
  });
});

describe('playbooks over GraphQL', () => {
  it('admins define and edit, anyone who reads lists them; runs start and close by mutation, show on the account with their tasks, and filter tasks', async () => {
    const { db } = database;
    const { request } = createGraphqlClient(db);
    const csm = await csmReportingTo(db, manager);
    const ae = await createUser(db, { role: 'ae' });
    const account = await createAccount(db, { name: 'Kite Systems', csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption' });
    const [adminToken, csmToken, aeToken, managerToken] = await Promise.all([
      createToken(db, 'admin'),
      createToken(db, 'csm', csm),
      createToken(db, 'ae', ae),
      createToken(db, 'manager', manager),
    ]);

    const define = `mutation ($input: DefinePlaybookInput!) { definePlaybook(input: $input) { id key version triggers steps { position title ownerRole dueInDays suggestedStage { key } } } }`;
    const input = {
      key: 'gql_churn_save',
      name: 'Churn save',
      triggers: ['champion_left', 'health_critical'],
      steps: [
        { title: 'Find the new champion', ownerRole: 'csm', dueInDays: 3 },
        { title: 'Executive call', ownerRole: 'manager', dueInDays: 7, suggestedStageKey: 'early_adoption' },
      ],
    };
    const refused = await request(define, { input }, csmToken);
    expect(refused.body.errors?.[0]).toMatchObject({ message: 'Your role (csm) cannot define, edit or retire playbooks (ask an admin).', extensions: { code: 'FORBIDDEN' } });
    const defined = await request(define, { input }, adminToken);
    expect(defined.body.errors).toBeUndefined();
    const playbook = defined.body.data?.definePlaybook as { id: string; version: number };
    expect(defined.body.data?.definePlaybook).toMatchObject({
      key: 'gql_churn_save',
      version: 1,
      triggers: ['champion_left', 'health_critical'],
      steps: [
        { position: 1, title: 'Find the new champion', ownerRole: 'csm', dueInDays: 3, suggestedStage: null },
        { position: 2, title: 'Executive call', ownerRole: 'manager', dueInDays: 7, suggestedStage: { key: 'early_adoption' } },
      ],
    });
    const badStep = await request(define, { input: { ...input, key: 'gql_bad', steps: [{ title: 'x', ownerRole: 'csm', dueInDays: -1 }] } }, adminToken);
    expect(badStep.body.errors?.[0]).toMatchObject({ message: 'steps[0].dueInDays: must be 0 (the day the run starts) or more', extensions: { code: 'BAD_USER_INPUT', field: 'steps[0].dueInDays' } });

    const update = `mutation ($id: ID!, $v: Int!) { updatePlaybook(playbookId: $id, expectedVersion: $v, input: { name: "Churn save (v2)" }) { name version } }`;
    expect((await request(update, { id: playbook.id, v: 1 }, adminToken)).body.data?.updatePlaybook).toEqual({ name: 'Churn save (v2)', version: 2 });
    expect((await request(update, { id: playbook.id, v: 1 }, adminToken)).body.errors?.[0]?.extensions).toMatchObject({ code: 'STALE_VERSION' });

    const list = await request('{ playbooks { key } }', {}, aeToken);
    expect((list.body.data?.playbooks as { key: string }[]).map((p) => p.key)).toContain('gql_churn_save');

    const start = `mutation ($account: ID!, $key: String) { startPlaybook(accountId: $account, playbookKey: $key) { id status trigger playbookName openTaskCount taskCount tasks { title owner { id } dueOn playbookName } } }`;
    const notTheirs = await request(start, { account: account.id, key: 'gql_churn_save' }, aeToken);
    expect(notTheirs.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const started = await request(start, { account: account.id, key: 'gql_churn_save' }, csmToken);
    expect(started.body.errors).toBeUndefined();
    const run = started.body.data?.startPlaybook as { id: string };
    expect(started.body.data?.startPlaybook).toMatchObject({
      status: 'running',
      trigger: 'manual',
      playbookName: 'Churn save (v2)',
      openTaskCount: 2,
      taskCount: 2,
      tasks: [
        { title: 'Find the new champion', owner: { id: csm.id }, dueOn: day(3, new Date()), playbookName: 'Churn save (v2)' },
        { title: 'Executive call', owner: { id: manager.id }, dueOn: day(7, new Date()), playbookName: 'Churn save (v2)' },
      ],
    });
    const twice = await request(start, { account: account.id, key: 'gql_churn_save' }, managerToken);
    expect(twice.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'playbookId' } });
    expect(String(twice.body.errors?.[0]?.message)).toMatch(/^“Churn save \(v2\)” is already running for Kite Systems since/);

    const onAccount = await request(
      'query ($id: ID!) { account(id: $id) { playbookRuns(runningOnly: true) { id playbook { key } tasks { title } } } }',
      { id: account.id },
      aeToken,
    );
    expect(onAccount.body.data?.account).toEqual({
      playbookRuns: [{ id: run.id, playbook: { key: 'gql_churn_save' }, tasks: [{ title: 'Find the new champion' }, { title: 'Executive call' }] }],
    });
    const filtered = await request('query ($p: ID!) { tasks(filter: { playbookId: $p }) { totalCount edges { node { title } } } }', { p: playbook.id }, managerToken);
    expect(filtered.body.data?.tasks).toMatchObject({ totalCount: 2 });
    const badFilter = await request('{ tasks(filter: { playbookId: "nope" }) { totalCount } }', {}, managerToken);
    expect(badFilter.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'playbookId' } });

    const close = `mutation ($run: ID!, $reason: String!) { closePlaybookRun(runId: $run, reason: $reason) { status closedReason closedBy { id } openTaskCount } }`;
    expect((await request(close, { run: run.id, reason: 'Champion stayed' }, aeToken)).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const closed = await request(close, { run: run.id, reason: 'Champion stayed' }, managerToken);
    expect(closed.body.data?.closePlaybookRun).toEqual({ status: 'closed', closedReason: 'Champion stayed', closedBy: { id: manager.id }, openTaskCount: 0 });

    const retire = `mutation ($id: ID!) { retirePlaybook(playbookId: $id) { retiredAt } }`;
    expect((await request(retire, { id: playbook.id }, managerToken)).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await request(retire, { id: playbook.id }, adminToken)).body.data?.retirePlaybook).toEqual({ retiredAt: expect.any(String) });
    const active = await request('{ playbooks { key } all: playbooks(includeRetired: true) { key } }', {}, csmToken);
    expect((active.body.data?.playbooks as { key: string }[]).map((p) => p.key)).not.toContain('gql_churn_save');
    expect((active.body.data?.all as { key: string }[]).map((p) => p.key)).toContain('gql_churn_save');
  });

  it("a manager sees each onboarding account's milestones; a CSM is told to ask one", async () => {
    const { db } = database;
    const { request } = createGraphqlClient(db);
    const csm = await csmReportingTo(db, manager);
    const account = await createAccount(db, { name: 'Finch Health', csmId: csm.id, stageKey: 'onboarding' });
    // Started 10 days ago: the kickoff was due 5 days ago and reached 6 days ago; the rest are not due yet.
    const startedAt = daysBefore(new Date(), 10);
    const { run } = await startPlaybook(db, { accountId: account.id, playbookKey: 'onboarding', actor: admin, now: startedAt });
    const [kickoff] = await runTasksOf(db, run.id);
    await completeTask(db, { taskId: kickoff!.id, actor: admin, now: daysBefore(new Date(), 6) });
    const query = `query ($csm: ID) { onboardingProgress(csmId: $csm) { account { name } milestonesDue milestonesOnTime onTimeShare milestones { reachedOnTime task { title state } } } }`;
    const seen = await request(query, { csm: csm.id }, await createToken(db, 'manager', manager));
    expect(seen.body.errors).toBeUndefined();
    expect(seen.body.data?.onboardingProgress).toEqual([
      {
        account: { name: 'Finch Health' },
        milestonesDue: 1,
        milestonesOnTime: 1,
        onTimeShare: 1,
        milestones: [
          { reachedOnTime: true, task: { title: 'Hold the kickoff with the champion and agree the success plan', state: 'done' } },
          { reachedOnTime: false, task: { title: 'Complete the technical setup with the customer’s admin', state: 'open' } },
          { reachedOnTime: false, task: { title: 'Get the customer to their first key action', state: 'open' } },
          { reachedOnTime: false, task: { title: 'Reach first value: the key workflow runs in production', state: 'open' } },
        ],
      },
    ]);
    const asCsm = await request(query, { csm: csm.id }, await createToken(db, 'csm', csm));
    expect(asCsm.body.errors?.[0]).toMatchObject({ message: 'Your role (csm) cannot read metrics (managers and admins can).', extensions: { code: 'FORBIDDEN' } });
    const tasksOfPlaybook = await listTasks(db, { reader: systemReader, now: new Date(), filter: { playbookRunId: run.id } });
    expect(tasksOfPlaybook.items.map((item) => item.playbookName)).toEqual(['Onboarding', 'Onboarding', 'Onboarding', 'Onboarding']);
    expect(await db.select().from(tasks).where(inArray(tasks.playbookRunId, [run.id]))).toHaveLength(4);
  });
});
