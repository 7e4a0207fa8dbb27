/**
 * Plays: tasks, the owned work every signal becomes. One account, one owner, a due day, a status, and the reason
 * it exists. This file owns creating (by a person, or once per occasion by a trigger), finishing, snoozing,
 * reassigning and cancelling a task, reading tasks as a reader may see them, and the once-per-task escalation of
 * overdue work.
 */
import { type SQL, and, asc, eq, gt, inArray, isNull, lt, lte, notExists, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import {
  type Account,
  type RuleFiring,
  type Task,
  type TaskEvent,
  type TaskEventKind,
  type TaskSource,
  accounts,
  playbookRuns,
  playbooks,
  ruleFirings,
  taskEvents,
  tasks,
  users,
} from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import { type Actor, ruleActor } from '../actors.ts';
import { addDays, isoDay } from '../dates.ts';
import { InvalidInputError, NotFoundError, StaleVersionError } from '../errors.ts';
import { allManagerIds, escalationManagers } from '../escalations.ts';
import { type NotificationTarget, atRiskChannelTarget, userTarget } from '../notifications.ts';
import { enqueueNotification } from '../outbox.ts';
import { type WebhookEventDraft, queueWebhookEvents } from '../webhooks.ts';
import { isUuid, parseInput } from '../validation.ts';
import { canReadTask, requireTaskCreateRights, requireTaskOwner, requireTaskRights } from './task-rights.ts';

export type { Task };

export const MAX_TASK_TITLE = 200;
export const MAX_OUTCOME_NOTE = 2000;
/** A snooze puts work aside, not away: at most this far ahead. */
export const MAX_SNOOZE_DAYS = 365;
export const MAX_TASK_PAGE = 100;

/** What a task is at `now`: a snooze that has run out makes it open again without anyone writing. */
export type TaskState = 'open' | 'snoozed' | 'done' | 'cancelled';

export function taskState(task: Pick<Task, 'status' | 'snoozedUntil'>, now: Date): TaskState {
  if (task.status === 'snoozed' && task.snoozedUntil !== null && task.snoozedUntil.getTime() <= now.getTime()) return 'open';
  return task.status;
}

/** Open and its due day has passed (a task due today is not overdue until tomorrow). */
export function isOverdue(task: Pick<Task, 'status' | 'snoozedUntil' | 'dueOn'>, now: Date): boolean {
  return taskState(task, now) === 'open' && task.dueOn < isoDay(now);
}

/** The same states in SQL, so listings and jobs agree with `taskState`. */
function stateIs(state: TaskState, now: Date): SQL {
  switch (state) {
    case 'open':
      return or(eq(tasks.status, 'open'), and(eq(tasks.status, 'snoozed'), lte(tasks.snoozedUntil, now))) as SQL;
    case 'snoozed':
      return and(eq(tasks.status, 'snoozed'), gt(tasks.snoozedUntil, now)) as SQL;
    default:
      return eq(tasks.status, state);
  }
}

/** `taskState(task, now) === 'open'` in SQL over the tasks table, for set-based reads (the team view). */
export function openTaskSql(now: Date): SQL {
  return stateIs('open', now);
}

/** `isOverdue` in SQL over the tasks table, for set-based reads (the team view counts each owner's overdue tasks). */
export function overdueSql(now: Date): SQL {
  return and(stateIs('open', now), lt(tasks.dueOn, isoDay(now))) as SQL;
}

/** A task as lists show it: with the names of its account and owner, and the firing that created it, if one did. */
export interface TaskItem {
  task: Task;
  accountName: string;
  ownerName: string;
  firing: Pick<RuleFiring, 'rule' | 'reason' | 'firedAt'> | null;
  /** The playbook whose run the task is a step of (`task.playbookRunId`), when a playbook created it. */
  playbookName: string | null;
}

const itemColumns = {
  task: tasks,
  accountName: accounts.name,
  ownerName: users.name,
  firing: { rule: ruleFirings.rule, reason: ruleFirings.reason, firedAt: ruleFirings.firedAt },
  playbookName: playbooks.name,
};

/** tasks with the account, the owner and the firing beside each: what every listing selects from. */
function selectItems(db: Db | Tx) {
  return db
    .select(itemColumns)
    .from(tasks)
    .innerJoin(accounts, eq(accounts.id, tasks.accountId))
    .innerJoin(users, eq(users.id, tasks.ownerId))
    .leftJoin(ruleFirings, eq(ruleFirings.id, tasks.ruleFiringId))
    .leftJoin(playbookRuns, eq(playbookRuns.id, tasks.playbookRunId))
    .leftJoin(playbooks, eq(playbooks.id, playbookRuns.playbookId));
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

export interface TaskFilter {
  ownerId?: string | null;
  accountId?: string | null;
  state?: TaskState | null;
  /** Due strictly before this day (YYYY-MM-DD): `tomorrow` lists what is due today and overdue. */
  dueBefore?: string | null;
  /** Tasks of the runs of this playbook. */
  playbookId?: string | null;
  /** Tasks of this one playbook run. */
  playbookRunId?: string | null;
}

export interface ListTasksParams {
  reader: Actor;
  now: Date;
  filter?: TaskFilter;
  first?: number;
  after?: string | null;
}

export interface TaskPage {
  items: TaskItem[];
  hasNextPage: boolean;
}

/** Tasks are listed soonest due first; the cursor is the last one's due day and id. */
export function taskCursor(task: Pick<Task, 'dueOn' | 'id'>): string {
  return Buffer.from(`${task.dueOn}|${task.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { dueOn: string; id: string } {
  const [dueOn, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!dueOn || !id || rest.length > 0 || !/^\d{4}-\d{2}-\d{2}$/.test(dueOn) || !isUuid(id)) {
    throw new InvalidInputError('`after` is not a cursor from this list. Pass the `endCursor` of the previous page, or leave it out to start over.', 'after');
  }
  return { dueOn, id };
}

const isoDaySchema = z.iso.date({ error: 'must be a day as YYYY-MM-DD' });

function filterConditions(params: { reader: Actor; now: Date; filter: TaskFilter }): SQL | undefined {
  const { filter, now } = params;
  const aeId = readableOwnerId(params.reader);
  if (filter.ownerId && !isUuid(filter.ownerId)) throw new InvalidInputError('`ownerId` must be a user id (a UUID).', 'ownerId');
  if (filter.accountId && !isUuid(filter.accountId)) throw new InvalidInputError('`accountId` must be an account id (a UUID).', 'accountId');
  if (filter.playbookId && !isUuid(filter.playbookId)) throw new InvalidInputError('`playbookId` must be a playbook id (a UUID) from the `playbooks` query.', 'playbookId');
  if (filter.playbookRunId && !isUuid(filter.playbookRunId)) throw new InvalidInputError('`playbookRunId` must be a playbook run id (a UUID).', 'playbookRunId');
  const dueBefore = filter.dueBefore ? parseInput(isoDaySchema, filter.dueBefore, 'dueBefore') : null;
  return and(
    filter.ownerId ? eq(tasks.ownerId, filter.ownerId) : undefined,
    filter.accountId ? eq(tasks.accountId, filter.accountId) : undefined,
    filter.state ? stateIs(filter.state, now) : undefined,
    dueBefore ? lt(tasks.dueOn, dueBefore) : undefined,
    filter.playbookId ? sql`${tasks.playbookRunId} in (select r.id from playbook_runs r where r.playbook_id = ${filter.playbookId})` : undefined,
    filter.playbookRunId ? eq(tasks.playbookRunId, filter.playbookRunId) : undefined,
    // SECURITY: an account executive reads the tasks of the accounts they sold and the tasks given to them.
    aeId ? or(eq(tasks.ownerId, aeId), eq(accounts.aeId, aeId)) : undefined,
  );
}

/** Tasks the reader may see, soonest due first, a page at a time. */
export async function listTasks(db: Db | Tx, params: ListTasksParams): Promise<TaskPage> {
  const first = Math.min(Math.max(params.first ?? 25, 1), MAX_TASK_PAGE);
  const where = filterConditions({ reader: params.reader, now: params.now, filter: params.filter ?? {} });
  const after = params.after ? decodeCursor(params.after) : null;
  const rows = await selectItems(db)
    .where(and(where, after ? or(gt(tasks.dueOn, after.dueOn), and(eq(tasks.dueOn, after.dueOn), gt(tasks.id, after.id))) : undefined))
    .orderBy(asc(tasks.dueOn), asc(tasks.id))
    .limit(first + 1);
  return { items: rows.slice(0, first), hasNextPage: rows.length > first };
}

export async function countTasks(db: Db | Tx, params: { reader: Actor; now: Date; filter?: TaskFilter }): Promise<number> {
  const where = filterConditions({ reader: params.reader, now: params.now, filter: params.filter ?? {} });
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(tasks)
    .innerJoin(accounts, eq(accounts.id, tasks.accountId))
    .where(where);
  return row?.count ?? 0;
}

/** A person's unfinished work for the morning: open tasks due today or earlier, soonest first. */
export async function listDueTasks(db: Db | Tx, params: { reader: Actor; ownerId: string; now: Date; limit?: number }): Promise<TaskItem[]> {
  const page = await listTasks(db, {
    reader: params.reader,
    now: params.now,
    filter: { ownerId: params.ownerId, state: 'open', dueBefore: isoDay(addDays(params.now, 1)) },
    first: params.limit ?? MAX_TASK_PAGE,
  });
  return page.items;
}

/** One task, when the reader may see it; undefined when there is none (or it is not theirs to see). */
export async function getTask(db: Db | Tx, params: { id: string; reader: Actor }): Promise<TaskItem | undefined> {
  if (!isUuid(params.id)) return undefined;
  const [row] = await db
    .select({ ...itemColumns, accountAeId: accounts.aeId })
    .from(tasks)
    .innerJoin(accounts, eq(accounts.id, tasks.accountId))
    .innerJoin(users, eq(users.id, tasks.ownerId))
    .leftJoin(ruleFirings, eq(ruleFirings.id, tasks.ruleFiringId))
    .leftJoin(playbookRuns, eq(playbookRuns.id, tasks.playbookRunId))
    .leftJoin(playbooks, eq(playbooks.id, playbookRuns.playbookId))
    .where(eq(tasks.id, params.id));
  if (!row || !canReadTask(params.reader, row.task, { aeId: row.accountAeId })) return undefined;
  const { accountAeId: _ae, ...item } = row;
  return item;
}

/** The open tasks on each account (the account card, GraphQL `Account.tasks`), soonest due first. */
export async function listOpenTasksByAccountIds(db: Db | Tx, params: { accountIds: readonly string[]; reader: Actor }): Promise<TaskItem[]> {
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  const aeId = readableOwnerId(params.reader);
  return selectItems(db)
    .where(and(inArray(tasks.accountId, ids), inArray(tasks.status, ['open', 'snoozed']), aeId ? or(eq(tasks.ownerId, aeId), eq(accounts.aeId, aeId)) : undefined))
    .orderBy(asc(tasks.dueOn), asc(tasks.id));
}

/** Every task of these playbook runs the reader may see, in step order (their due days), done and cancelled ones included. */
export async function listTasksByRunIds(db: Db | Tx, params: { runIds: readonly string[]; reader: Actor }): Promise<TaskItem[]> {
  const ids = params.runIds.filter(isUuid);
  if (ids.length === 0) return [];
  const aeId = readableOwnerId(params.reader);
  return selectItems(db)
    .where(and(inArray(tasks.playbookRunId, ids), aeId ? or(eq(tasks.ownerId, aeId), eq(accounts.aeId, aeId)) : undefined))
    .orderBy(asc(tasks.dueOn), asc(tasks.createdAt), asc(tasks.id));
}

/** What happened to a task, oldest first, when the reader may see the task. */
export async function listTaskEvents(db: Db | Tx, params: { taskId: string; reader: Actor }): Promise<TaskEvent[]> {
  if (!(await getTask(db, { id: params.taskId, reader: params.reader }))) return [];
  return db.select().from(taskEvents).where(eq(taskEvents.taskId, params.taskId)).orderBy(asc(taskEvents.id));
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

async function recordEvent(tx: Tx, task: Pick<Task, 'id'>, kind: TaskEventKind, actor: Actor, now: Date, detail: Record<string, unknown> = {}): Promise<void> {
  await tx.insert(taskEvents).values({ taskId: task.id, kind, actorId: actor.userId, actorLabel: actor.label, detail, occurredAt: now });
}

type TaskEventType = 'task.created' | 'task.completed' | 'task.reassigned';

/** The task's events for webhook endpoints, queued in the change's transaction. */
async function announceTasks(tx: Tx, type: TaskEventType, changed: readonly Task[], actor: Actor, now: Date, extra: { outcomeNote?: string | null; previousOwnerId?: string } = {}): Promise<void> {
  if (changed.length === 0) return;
  const names = new Map(
    (await tx.select({ id: accounts.id, name: accounts.name }).from(accounts).where(inArray(accounts.id, [...new Set(changed.map((task) => task.accountId))]))).map((row) => [row.id, row.name]),
  );
  const events = changed.map((task): WebhookEventDraft => {
    const base = {
      taskId: task.id,
      accountId: task.accountId,
      accountName: names.get(task.accountId) ?? '',
      title: task.title,
      ownerId: task.ownerId,
      dueOn: task.dueOn,
      source: task.source,
      status: task.status,
      actor: { userId: actor.userId, label: actor.label },
    };
    const occasion = `${task.id}:v${task.version}`;
    if (type === 'task.completed') return { type, occasion, at: now, data: { ...base, outcomeNote: extra.outcomeNote ?? null } };
    if (type === 'task.reassigned') return { type, occasion, at: now, data: { ...base, previousOwnerId: extra.previousOwnerId ?? '' } };
    return { type, occasion, at: now, data: base };
  });
  await queueWebhookEvents(tx, events);
}

export async function notifyOwner(tx: Tx, task: Pick<Task, 'id' | 'ownerId' | 'version'>): Promise<void> {
  await enqueueNotification(tx, {
    kind: 'task_assigned',
    dedupeKey: `task_assigned:${task.id}:${task.version}`,
    target: userTarget(task.ownerId),
    payload: { taskId: task.id },
  });
}

const titleSchema = z.string().trim().min(1, 'Give the task a title: what should be done?').max(MAX_TASK_TITLE, `Keep the title under ${MAX_TASK_TITLE} characters; put detail in the outcome note.`);

const createSchema = z.object({
  accountId: z.string().refine(isUuid, 'must be an account id (a UUID)'),
  title: titleSchema,
  dueOn: isoDaySchema,
  ownerId: z.string().refine(isUuid, 'must be a user id (a UUID)').optional(),
});

export type CreateTaskParams = z.input<typeof createSchema> & { actor: Actor; now: Date };

/** A person adds a task (for themselves by default); the owner hears about it when it is someone else. */
export async function createTask(db: Db, params: CreateTaskParams): Promise<Task> {
  const input = parseInput(createSchema, params);
  const ownerId = input.ownerId ?? params.actor.userId;
  return db.transaction(async (tx) => {
    const [account] = await tx.select().from(accounts).where(eq(accounts.id, input.accountId));
    if (!account) throw new NotFoundError('That account no longer exists in Lifeline.', 'accountId');
    // Who may add comes first: someone who may not add a task hears that, not what is wrong with their input.
    await requireTaskCreateRights(tx, { actor: params.actor, account, ownerId });
    if (!ownerId) throw new InvalidInputError('This token acts for no person, so say who owns the task with `ownerId`.', 'ownerId');
    if (input.dueOn < isoDay(params.now)) throw new InvalidInputError(`The due day ${input.dueOn} has passed; choose today or later.`, 'dueOn');
    const [owner] = await tx.select().from(users).where(eq(users.id, ownerId));
    requireTaskOwner(owner);
    const [task] = await tx
      .insert(tasks)
      .values({ accountId: account.id, ownerId, title: input.title, source: 'person', createdBy: params.actor.userId, dueOn: input.dueOn, createdAt: params.now, updatedAt: params.now })
      .returning();
    if (!task) throw new Error('Creating the task wrote nothing');
    await recordEvent(tx, task, 'created', params.actor, params.now, { ownerId });
    if (ownerId !== params.actor.userId) await notifyOwner(tx, task);
    await announceTasks(tx, 'task.created', [task], params.actor, params.now);
    return task;
  });
}

interface TaskChange {
  taskId: string;
  actor: Actor;
  now: Date;
  /** The version the person acted on; a newer change since is refused rather than overwritten. */
  expectedVersion?: number | null;
}

/**
 * Loads the task for a change, locked, and refuses what cannot be done to it: a task that is gone, a stale
 * version, a task already finished, or a person who may not act on it.
 */
async function taskForChange(tx: Tx, change: TaskChange, action: TaskAction): Promise<{ task: Task; account: Account }> {
  const [row] = isUuid(change.taskId)
    ? await tx.select({ task: tasks, account: accounts }).from(tasks).innerJoin(accounts, eq(accounts.id, tasks.accountId)).where(eq(tasks.id, change.taskId)).for('update', { of: tasks })
    : [];
  if (!row) throw new NotFoundError('That task no longer exists in Lifeline.', 'taskId');
  const { task, account } = row;
  await requireTaskRights(tx, { actor: change.actor, task, account, action });
  if (task.status === 'done' || task.status === 'cancelled') {
    const by = task.status === 'done' ? task.completedBy : task.cancelledBy;
    const [person] = by ? await tx.select({ name: users.name }).from(users).where(eq(users.id, by)) : [];
    const when = isoDay((task.status === 'done' ? task.completedAt : task.cancelledAt) ?? change.now);
    throw new InvalidInputError(`“${task.title}” was already ${task.status === 'done' ? 'marked done' : 'cancelled'}${person ? ` by ${person.name}` : ''} on ${when}, so there is nothing to ${action}.`, 'taskId');
  }
  if (change.expectedVersion != null && change.expectedVersion !== task.version) {
    throw new StaleVersionError(`“${task.title}” changed since you looked (version ${task.version}, you had ${change.expectedVersion}). Reload it and try again.`, task.version);
  }
  return { task, account };
}

export type TaskAction = 'mark done' | 'snooze' | 'reassign' | 'cancel';

/**
 * The task a person is about to change, with the same refusals the change itself gives (gone, finished, stale, not
 * theirs to act on), so a surface can say why before it asks for more (a form) rather than after.
 */
export async function getTaskToChange(db: Db, params: TaskChange & { action: TaskAction }): Promise<TaskItem> {
  await db.transaction((tx) => taskForChange(tx, params, params.action));
  const item = await getTask(db, { id: params.taskId, reader: params.actor });
  if (!item) throw new NotFoundError('That task no longer exists in Lifeline.', 'taskId');
  return item;
}

async function update(tx: Tx, task: Task, values: Partial<typeof tasks.$inferInsert>, now: Date): Promise<Task> {
  const [updated] = await tx
    .update(tasks)
    .set({ ...values, version: task.version + 1, updatedAt: now })
    .where(eq(tasks.id, task.id))
    .returning();
  if (!updated) throw new Error(`Task ${task.id} vanished while locked`);
  return updated;
}

const outcomeSchema = z.string().trim().max(MAX_OUTCOME_NOTE, `Keep the outcome note under ${MAX_OUTCOME_NOTE} characters.`);

export interface CompleteTaskParams extends TaskChange {
  /** What happened, in a sentence: kept with the task. */
  outcomeNote?: string | null;
}

/** Marks a task done, recording who did it, when, and the outcome note if any. */
export async function completeTask(db: Db, params: CompleteTaskParams): Promise<Task> {
  const note = params.outcomeNote ? parseInput(outcomeSchema, params.outcomeNote, 'outcomeNote') : '';
  return db.transaction(async (tx) => {
    const { task } = await taskForChange(tx, params, 'mark done');
    const done = await update(tx, task, { status: 'done', snoozedUntil: null, completedAt: params.now, completedBy: params.actor.userId, outcomeNote: note || null }, params.now);
    await recordEvent(tx, done, 'done', params.actor, params.now, note ? { outcomeNote: note } : {});
    await completeRunIfFinished(tx, done, params.now);
    await announceTasks(tx, 'task.completed', [done], params.actor, params.now, { outcomeNote: note || null });
    return done;
  });
}

export interface SnoozeTaskParams extends TaskChange {
  /** Until this moment; or `days` from now. */
  until?: Date | null;
  days?: number | null;
}

/** Puts a task aside until a later moment: it leaves lists and escalation until then, and comes back open. */
export async function snoozeTask(db: Db, params: SnoozeTaskParams): Promise<Task> {
  const until = params.until ?? (params.days != null ? addDays(params.now, params.days) : null);
  if (!until || Number.isNaN(until.getTime())) throw new InvalidInputError('Say until when to snooze the task: a day, or a number of days.', 'until');
  if (until.getTime() <= params.now.getTime()) throw new InvalidInputError('A snooze must end in the future; choose a later day.', 'until');
  if (until.getTime() > addDays(params.now, MAX_SNOOZE_DAYS).getTime()) {
    throw new InvalidInputError(`A snooze can last at most ${MAX_SNOOZE_DAYS} days; cancel the task instead if it no longer matters.`, 'until');
  }
  return db.transaction(async (tx) => {
    const { task } = await taskForChange(tx, params, 'snooze');
    const snoozed = await update(tx, task, { status: 'snoozed', snoozedUntil: until }, params.now);
    await recordEvent(tx, snoozed, 'snoozed', params.actor, params.now, { until: until.toISOString() });
    return snoozed;
  });
}

export interface ReassignTaskParams extends TaskChange {
  ownerId: string;
}

/** Gives a task to someone else; the new owner is told by DM. */
export async function reassignTask(db: Db, params: ReassignTaskParams): Promise<Task> {
  if (!isUuid(params.ownerId)) throw new InvalidInputError('`ownerId` must be a user id (a UUID).', 'ownerId');
  return db.transaction(async (tx) => {
    const { task } = await taskForChange(tx, params, 'reassign');
    const [owner] = await tx.select().from(users).where(eq(users.id, params.ownerId));
    requireTaskOwner(owner);
    if (task.ownerId === params.ownerId) throw new InvalidInputError(`“${task.title}” already belongs to ${owner.name}.`, 'ownerId');
    const moved = await update(tx, task, { ownerId: params.ownerId }, params.now);
    await recordEvent(tx, moved, 'reassigned', params.actor, params.now, { fromOwnerId: task.ownerId, toOwnerId: params.ownerId });
    await notifyOwner(tx, moved);
    await announceTasks(tx, 'task.reassigned', [moved], params.actor, params.now, { previousOwnerId: task.ownerId });
    return moved;
  });
}

export interface CancelTaskParams extends TaskChange {
  reason?: string | null;
}

/** Drops a task that no longer matters, keeping why. */
export async function cancelTask(db: Db, params: CancelTaskParams): Promise<Task> {
  const reason = params.reason ? parseInput(outcomeSchema, params.reason, 'reason') : '';
  return db.transaction(async (tx) => {
    const { task } = await taskForChange(tx, params, 'cancel');
    const cancelled = await update(tx, task, { status: 'cancelled', snoozedUntil: null, cancelledAt: params.now, cancelledBy: params.actor.userId, outcomeNote: reason || null }, params.now);
    await recordEvent(tx, cancelled, 'cancelled', params.actor, params.now, reason ? { reason } : {});
    await completeRunIfFinished(tx, cancelled, params.now);
    return cancelled;
  });
}

/**
 * A playbook run whose last task is done or cancelled is complete. The run is locked first, so two of its tasks
 * finished at once by two people still complete it: the second to get the lock sees the first's task finished.
 */
async function completeRunIfFinished(tx: Tx, task: Pick<Task, 'playbookRunId'>, now: Date): Promise<void> {
  const runId = task.playbookRunId;
  if (!runId) return;
  const [run] = await tx.select({ status: playbookRuns.status }).from(playbookRuns).where(eq(playbookRuns.id, runId)).for('update');
  if (run?.status !== 'running') return;
  await tx
    .update(playbookRuns)
    .set({ status: 'completed', completedAt: now, updatedAt: now })
    .where(
      and(
        eq(playbookRuns.id, runId),
        notExists(tx.select({ id: tasks.id }).from(tasks).where(and(eq(tasks.playbookRunId, runId), inArray(tasks.status, ['open', 'snoozed'])))),
      ),
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Triggers and escalation

/** A task a trigger asks for: `occasion` is unique, so asking twice (a retry, another replica) creates one. */
export interface TriggeredTask {
  occasion: string;
  accountId: string;
  /** Who owns it: the account's CSM, else its account executive; a trigger with neither creates nothing. */
  ownerId: string | null;
  title: string;
  source: Exclude<TaskSource, 'person'>;
  dueOn: string;
  ruleFiringId?: number | null;
  renewalId?: string | null;
  handoffId?: string | null;
  playbookRunId?: string | null;
  playbookStepId?: string | null;
}

/** Creates the tasks triggers ask for, once per occasion; returns those created now. Call inside the trigger's transaction. */
export async function createTriggeredTasks(tx: Tx, params: { tasks: TriggeredTask[]; actor: Actor; now: Date }): Promise<Task[]> {
  const owned = params.tasks.filter((task): task is TriggeredTask & { ownerId: string } => task.ownerId !== null);
  if (owned.length === 0) return [];
  const created = await tx
    .insert(tasks)
    .values(
      owned.map((task) => ({
        accountId: task.accountId,
        ownerId: task.ownerId,
        title: task.title,
        source: task.source,
        occasion: task.occasion,
        ruleFiringId: task.ruleFiringId ?? null,
        renewalId: task.renewalId ?? null,
        handoffId: task.handoffId ?? null,
        playbookRunId: task.playbookRunId ?? null,
        playbookStepId: task.playbookStepId ?? null,
        dueOn: task.dueOn,
        createdAt: params.now,
        updatedAt: params.now,
      })),
    )
    .onConflictDoNothing({ target: tasks.occasion })
    .returning();
  if (created.length > 0) {
    await tx.insert(taskEvents).values(
      created.map((task) => ({ taskId: task.id, kind: 'created' as const, actorId: null, actorLabel: params.actor.label, detail: { ownerId: task.ownerId, occasion: task.occasion }, occurredAt: params.now })),
    );
    await announceTasks(tx, 'task.created', created, params.actor, params.now);
  }
  return created;
}

/**
 * Tasks overdue and not escalated yet: their owner's manager hears once per task (every manager when the owner
 * reports to nobody, the at-risk channel when there are no managers). Idempotent: `escalated_at` and the dedupe
 * key make a second run, or a second replica, queue nothing.
 */
export async function queueOverdueTasks(db: Db, params: { now: Date }): Promise<{ overdueTasks: number }> {
  const { now } = params;
  return db.transaction(async (tx) => {
    const overdue = await tx
      .select({ task: tasks, owner: users })
      .from(tasks)
      .innerJoin(users, eq(users.id, tasks.ownerId))
      .where(and(stateIs('open', now), lt(tasks.dueOn, isoDay(now)), isNull(tasks.escalatedAt)))
      .orderBy(asc(tasks.dueOn), asc(tasks.id))
      .for('update', { of: tasks, skipLocked: true });
    if (overdue.length === 0) return { overdueTasks: 0 };
    const everyManager = await allManagerIds(tx);
    const escalator = ruleActor('task_overdue', 'Lifeline');
    for (const { task, owner } of overdue) {
      const managers = escalationManagers(owner, everyManager).filter((id) => id !== owner.id);
      const targets: NotificationTarget<'task_overdue'>[] = managers.length > 0 ? managers.map(userTarget) : [atRiskChannelTarget];
      for (const target of targets) {
        await enqueueNotification(tx, { kind: 'task_overdue', dedupeKey: `task_overdue:${task.id}:${target}`, target, payload: { taskId: task.id } });
      }
      await recordEvent(tx, task, 'escalated', escalator, now, { targets });
    }
    await tx
      .update(tasks)
      .set({ escalatedAt: now })
      .where(inArray(tasks.id, overdue.map(({ task }) => task.id)));
    return { overdueTasks: overdue.length };
  });
}

/** The people with open tasks due today or earlier: each gets a morning DM even with no account at risk. */
export async function ownersWithDueTasks(db: Db | Tx, now: Date): Promise<string[]> {
  const rows = await db
    .selectDistinct({ ownerId: tasks.ownerId })
    .from(tasks)
    .where(and(stateIs('open', now), lt(tasks.dueOn, isoDay(addDays(now, 1)))))
    .orderBy(asc(tasks.ownerId));
  return rows.map((row) => row.ownerId);
}
