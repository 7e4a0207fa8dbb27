import {
  CONTROL_WINDOW_DAYS,
  FOLLOW_UP_DAYS,
  type HealthChange,
  MIN_COMPARABLE_ACCOUNTS,
  NO_PLAYBOOK,
  type PlaybookEffectiveness,
  type PlaybookEffectivenessReport,
  type TaskMetrics,
  type TaskMetricsRow,
  getPlaybookEffectiveness,
  getTaskMetrics,
  taskMetricsGroupings,
} from '../../domain/plays/metrics.ts';
import { builder } from '../builder.ts';
import { PlaybookTriggerEnum } from './playbook.ts';

const scope = "Managers see the accounts whose CSM is them or reports to them; admins see every account.";

const TaskMetricsGroupingEnum = builder.enumType('TaskMetricsGrouping', {
  description: `Group task metrics by the task's current \`owner\`, or by the \`playbook\` whose run created it (\`${NO_PLAYBOOK}\`: tasks no playbook created).`,
  values: taskMetricsGroupings,
});

const TaskMetricsRowRef = builder.objectRef<TaskMetricsRow>('TaskMetricsRow').implement({
  description: 'The tasks of one owner or one playbook. Days are UTC; the period runs from `from` 00:00 to the end of `to`.',
  fields: (t) => ({
    key: t.exposeString('key', { description: `An owner's user id, a playbook id, \`${NO_PLAYBOOK}\` (no playbook), or \`all\` for the total.` }),
    label: t.exposeString('label', { description: "The owner's name, the playbook's name, or “No playbook”." }),
    created: t.exposeInt('created', { description: 'Tasks whose createdAt falls in the period, whatever their state now.' }),
    completed: t.exposeInt('completed', { description: 'Tasks marked done with completedAt in the period (cancelled tasks are not completed), whenever they were created.' }),
    completedOnTime: t.exposeInt('completedOnTime', { description: 'Of `completed`, those done on or before their due day: the UTC day of completedAt ≤ dueOn.' }),
    onTimeShare: t.exposeFloat('onTimeShare', { nullable: true, description: 'completedOnTime ÷ completed; null when none was completed.' }),
    overdueNow: t.exposeInt('overdueNow', {
      description:
        'Tasks overdue now, whenever created: open (or snoozed with the snooze already ended) and due before today (UTC). A task snoozed until later is not overdue until its snooze ends; one due today is not overdue until tomorrow.',
    }),
  }),
});

const TaskMetricsRef = builder.objectRef<TaskMetrics>('TaskMetrics').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    groupBy: t.expose('groupBy', { type: TaskMetricsGroupingEnum }),
    groups: t.field({ type: [TaskMetricsRowRef], complexity: 0, description: 'Groups with at least one task created, completed or overdue, by label.', resolve: (metrics) => metrics.groups }),
    total: t.field({ type: TaskMetricsRowRef, description: 'The sum of the groups (each task is in exactly one group).', resolve: (metrics) => metrics.total }),
  }),
});

builder.queryField('taskMetrics', (t) =>
  t.field({
    type: TaskMetricsRef,
    description: `Tasks created, completed, completed on time and overdue now for a period (both days inclusive, UTC), by owner or by playbook. ${scope}`,
    args: {
      from: t.arg({ type: 'Date', required: true }),
      to: t.arg({ type: 'Date', required: true }),
      groupBy: t.arg({ type: TaskMetricsGroupingEnum, required: true }),
    },
    complexity: 20,
    resolve: (_root, args, ctx) => getTaskMetrics(ctx.db, { from: args.from, to: args.to, groupBy: args.groupBy, actor: ctx.actor }),
  }),
);

const HealthChangeRef = builder.objectRef<HealthChange>('PlayHealthChange').implement({
  description: [
    `Health before and ${FOLLOW_UP_DAYS} days after, over one group's occasions (runs, or control firings).`,
    'A score at a moment = the latest health score of the account computed at or before that moment (recomputes with insufficient data have no score and are skipped).',
    `An occasion is measured once its follow-up moment (+${FOLLOW_UP_DAYS} days) has passed and both scores are known; means are over measured occasions, each counting once.`,
  ].join(' '),
  fields: (t) => ({
    occasions: t.exposeInt('occasions', { description: 'Runs started in the period (withPlaybook), or firings in the period with no run nearby (control).' }),
    awaitingFollowUp: t.exposeInt('awaitingFollowUp', {
      description: `Completed runs (or firings) whose +${FOLLOW_UP_DAYS} days is still in the future: not counted yet.`,
    }),
    missingHealth: t.exposeInt('missingHealth', { description: 'Past their follow-up, but without a score before or after: not counted.' }),
    measured: t.exposeInt('measured', { description: 'Occasions counted: both scores known.' }),
    accounts: t.exposeInt('accounts', { description: `Distinct accounts among the measured occasions; fewer than ${MIN_COMPARABLE_ACCOUNTS} in either group is too few to compare.` }),
    meanBefore: t.exposeFloat('meanBefore', { nullable: true, description: 'Mean score at the start of the run (control: at the firing).' }),
    meanAfter: t.exposeFloat('meanAfter', {
      nullable: true,
      description: `Mean score ${FOLLOW_UP_DAYS} days after the run completed (control: ${FOLLOW_UP_DAYS} days after the firing).`,
    }),
    meanChange: t.exposeFloat('meanChange', { nullable: true, description: 'Mean of (after − before) over the measured occasions = meanAfter − meanBefore.' }),
  }),
});

const PlaybookEffectivenessRef = builder.objectRef<PlaybookEffectiveness>('PlaybookEffectiveness').implement({
  description: [
    'Whether a playbook helps: the health of the accounts it ran on, against accounts where the same trigger fired and it did not run.',
    `withPlaybook = its runs started in the period that completed (a closed or still running run has no completion to measure from): score at the run's start, and at completion + ${FOLLOW_UP_DAYS} days.`,
    `control = firings in the period of a rule that is one of its triggers (health_worsened to Critical for health_critical, the renewal checkpoint for renewal_180/90/30) on an account where no run of this playbook started within ${CONTROL_WINDOW_DAYS} days before or after the firing: score at the firing, and at the firing + ${FOLLOW_UP_DAYS} days.`,
    'Triggers that are not rule firings (closed_won, handoff_accepted, manual) have no control group.',
  ].join(' '),
  fields: (t) => ({
    playbookId: t.exposeID('playbookId'),
    playbookKey: t.exposeString('playbookKey'),
    playbookName: t.exposeString('playbookName'),
    triggers: t.field({ type: [PlaybookTriggerEnum], resolve: (row) => row.triggers }),
    retired: t.exposeBoolean('retired'),
    runsStarted: t.exposeInt('runsStarted', { description: 'Runs of the playbook started in the period (= withPlaybook.occasions).' }),
    runsNotCompleted: t.exposeInt('runsNotCompleted', { description: 'Of those, runs still running or closed by a person: never measured.' }),
    withPlaybook: t.field({ type: HealthChangeRef, resolve: (row) => row.withPlaybook }),
    control: t.field({ type: HealthChangeRef, resolve: (row) => row.control }),
    comparable: t.exposeBoolean('comparable', { description: `Both groups have at least ${MIN_COMPARABLE_ACCOUNTS} measured accounts.` }),
    differenceOfChanges: t.exposeFloat('differenceOfChanges', {
      nullable: true,
      description: 'withPlaybook.meanChange − control.meanChange, in score points (positive: accounts with the playbook fared better). Null when not comparable.',
    }),
    note: t.exposeString('note', { description: 'What was compared, or plainly “Too few accounts to compare” and the counts.' }),
  }),
});

const PlaybookEffectivenessReportRef = builder.objectRef<PlaybookEffectivenessReport>('PlaybookEffectivenessReport').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    playbooks: t.field({ type: [PlaybookEffectivenessRef], complexity: 0, description: 'Every playbook (retired ones included), by name.', resolve: (report) => report.playbooks }),
  }),
});

builder.queryField('playbookEffectiveness', (t) =>
  t.field({
    type: PlaybookEffectivenessReportRef,
    description: `For each playbook (or the one given), the health of its accounts at the start of its runs started in the period and ${FOLLOW_UP_DAYS} days after they completed, against accounts where the same trigger fired and no run started; says plainly when there are too few accounts to compare. ${scope}`,
    args: {
      from: t.arg({ type: 'Date', required: true }),
      to: t.arg({ type: 'Date', required: true }),
      playbookId: t.arg.id({ required: false }),
    },
    complexity: 30,
    resolve: (_root, args, ctx) =>
      getPlaybookEffectiveness(ctx.db, { from: args.from, to: args.to, playbookId: args.playbookId === null || args.playbookId === undefined ? null : String(args.playbookId), actor: ctx.actor }),
  }),
);
