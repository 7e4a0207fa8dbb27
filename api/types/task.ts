import { type TaskEvent, taskEventKinds, taskSources } from '../../db/schema.ts';
import { getHandoff } from '../../domain/handoffs/handoffs.ts';
import {
  MAX_OUTCOME_NOTE,
  MAX_SNOOZE_DAYS,
  MAX_TASK_PAGE,
  MAX_TASK_TITLE,
  type TaskFilter,
  type TaskItem,
  cancelTask,
  completeTask,
  countTasks,
  createTask,
  getTask,
  isOverdue,
  listTaskEvents,
  listTasks,
  reassignTask,
  snoozeTask,
  taskCursor,
  taskState,
} from '../../domain/plays/tasks.ts';
import type { ApiContext } from '../context.ts';
import { builder } from '../builder.ts';
import { AccountRef, PageInfoRef } from './account.ts';
import { HandoffRef } from './handoff.ts';
import { UserRef } from './user.ts';

const taskStates = ['open', 'snoozed', 'done', 'cancelled'] as const;

export const TaskStateEnum = builder.enumType('TaskState', {
  description: '`open` (a snooze that has ended counts as open again), `snoozed` until `snoozedUntil`, `done`, `cancelled`.',
  values: taskStates,
});

export const TaskSourceEnum = builder.enumType('TaskSource', {
  description: 'What created the task: a rule firing, a renewal checkpoint, a digest item, a handoff step, or a person.',
  values: taskSources,
});

const TaskEventKindEnum = builder.enumType('TaskEventKind', { values: taskEventKinds });

const TaskEventRef = builder.objectRef<TaskEvent>('TaskEvent').implement({
  description: 'One change in a task’s life.',
  fields: (t) => ({
    kind: t.expose('kind', { type: TaskEventKindEnum }),
    actorLabel: t.exposeString('actorLabel', { description: 'Who made the change, as shown to people (a rule is named as such).' }),
    actor: t.field({ type: UserRef, nullable: true, resolve: (event, _args, ctx) => (event.actorId ? ctx.loaders.user.load(event.actorId) : null) }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    detail: t.string({
      description: 'The facts of the change as JSON: the previous and new owner of a reassignment, the end of a snooze, an outcome note.',
      resolve: (event) => JSON.stringify(event.detail),
    }),
  }),
});

export const TaskRef = builder.objectRef<TaskItem>('Task').implement({
  description: 'Owned work on one account: one owner, a due day, a state, and the reason it exists.',
  fields: (t) => ({
    id: t.id({ resolve: (item) => item.task.id }),
    title: t.string({ resolve: (item) => item.task.title }),
    account: t.field({
      type: AccountRef,
      nullable: true,
      description: 'Null only when the reader may not read the account (an account executive on a task given to them on an account they did not sell).',
      resolve: (item, _args, ctx) => ctx.loaders.account.load(item.task.accountId),
    }),
    accountName: t.string({ resolve: (item) => item.accountName }),
    owner: t.field({ type: UserRef, resolve: async (item, _args, ctx) => (await ctx.loaders.user.load(item.task.ownerId)) ?? missing('owner', item) }),
    source: t.field({ type: TaskSourceEnum, resolve: (item) => item.task.source }),
    reason: t.string({
      description: 'Why the task exists, in words: the rule firing’s reason, or who added it.',
      resolve: async (item, _args, ctx) => {
        if (item.firing) return item.firing.reason;
        if (item.task.createdBy) return `Added by ${(await ctx.loaders.user.load(item.task.createdBy))?.name ?? 'a person no longer in Lifeline'}`;
        return `Created by Lifeline (${item.task.source.replace(/_/g, ' ')})`;
      },
    }),
    rule: t.string({ nullable: true, description: 'The rule whose firing created the task (e.g. `usage_drop`, `renewal_checkpoint`).', resolve: (item) => item.firing?.rule ?? null }),
    renewalId: t.id({ nullable: true, description: 'The renewal a renewal task is about.', resolve: (item) => item.task.renewalId }),
    playbookRunId: t.id({ nullable: true, description: 'The playbook run whose step this task is, when a playbook created it.', resolve: (item) => item.task.playbookRunId }),
    playbookName: t.string({ nullable: true, description: 'The name of that run’s playbook.', resolve: (item) => item.playbookName }),
    handoff: t.field({
      type: HandoffRef,
      nullable: true,
      resolve: async (item, _args, ctx) => (item.task.handoffId ? ((await getHandoff(ctx.db, { id: item.task.handoffId, reader: ctx.actor })) ?? null) : null),
    }),
    createdBy: t.field({ type: UserRef, nullable: true, resolve: (item, _args, ctx) => (item.task.createdBy ? ctx.loaders.user.load(item.task.createdBy) : null) }),
    createdAt: t.field({ type: 'DateTime', resolve: (item) => item.task.createdAt }),
    dueOn: t.field({ type: 'Date', resolve: (item) => item.task.dueOn }),
    state: t.field({ type: TaskStateEnum, resolve: (item) => taskState(item.task, new Date()) }),
    overdue: t.boolean({ description: 'Open, and its due day has passed.', resolve: (item) => isOverdue(item.task, new Date()) }),
    snoozedUntil: t.field({ type: 'DateTime', nullable: true, resolve: (item) => item.task.snoozedUntil }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (item) => item.task.completedAt }),
    completedBy: t.field({ type: UserRef, nullable: true, resolve: (item, _args, ctx) => (item.task.completedBy ? ctx.loaders.user.load(item.task.completedBy) : null) }),
    outcomeNote: t.string({ nullable: true, description: 'What came of it (done), or why it was dropped (cancelled).', resolve: (item) => item.task.outcomeNote }),
    cancelledAt: t.field({ type: 'DateTime', nullable: true, resolve: (item) => item.task.cancelledAt }),
    escalatedAt: t.field({ type: 'DateTime', nullable: true, description: 'When the owner’s manager was told it is overdue (once per task).', resolve: (item) => item.task.escalatedAt }),
    version: t.int({ description: 'Pass as `expectedVersion` so a change made since you read the task is not overwritten.', resolve: (item) => item.task.version }),
    history: t.field({
      type: [TaskEventRef],
      description: 'Every change, oldest first.',
      complexity: { field: 5, multiplier: 10 },
      resolve: (item, _args, ctx) => listTaskEvents(ctx.db, { taskId: item.task.id, reader: ctx.actor }),
    }),
  }),
});

function missing(what: string, item: TaskItem): never {
  throw new Error(`The ${what} of task ${item.task.id} is missing`);
}

const TaskEdgeRef = builder.objectRef<TaskItem>('TaskEdge').implement({
  fields: (t) => ({
    node: t.field({ type: TaskRef, resolve: (item) => item }),
    cursor: t.string({ resolve: (item) => taskCursor(item.task) }),
  }),
});

interface TaskConnection {
  items: TaskItem[];
  hasNextPage: boolean;
  filter: TaskFilter;
}

const TaskConnectionRef = builder.objectRef<TaskConnection>('TaskConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [TaskEdgeRef], complexity: { field: 0, multiplier: 1 }, resolve: (connection) => connection.items }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (connection) => {
        const last = connection.items.at(-1);
        return { hasNextPage: connection.hasNextPage, endCursor: last ? taskCursor(last.task) : null };
      },
    }),
    totalCount: t.int({
      description: 'Tasks matching the filter, across all pages.',
      resolve: (connection, _args, ctx) => countTasks(ctx.db, { reader: ctx.actor, now: new Date(), filter: connection.filter }),
    }),
  }),
});

const TaskFilterInput = builder.inputType('TaskFilter', {
  description: 'All given conditions must hold.',
  fields: (t) => ({
    ownerId: t.id({ required: false, description: 'Tasks owned by this person.' }),
    accountId: t.id({ required: false }),
    state: t.field({ type: TaskStateEnum, required: false }),
    dueBefore: t.field({ type: 'Date', required: false, description: 'Due strictly before this day: tomorrow’s date lists what is due today and overdue.' }),
    playbookId: t.id({ required: false, description: 'Tasks of the runs of this playbook (ids from the `playbooks` query).' }),
    playbookRunId: t.id({ required: false, description: 'Tasks of this one playbook run.' }),
  }),
});

builder.queryFields((t) => ({
  tasks: t.field({
    type: TaskConnectionRef,
    description: `Tasks, soonest due first, a page at a time (at most ${MAX_TASK_PAGE}); Relay-style cursors. Account executives see the tasks of the accounts they sold and the tasks given to them.`,
    args: {
      filter: t.arg({ type: TaskFilterInput, required: false }),
      first: t.arg.int({ defaultValue: 25 }),
      after: t.arg.string({ required: false }),
    },
    complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 25, 1), MAX_TASK_PAGE) }),
    resolve: async (_root, args, ctx) => {
      const filter: TaskFilter = {
        ownerId: args.filter?.ownerId ? String(args.filter.ownerId) : null,
        accountId: args.filter?.accountId ? String(args.filter.accountId) : null,
        state: args.filter?.state ?? null,
        dueBefore: args.filter?.dueBefore ?? null,
        playbookId: args.filter?.playbookId ? String(args.filter.playbookId) : null,
        playbookRunId: args.filter?.playbookRunId ? String(args.filter.playbookRunId) : null,
      };
      const page = await listTasks(ctx.db, { reader: ctx.actor, now: new Date(), filter, first: args.first ?? 25, after: args.after ?? null });
      return { ...page, filter };
    },
  }),
  task: t.field({
    type: TaskRef,
    nullable: true,
    description: 'One task by id; null when there is none you may see.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await getTask(ctx.db, { id: String(args.id), reader: ctx.actor })) ?? null,
  }),
}));

builder.objectField(AccountRef, 'openTasks', (t) =>
  t.field({
    type: [TaskRef],
    description: 'The account’s tasks not yet done or cancelled (snoozed ones included), soonest due first.',
    complexity: { field: 5, multiplier: 10 },
    resolve: (account, _args, ctx) => ctx.loaders.openTasksByAccount.load(account.id),
  }),
);

/** The task as the actor may now read it, after a change they made. */
async function reread(ctx: ApiContext, taskId: string): Promise<TaskItem> {
  const item = await getTask(ctx.db, { id: taskId, reader: ctx.actor });
  if (!item) throw new Error(`Task ${taskId} vanished after a change`);
  return item;
}

const CreateTaskInput = builder.inputType('CreateTaskInput', {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    title: t.string({ required: true, description: `What should be done (at most ${MAX_TASK_TITLE} characters).` }),
    dueOn: t.field({ type: 'Date', required: true, description: 'Today or later.' }),
    ownerId: t.id({ required: false, description: 'Who owns it; yourself when left out. The owner hears about it by Slack DM when it is not you.' }),
  }),
});

const taskChangeArgs = {
  taskId: { description: 'The task to change.' },
  expectedVersion: { description: 'The `version` you read; the change is refused with STALE_VERSION when the task changed since.' },
};

builder.mutationFields((t) => ({
  createTask: t.field({
    type: TaskRef,
    description:
      "Adds a task to an account. Admins may add to any account; managers to accounts whose CSM reports to them; a CSM to their own accounts; an account executive to accounts they sold, for themselves.",
    args: { input: t.arg({ type: CreateTaskInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const task = await createTask(ctx.db, {
        accountId: String(input.accountId),
        title: input.title,
        dueOn: input.dueOn,
        ...(input.ownerId ? { ownerId: String(input.ownerId) } : {}),
        actor: ctx.actor,
        now: new Date(),
      });
      return reread(ctx, task.id);
    },
  }),
  completeTask: t.field({
    type: TaskRef,
    description: `Marks a task done, recording who and when, with an optional outcome note (at most ${MAX_OUTCOME_NOTE} characters). The owner, the account's CSM, their manager or an admin may.`,
    args: {
      taskId: t.arg.id({ required: true, ...taskChangeArgs.taskId }),
      outcomeNote: t.arg.string({ required: false }),
      expectedVersion: t.arg.int({ required: false, ...taskChangeArgs.expectedVersion }),
    },
    resolve: async (_root, args, ctx) => {
      const task = await completeTask(ctx.db, { taskId: String(args.taskId), outcomeNote: args.outcomeNote ?? null, expectedVersion: args.expectedVersion ?? null, actor: ctx.actor, now: new Date() });
      return reread(ctx, task.id);
    },
  }),
  snoozeTask: t.field({
    type: TaskRef,
    description: `Puts a task aside until \`until\` (or for \`days\`), at most ${MAX_SNOOZE_DAYS} days: it leaves lists and escalation until then, then is open again.`,
    args: {
      taskId: t.arg.id({ required: true, ...taskChangeArgs.taskId }),
      until: t.arg({ type: 'DateTime', required: false }),
      days: t.arg.int({ required: false }),
      expectedVersion: t.arg.int({ required: false, ...taskChangeArgs.expectedVersion }),
    },
    resolve: async (_root, args, ctx) => {
      const task = await snoozeTask(ctx.db, {
        taskId: String(args.taskId),
        until: args.until ?? null,
        days: args.days ?? null,
        expectedVersion: args.expectedVersion ?? null,
        actor: ctx.actor,
        now: new Date(),
      });
      return reread(ctx, task.id);
    },
  }),
  reassignTask: t.field({
    type: TaskRef,
    description: 'Gives a task to another person (a CSM, account executive, manager or admin); they hear about it by Slack DM.',
    args: {
      taskId: t.arg.id({ required: true, ...taskChangeArgs.taskId }),
      ownerId: t.arg.id({ required: true }),
      expectedVersion: t.arg.int({ required: false, ...taskChangeArgs.expectedVersion }),
    },
    resolve: async (_root, args, ctx) => {
      const task = await reassignTask(ctx.db, { taskId: String(args.taskId), ownerId: String(args.ownerId), expectedVersion: args.expectedVersion ?? null, actor: ctx.actor, now: new Date() });
      return reread(ctx, task.id);
    },
  }),
  cancelTask: t.field({
    type: TaskRef,
    description: 'Drops a task that no longer matters, keeping `reason` as its outcome note.',
    args: {
      taskId: t.arg.id({ required: true, ...taskChangeArgs.taskId }),
      reason: t.arg.string({ required: false }),
      expectedVersion: t.arg.int({ required: false, ...taskChangeArgs.expectedVersion }),
    },
    resolve: async (_root, args, ctx) => {
      const task = await cancelTask(ctx.db, { taskId: String(args.taskId), reason: args.reason ?? null, expectedVersion: args.expectedVersion ?? null, actor: ctx.actor, now: new Date() });
      return reread(ctx, task.id);
    },
  }),
}));
