import { sql } from 'drizzle-orm';
import { type AnyPgColumn, bigint, check, date, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { accounts, lifecycleStages, users } from './core.ts';
import { ruleFirings } from './health.ts';
import { handoffs, renewals } from './signals.ts';

/**
 * `snoozed` holds until `snoozed_until`; after that the task counts as open again without a write (reads decide by
 * the clock), so no job has to wake snoozed tasks up.
 */
export const taskStatuses = ['open', 'snoozed', 'done', 'cancelled'] as const;
/** What created a task: a rule firing, a renewal checkpoint, a digest item, a handoff step, a person, or a playbook's step. */
export const taskSources = ['rule_firing', 'renewal_checkpoint', 'digest_item', 'handoff_step', 'person', 'playbook'] as const;
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
    /** The playbook run and step this task carries out, when a playbook created it. */
    playbookRunId: uuid('playbook_run_id').references((): AnyPgColumn => playbookRuns.id),
    playbookStepId: uuid('playbook_step_id').references((): AnyPgColumn => playbookSteps.id),
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
    index('tasks_playbook_run_idx').on(t.playbookRunId).where(sql`${t.playbookRunId} is not null`),
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

/**
 * What starts a playbook: a rule kind (usage drop, health worsened to Critical, no first key action, an expansion
 * signal, a champion who left), a renewal checkpoint (180, 90 or 30 days before contract end), a closed-won deal or
 * an accepted handoff, or `manual`: only by hand. Every playbook can also be started by hand.
 */
export const playbookTriggers = [
  'usage_drop',
  'health_critical',
  'no_first_key_action',
  'expansion_signal',
  'renewal_180',
  'renewal_90',
  'renewal_30',
  'closed_won',
  'handoff_accepted',
  'champion_left',
  'manual',
] as const;
/** Whose task a step becomes: the account's CSM, its account executive, or the CSM's manager. */
export const playbookStepRoles = ['csm', 'ae', 'manager'] as const;
/** A run is running until its last task is done or cancelled (completed), or someone closes it with a reason (closed). */
export const playbookRunStatuses = ['running', 'completed', 'closed'] as const;

export type PlaybookTrigger = (typeof playbookTriggers)[number];
export type PlaybookStepRole = (typeof playbookStepRoles)[number];
export type PlaybookRunStatus = (typeof playbookRunStatuses)[number];

export const playbookTrigger = pgEnum('playbook_trigger', playbookTriggers);
export const playbookStepRole = pgEnum('playbook_step_role', playbookStepRoles);
export const playbookRunStatus = pgEnum('playbook_run_status', playbookRunStatuses);

/** A named template an admin defines: what starts it and its steps. Never deleted once it has run: retired instead. */
export const playbooks = pgTable(
  'playbooks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Stable name for code and links (`onboarding`, `risk`): unique, never changed. */
    key: text('key').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** What starts it; at least one (`manual` alone: only by hand). */
    triggers: playbookTrigger('triggers').array().notNull(),
    retiredAt: timestamptz('retired_at'),
    retiredBy: uuid('retired_by').references(() => users.id),
    createdBy: uuid('created_by').references(() => users.id),
    /** Bumped by every edit, so an admin editing a stale copy is refused rather than overwriting a newer edit. */
    version: integer('version').notNull().default(1),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('playbooks_key_key').on(t.key), check('playbooks_has_trigger', sql`cardinality(${t.triggers}) > 0`)],
);

/**
 * A playbook's steps in order. An edit replaces them: the old rows stay (with `removed_at`), because the tasks of
 * earlier runs link to them.
 */
export const playbookSteps = pgTable(
  'playbook_steps',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    playbookId: uuid('playbook_id')
      .notNull()
      .references(() => playbooks.id),
    position: integer('position').notNull(),
    title: text('title').notNull(),
    ownerRole: playbookStepRole('owner_role').notNull(),
    /** Days from the run's start to the step's due day. */
    dueInDays: integer('due_in_days').notNull(),
    /** The stage the account should move to once the step is done: a suggestion shown with the task, never automatic. */
    suggestedStageKey: text('suggested_stage_key').references(() => lifecycleStages.key),
    removedAt: timestamptz('removed_at'),
  },
  (t) => [
    uniqueIndex('playbook_steps_position_key').on(t.playbookId, t.position).where(sql`${t.removedAt} is null`),
    check('playbook_steps_due_in_days', sql`${t.dueInDays} >= 0`),
  ],
);

/** One playbook started for one account: by a trigger's occasion, or by a person. */
export const playbookRuns = pgTable(
  'playbook_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    playbookId: uuid('playbook_id')
      .notNull()
      .references(() => playbooks.id),
    trigger: playbookTrigger('trigger').notNull(),
    /**
     * The occasion that started it (`rule_firing:42`, `handoff:<id>`): unique per playbook, so the same firing never
     * starts a playbook twice, whichever replica or retry gets there first. Null when a person started it.
     */
    occasion: text('occasion'),
    ruleFiringId: bigint('rule_firing_id', { mode: 'number' }).references(() => ruleFirings.id),
    renewalId: uuid('renewal_id').references(() => renewals.id),
    handoffId: uuid('handoff_id').references(() => handoffs.id),
    status: playbookRunStatus('status').notNull().default('running'),
    startedBy: uuid('started_by').references(() => users.id),
    startedByLabel: text('started_by_label').notNull(),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    completedAt: timestamptz('completed_at'),
    closedAt: timestamptz('closed_at'),
    closedBy: uuid('closed_by').references(() => users.id),
    closedByLabel: text('closed_by_label'),
    closedReason: text('closed_reason'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // A playbook runs at most once at a time per account: a second start (a person, another trigger, another
    // replica) meets this index instead of a read that raced.
    uniqueIndex('playbook_runs_running_key').on(t.accountId, t.playbookId).where(sql`${t.status} = 'running'`),
    uniqueIndex('playbook_runs_occasion_key').on(t.playbookId, t.occasion),
    index('playbook_runs_account_idx').on(t.accountId, t.startedAt),
    check('playbook_runs_closed_has_reason', sql`(${t.status} = 'closed') = (${t.closedAt} is not null and ${t.closedReason} is not null)`),
    check('playbook_runs_completed_has_time', sql`(${t.status} = 'completed') = (${t.completedAt} is not null)`),
  ],
);

export type Playbook = typeof playbooks.$inferSelect;
export type PlaybookStep = typeof playbookSteps.$inferSelect;
export type PlaybookRun = typeof playbookRuns.$inferSelect;
