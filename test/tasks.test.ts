import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/client.ts';
import { type User, outbox, ruleFirings, taskEvents, tasks, users } from '../db/schema.ts';
import { type Actor, actorFromUser, systemReader } from '../domain/actors.ts';
import { queueDailyDigest } from '../domain/digest.ts';
import { ForbiddenError, InvalidInputError, StaleVersionError } from '../domain/errors.ts';
import {
  completeTask,
  createTask,
  getTask,
  isOverdue,
  listDueTasks,
  listTasks,
  queueOverdueTasks,
  reassignTask,
  snoozeTask,
  taskState,
} from '../domain/plays/tasks.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { runRules } from '../domain/rules.ts';
import { DAY_MS, isoDay } from '../domain/dates.ts';
import { daysBefore } from './support/signals.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const TODAY = isoDay(NOW);
const day = (offset: number) => isoDay(new Date(NOW.getTime() + offset * DAY_MS));

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.destroy();
});

async function reportsTo(person: User, manager: User) {
  await database.db.update(users).set({ managerId: manager.id }).where(eq(users.id, person.id));
}

async function taskRowsOf(db: Db, accountId: string) {
  return db.select().from(tasks).where(eq(tasks.accountId, accountId));
}

/** An onboarding account nine days in with no key action: the no_first_key_action rule fires for it. */
async function silentOnboarding(db: Db, owners: { csmId?: string | null; aeId?: string | null }) {
  return createAccount(db, { stageKey: 'onboarding', enteredAt: daysBefore(NOW, 9), csmId: owners.csmId ?? null, aeId: owners.aeId ?? null });
}

describe('tasks created by triggers', () => {
  it('a rule firing gives the CSM one task, linked to the firing, however often the rules run', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm', name: 'Cara' });
    const account = await silentOnboarding(db, { csmId: csm.id });

    await runRules(db, { now: NOW });
    await runRules(db, { now: new Date(NOW.getTime() + 3_600_000) });
    await Promise.all([runRules(db, { now: NOW }), runRules(db, { now: NOW })]);

    const rows = await taskRowsOf(db, account.id);
    expect(rows).toHaveLength(1);
    const [firing] = await db.select().from(ruleFirings).where(and(eq(ruleFirings.accountId, account.id), eq(ruleFirings.rule, 'no_first_key_action')));
    expect(rows[0]).toMatchObject({
      ownerId: csm.id,
      source: 'rule_firing',
      ruleFiringId: firing?.id,
      occasion: `rule_firing:${firing?.id}`,
      title: 'Get the customer to their first key action',
      dueOn: day(3),
      status: 'open',
      createdBy: null,
    });
    const item = await getTask(db, { id: rows[0]?.id ?? '', reader: actorFromUser(csm) });
    expect(item?.firing).toMatchObject({ rule: 'no_first_key_action', reason: firing?.reason });
    const history = await db.select().from(taskEvents).where(eq(taskEvents.taskId, rows[0]?.id ?? ''));
    expect(history.map((event) => [event.kind, event.actorLabel])).toEqual([['created', 'Lifeline rules']]);
  });

  it("an account without a CSM gives the task to its account executive; one with nobody creates none (the channel alert stays)", async () => {
    const { db } = database;
    const ae = await createUser(db, { role: 'ae' });
    const soldOnly = await silentOnboarding(db, { aeId: ae.id });
    const nobody = await silentOnboarding(db, {});
    await runRules(db, { now: NOW });
    expect((await taskRowsOf(db, soldOnly.id)).map((row) => row.ownerId)).toEqual([ae.id]);
    expect(await taskRowsOf(db, nobody.id)).toHaveLength(0);
  });

  // The 90-day checkpoint starts the default renewal playbook instead (test/playbooks.test.ts); 180 days has none.
  it('a renewal checkpoint no playbook covers gives the CSM the task of that checkpoint, once', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { stageKey: 'mature_adoption', csmId: csm.id, contractEnd: day(170) });
    await runRenewals(db, { now: NOW });
    await runRenewals(db, { now: NOW });
    const rows = await taskRowsOf(db, account.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: 'renewal_checkpoint', title: 'Renewal in six months: check the value story and the stakeholders', dueOn: day(14), ownerId: csm.id });
    expect(rows[0]?.renewalId).toEqual(expect.any(String));
  });
});

describe('acting on a task', () => {
  it('the owner marks it done with an outcome note; doing it again says who already did', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm', name: 'Dana' });
    const account = await createAccount(db, { csmId: csm.id });
    const task = await createTask(db, { accountId: account.id, title: 'Call the champion', dueOn: day(2), actor: actorFromUser(csm), now: NOW });
    const done = await completeTask(db, { taskId: task.id, outcomeNote: 'Agreed a usage review', actor: actorFromUser(csm), now: NOW });
    expect(done).toMatchObject({ status: 'done', completedBy: csm.id, completedAt: NOW, outcomeNote: 'Agreed a usage review', version: 2 });
    const again = completeTask(db, { taskId: task.id, actor: actorFromUser(csm), now: NOW });
    await expect(again).rejects.toThrow(InvalidInputError);
    await expect(again).rejects.toThrow(`“Call the champion” was already marked done by Dana on ${TODAY}, so there is nothing to mark done.`);
    await expect(snoozeTask(db, { taskId: task.id, days: 1, actor: actorFromUser(csm), now: NOW })).rejects.toThrow('already marked done');
  });

  it('a snoozed task leaves the open list until its snooze ends, then is open (and overdue) again without a write', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { csmId: csm.id });
    const actor = actorFromUser(csm);
    const task = await createTask(db, { accountId: account.id, title: 'Send the QBR deck', dueOn: TODAY, actor, now: NOW });
    const snoozed = await snoozeTask(db, { taskId: task.id, days: 7, actor, now: NOW });
    expect(taskState(snoozed, NOW)).toBe('snoozed');
    const open = (at: Date) => listTasks(db, { reader: actor, now: at, filter: { ownerId: csm.id, state: 'open' } });
    expect((await open(NOW)).items).toHaveLength(0);
    const later = new Date(NOW.getTime() + 8 * DAY_MS);
    expect(taskState(snoozed, later)).toBe('open');
    expect(isOverdue(snoozed, later)).toBe(true);
    expect((await open(later)).items.map((item) => item.task.id)).toEqual([task.id]);
    expect((await listDueTasks(db, { reader: actor, ownerId: csm.id, now: later })).map((item) => item.task.id)).toEqual([task.id]);
  });

  it('refuses a snooze that does not end in the future or lasts over a year', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { csmId: csm.id });
    const actor = actorFromUser(csm);
    const task = await createTask(db, { accountId: account.id, title: 'Check in', dueOn: TODAY, actor, now: NOW });
    await expect(snoozeTask(db, { taskId: task.id, until: new Date(NOW.getTime() - 1000), actor, now: NOW })).rejects.toThrow('A snooze must end in the future');
    await expect(snoozeTask(db, { taskId: task.id, days: 400, actor, now: NOW })).rejects.toThrow('at most 365 days');
  });

  it('reassigning tells the new owner by DM; a viewer cannot own a task, nor can the same person get it twice', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const other = await createUser(db, { role: 'csm', name: 'Eli' });
    const viewer = await createUser(db, { role: 'viewer', name: 'Vic' });
    const account = await createAccount(db, { csmId: csm.id });
    const actor = actorFromUser(csm);
    const task = await createTask(db, { accountId: account.id, title: 'Plan the QBR', dueOn: day(5), actor, now: NOW });
    const moved = await reassignTask(db, { taskId: task.id, ownerId: other.id, actor, now: NOW });
    expect(moved.ownerId).toBe(other.id);
    const dms = await db.select().from(outbox).where(eq(outbox.kind, 'task_assigned'));
    expect(dms.filter((row) => row.payload.taskId === task.id).map((row) => row.target)).toEqual([`user:${other.id}`]);
    await expect(reassignTask(db, { taskId: task.id, ownerId: viewer.id, actor, now: NOW })).rejects.toThrow('Vic is a viewer and cannot own tasks');
    await expect(reassignTask(db, { taskId: task.id, ownerId: other.id, actor, now: NOW })).rejects.toThrow('already belongs to Eli');
    const history = await db.select().from(taskEvents).where(eq(taskEvents.taskId, task.id));
    expect(history.map((event) => event.kind)).toEqual(['created', 'reassigned']);
    expect(history[1]?.detail).toEqual({ fromOwnerId: csm.id, toOwnerId: other.id });
  });

  it('refuses a change made on a stale version', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { csmId: csm.id });
    const actor = actorFromUser(csm);
    const task = await createTask(db, { accountId: account.id, title: 'Renewal prep', dueOn: day(5), actor, now: NOW });
    await snoozeTask(db, { taskId: task.id, days: 1, actor, now: NOW });
    await expect(completeTask(db, { taskId: task.id, expectedVersion: 1, actor, now: NOW })).rejects.toThrow(StaleVersionError);
  });
});

describe('who may act on a task', () => {
  it('the owner, the account’s CSM, their manager and admins may; another CSM, an AE on someone else’s task and a viewer are told why', async () => {
    const { db } = database;
    const manager = await createUser(db, { role: 'manager', name: 'Mia' });
    const otherManager = await createUser(db, { role: 'manager', name: 'Oz' });
    const csm = await createUser(db, { role: 'csm', name: 'Cy' });
    const otherCsm = await createUser(db, { role: 'csm', name: 'Olu' });
    const ae = await createUser(db, { role: 'ae', name: 'Abe' });
    const viewer = await createUser(db, { role: 'viewer' });
    await reportsTo(csm, manager);
    await reportsTo(otherCsm, otherManager);
    const account = await createAccount(db, { csmId: csm.id, aeId: ae.id, name: 'Rights Co' });
    const fresh = () => createTask(db, { accountId: account.id, title: 'Rights task', dueOn: day(5), actor: actorFromUser(csm), now: NOW });

    for (const [who, message] of [
      [otherCsm, 'Only the task\'s owner, Rights Co\'s own CSM, their manager or an admin can mark done “Rights task”.'],
      [ae, 'Account executives can mark done only the tasks assigned to them'],
      [viewer, 'Your role (viewer) cannot mark done tasks.'],
      [otherManager, 'Managers can mark done tasks only for accounts whose CSM or account executive reports to them'],
    ] as const) {
      const task = await fresh();
      await expect(completeTask(db, { taskId: task.id, actor: actorFromUser(who), now: NOW })).rejects.toThrow(ForbiddenError);
      await expect(completeTask(db, { taskId: task.id, actor: actorFromUser(who), now: NOW })).rejects.toThrow(message);
      expect((await db.select().from(tasks).where(eq(tasks.id, task.id)))[0]?.status).toBe('open');
    }
    const admin: Actor = { userId: null, role: 'admin', label: 'Admin token' };
    for (const who of [actorFromUser(csm), actorFromUser(manager), admin]) {
      const task = await fresh();
      expect((await completeTask(db, { taskId: task.id, actor: who, now: NOW })).status).toBe('done');
    }
    // An AE acts on a task given to them.
    const given = await fresh();
    await reassignTask(db, { taskId: given.id, ownerId: ae.id, actor: actorFromUser(csm), now: NOW });
    expect((await completeTask(db, { taskId: given.id, actor: actorFromUser(ae), now: NOW })).completedBy).toBe(ae.id);
  });

  it('an AE reads the tasks of the accounts they sold and the tasks given to them, and no others', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const ae = await createUser(db, { role: 'ae' });
    const sold = await createAccount(db, { csmId: csm.id, aeId: ae.id });
    const notSold = await createAccount(db, { csmId: csm.id });
    const actor = actorFromUser(csm);
    const onSold = await createTask(db, { accountId: sold.id, title: 'On sold', dueOn: day(1), actor, now: NOW });
    const hidden = await createTask(db, { accountId: notSold.id, title: 'Hidden', dueOn: day(1), actor, now: NOW });
    const givenToAe = await createTask(db, { accountId: notSold.id, title: 'Given', dueOn: day(1), ownerId: ae.id, actor, now: NOW });
    const reader = actorFromUser(ae);
    const seen = await listTasks(db, { reader, now: NOW, filter: { accountId: null } });
    const ids = seen.items.map((item) => item.task.id);
    expect(ids).toContain(onSold.id);
    expect(ids).toContain(givenToAe.id);
    expect(ids).not.toContain(hidden.id);
    expect(await getTask(db, { id: hidden.id, reader })).toBeUndefined();
    expect((await getTask(db, { id: givenToAe.id, reader }))?.task.id).toBe(givenToAe.id);
    await expect(listTasks(db, { reader: { userId: null, role: 'integration', label: 'CRM' }, now: NOW })).rejects.toThrow(ForbiddenError);
  });

  it('a CSM adds tasks on their own accounts only; an AE only for themselves', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const otherCsm = await createUser(db, { role: 'csm' });
    const ae = await createUser(db, { role: 'ae' });
    const account = await createAccount(db, { csmId: csm.id, aeId: ae.id, name: 'Adders Co' });
    await expect(createTask(db, { accountId: account.id, title: 'x', dueOn: day(1), actor: actorFromUser(otherCsm), now: NOW })).rejects.toThrow(
      "Only Adders Co's own CSM, its account executive, a manager or an admin can add tasks to it.",
    );
    await expect(createTask(db, { accountId: account.id, title: 'x', dueOn: day(1), ownerId: csm.id, actor: actorFromUser(ae), now: NOW })).rejects.toThrow(
      'Account executives add tasks for themselves only.',
    );
    expect((await createTask(db, { accountId: account.id, title: 'Mine', dueOn: day(1), actor: actorFromUser(ae), now: NOW })).ownerId).toBe(ae.id);
    await expect(createTask(db, { accountId: account.id, title: '  ', dueOn: day(1), actor: actorFromUser(csm), now: NOW })).rejects.toThrow('Give the task a title');
    await expect(createTask(db, { accountId: account.id, title: 'Past', dueOn: day(-1), actor: actorFromUser(csm), now: NOW })).rejects.toThrow('has passed');
  });
});

describe('overdue tasks escalate once', () => {
  it("to the owner's manager, to every manager when the owner reports to nobody, and never twice", async () => {
    const isolated = await createTestDatabase();
    try {
      const idb = isolated.db;
      const ruth = await createUser(idb, { role: 'manager', name: 'Ruth' });
      const omar = await createUser(idb, { role: 'manager', name: 'Omar' });
      const ivy = await createUser(idb, { role: 'csm', name: 'Ivy' });
      const noah = await createUser(idb, { role: 'csm', name: 'Noah' });
      await idb.update(users).set({ managerId: ruth.id }).where(eq(users.id, ivy.id));
      const a = await createAccount(idb, { csmId: ivy.id });
      const b = await createAccount(idb, { csmId: noah.id });
      const created = new Date(NOW.getTime() - 5 * DAY_MS);
      const late = await createTask(idb, { accountId: a.id, title: 'Late', dueOn: isoDay(created), actor: actorFromUser(ivy), now: created });
      const lateToo = await createTask(idb, { accountId: b.id, title: 'Late too', dueOn: isoDay(created), actor: actorFromUser(noah), now: created });
      const dueToday = await createTask(idb, { accountId: a.id, title: 'Today', dueOn: TODAY, actor: actorFromUser(ivy), now: NOW });
      const snoozed = await createTask(idb, { accountId: a.id, title: 'Snoozed', dueOn: isoDay(created), actor: actorFromUser(ivy), now: created });
      await snoozeTask(idb, { taskId: snoozed.id, days: 7, actor: actorFromUser(ivy), now: created });

      expect(await queueOverdueTasks(idb, { now: NOW })).toEqual({ overdueTasks: 2 });
      expect(await queueOverdueTasks(idb, { now: new Date(NOW.getTime() + 3_600_000) })).toEqual({ overdueTasks: 0 });
      const rows = await idb.select().from(outbox).where(eq(outbox.kind, 'task_overdue'));
      const targetsOf = (taskId: string) => rows.filter((row) => row.payload.taskId === taskId).map((row) => row.target).sort();
      expect(targetsOf(late.id)).toEqual([`user:${ruth.id}`]);
      expect(targetsOf(lateToo.id)).toEqual([`user:${omar.id}`, `user:${ruth.id}`].sort());
      expect(targetsOf(dueToday.id)).toEqual([]);
      expect(targetsOf(snoozed.id)).toEqual([]);
      // Tomorrow, today's task is overdue and escalates; the others have been escalated already.
      expect(await queueOverdueTasks(idb, { now: new Date(NOW.getTime() + DAY_MS) })).toEqual({ overdueTasks: 1 });
    } finally {
      await isolated.destroy();
    }
  });

  it('goes to the at-risk channel when the workspace has no manager', async () => {
    const isolated = await createTestDatabase();
    try {
      const idb = isolated.db;
      const csm = await createUser(idb, { role: 'csm' });
      const account = await createAccount(idb, { csmId: csm.id });
      const created = new Date(NOW.getTime() - 3 * DAY_MS);
      const task = await createTask(idb, { accountId: account.id, title: 'Alone', dueOn: isoDay(created), actor: actorFromUser(csm), now: created });
      await queueOverdueTasks(idb, { now: NOW });
      const rows = await idb.select().from(outbox).where(eq(outbox.kind, 'task_overdue'));
      expect(rows.map((row) => [row.target, row.payload.taskId])).toEqual([['channel:at_risk', task.id]]);
    } finally {
      await isolated.destroy();
    }
  });
});

describe('the morning DM', () => {
  it('is queued for a person with tasks due today or overdue even when none of their accounts is at risk', async () => {
    const isolated = await createTestDatabase();
    try {
      const idb = isolated.db;
      const ae = await createUser(idb, { role: 'ae' });
      const idle = await createUser(idb, { role: 'csm' });
      const account = await createAccount(idb, { aeId: ae.id, csmId: idle.id });
      await createTask(idb, { accountId: account.id, title: 'Chase the order form', dueOn: TODAY, actor: actorFromUser(ae), now: NOW });
      await createTask(idb, { accountId: account.id, title: 'Later', dueOn: day(3), actor: actorFromUser(idle), now: NOW });
      const run = await queueDailyDigest(idb, { now: NOW });
      expect(run.csmDigests).toBe(1);
      const rows = await idb.select().from(outbox).where(eq(outbox.kind, 'at_risk_digest'));
      expect(rows.map((row) => [row.target, row.payload])).toEqual([[`user:${ae.id}`, { day: TODAY, csmId: ae.id }]]);
      expect((await listDueTasks(idb, { reader: systemReader, ownerId: ae.id, now: NOW })).map((item) => item.task.title)).toEqual(['Chase the order form']);
    } finally {
      await isolated.destroy();
    }
  });
});

describe('tasks over GraphQL', () => {
  const taskFields = 'id title state overdue dueOn version reason rule owner { id name } account { id name } history { kind actorLabel }';

  it('lists a page at a time with cursors, acts through mutations, and explains refusals with a code', async () => {
    const isolated = await createTestDatabase();
    try {
      const idb = isolated.db;
      const csm = await createUser(idb, { role: 'csm', name: 'Gia' });
      const otherCsm = await createUser(idb, { role: 'csm', name: 'Hal' });
      const account = await createAccount(idb, { csmId: csm.id, name: 'Graph Co' });
      const token = await createToken(idb, 'csm', csm);
      const otherToken = await createToken(idb, 'csm', otherCsm);
      const { request } = createGraphqlClient(idb);
      const dueOn = isoDay(new Date(Date.now() + 2 * DAY_MS));

      const ids: string[] = [];
      for (const title of ['First', 'Second', 'Third']) {
        const created = await request(`mutation($input: CreateTaskInput!) { createTask(input: $input) { ${taskFields} } }`, { input: { accountId: account.id, title, dueOn } }, token);
        expect(created.body.errors).toBeUndefined();
        ids.push(String((created.body.data?.createTask as { id: string }).id));
      }
      const page = (after: string | null) =>
        request(`query($after: String) { tasks(first: 2, after: $after, filter: { accountId: "${account.id}" }) { totalCount edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } }`, { after }, token);
      const first = (await page(null)).body.data?.tasks as { totalCount: number; edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
      expect(first.totalCount).toBe(3);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = (await page(first.pageInfo.endCursor)).body.data?.tasks as typeof first;
      expect([...first.edges, ...second.edges].map((edge) => edge.node.id).sort()).toEqual([...ids].sort());
      expect(second.pageInfo.hasNextPage).toBe(false);

      const refused = await request(`mutation { completeTask(taskId: "${ids[0]}") { id } }`, {}, otherToken);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(refused.body.errors?.[0]?.message).toContain('Only the task\'s owner, Graph Co\'s own CSM');

      const done = await request(`mutation { completeTask(taskId: "${ids[0]}", outcomeNote: "Champion called back", expectedVersion: 1) { ${taskFields} outcomeNote completedBy { name } } }`, {}, token);
      expect(done.body.data?.completeTask).toMatchObject({ state: 'done', outcomeNote: 'Champion called back', completedBy: { name: 'Gia' }, reason: 'Added by Gia', history: [{ kind: 'created' }, { kind: 'done', actorLabel: 'Gia' }] });

      const snoozed = await request(`mutation { snoozeTask(taskId: "${ids[1]}", days: 7) { state snoozedUntil } }`, {}, token);
      expect(snoozed.body.data?.snoozeTask).toMatchObject({ state: 'snoozed' });

      const reassigned = await request(`mutation { reassignTask(taskId: "${ids[2]}", ownerId: "${otherCsm.id}") { owner { name } } }`, {}, token);
      expect(reassigned.body.data?.reassignTask).toEqual({ owner: { name: 'Hal' } });

      const open = await request(`{ account(id: "${account.id}") { openTasks { title state } } }`, {}, token);
      // Both are due the same day, so their order is the id's: compared as a set.
      const openTasks = (open.body.data?.account as { openTasks: { title: string; state: string }[] }).openTasks;
      expect([...openTasks].sort((a, b) => a.title.localeCompare(b.title))).toEqual([{ title: 'Second', state: 'snoozed' }, { title: 'Third', state: 'open' }]);

      const badCursor = await request(`{ tasks(after: "nonsense") { totalCount } }`, {}, token);
      expect(badCursor.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
      const badDay = await request(`mutation { createTask(input: { accountId: "${account.id}", title: "x", dueOn: "2020-01-01" }) { id } }`, {}, token);
      expect(badDay.body.errors?.[0]?.message).toContain('The due day 2020-01-01 has passed; choose today or later.');
    } finally {
      await isolated.destroy();
    }
  });
});
