import { sql } from 'drizzle-orm';
import { bigint, check, date, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { accounts, users } from './core.ts';
import { ruleFirings } from './health.ts';
import { handoffs, renewals } from './signals.ts';

/**
 * `snoozed` holds until `snoozed_until`; after that the task counts as open again without a write (reads decide by
 * the clock), so no job has to wake snoozed tasks up.
 */
export const taskStatuses = ['open', 'snoozed', 'done', 'cancelled'] as const;
/** What created a task: a rule firing, a renewal checkpoint, a digest item, a handoff step, or a person. */
export const taskSources = ['rule_firing', 'renewal_checkpoint', 'digest_item', 'handoff_step', 'person'] as const;
export const taskEventKinds = ['created', 'reassigned', 'snoozed', 'done', 'cancelled', 'escalated'] as const;

export type TaskStatus = (typeof taskStatuses)[number];
export type TaskSource = (typeof taskSources)[number];
export type TaskEventKind = (typeof taskEventKinds)[number];

export const taskStatus = pgEnum('task_status', taskStatuses);
export const taskSource = pgEnum('task_source', taskSources);
export const taskEventKind = pgEnum('task_event_kind', taskEventKinds);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A piece of owned work on one account: one owner, a due day, a status, and the reason it exists. */
export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    title: text('title').notNull(),
    source: taskSource('source').notNull(),
    /**
     * The occasion a trigger created the task for (e.g. `rule_firing:42`): unique, so the same firing never makes
     * two tasks, whichever replica or retry gets there first. Null for tasks a person created.
     */
    occasion: text('occasion'),
    /** Why it exists: the firing (rules and renewal checkpoints), the renewal, the handoff, the person. */
    ruleFiringId: bigint('rule_firing_id', { mode: 'number' }).references(() => ruleFirings.id),
    renewalId: uuid('renewal_id').references(() => renewals.id),
    handoffId: uuid('handoff_id').references(() => handoffs.id),
    createdBy: uuid('created_by').references(() => users.id),
    dueOn: date('due_on', { mode: 'string' }).notNull(),
    status: taskStatus('status').notNull().default('open'),
    snoozedUntil: timestamptz('snoozed_until'),
    completedAt: timestamptz('completed_at'),
    completedBy: uuid('completed_by').references(() => users.id),
    outcomeNote: text('outcome_note'),
    cancelledAt: timestamptz('cancelled_at'),
    cancelledBy: uuid('cancelled_by').references(() => users.id),
    /** Set when the owner's manager was told the task is overdue: once per task. */
    escalatedAt: timestamptz('escalated_at'),
    /** Bumped by every change, so a click on a stale list cannot undo a newer change unseen. */
    version: integer('version').notNull().default(1),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('tasks_occasion_key').on(t.occasion),
    // "My tasks" and the morning DM: a person's unfinished tasks by due day.
    index('tasks_owner_open_idx').on(t.ownerId, t.dueOn, t.id).where(sql`${t.status} in ('open', 'snoozed')`),
    index('tasks_account_idx').on(t.accountId, t.status),
    index('tasks_due_idx').on(t.dueOn, t.id),
    check('tasks_snoozed_has_until', sql`(${t.status} = 'snoozed') = (${t.snoozedUntil} is not null)`),
    check('tasks_done_has_completion', sql`(${t.status} = 'done') = (${t.completedAt} is not null)`),
    check('tasks_cancelled_has_time', sql`(${t.status} = 'cancelled') = (${t.cancelledAt} is not null)`),
  ],
);

/** Append-only history of a task: who created, reassigned, snoozed, finished or cancelled it, and when. */
export const taskEvents = pgTable(
  'task_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id),
    kind: taskEventKind('kind').notNull(),
    actorId: uuid('actor_id').references(() => users.id),
    actorLabel: text('actor_label').notNull(),
    /** The facts of the change: the previous and new owner, the snooze end, the outcome note. */
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    occurredAt: timestamptz('occurred_at').notNull().defaultNow(),
  },
  (t) => [index('task_events_task_idx').on(t.taskId, t.id)],
);

export type Task = typeof tasks.$inferSelect;
export type TaskEvent = typeof taskEvents.$inferSelect;
