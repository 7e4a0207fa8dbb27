import { type PlaybookStep, playbookRunStatuses, playbookStepRoles, playbookTriggers } from '../../db/schema.ts';
import {
  MAX_CLOSE_REASON,
  type OnboardingProgress,
  type PlaybookRunItem,
  closePlaybookRun,
  listOnboardingProgress,
  listPlaybookRunsByAccountIds,
  reachedOnTime,
  startPlaybook,
} from '../../domain/plays/playbook-runs.ts';
import {
  MAX_PLAYBOOK_STEPS,
  MAX_STEP_DUE_DAYS,
  type PlaybookWithSteps,
  definePlaybook,
  getPlaybooksByIds,
  listPlaybooks,
  retirePlaybook,
  updatePlaybook,
} from '../../domain/plays/playbooks.ts';
import type { TaskItem } from '../../domain/plays/tasks.ts';
import type { ApiContext } from '../context.ts';
import { builder } from '../builder.ts';
import { AccountRef } from './account.ts';
import { StageRef } from './stage.ts';
import { TaskRef } from './task.ts';
import { UserRef } from './user.ts';

export const PlaybookTriggerEnum = builder.enumType('PlaybookTrigger', {
  description:
    'What starts a playbook: `usage_drop`, `health_critical` (health worsened to Critical), `no_first_key_action`, `expansion_signal`, `champion_left`, a renewal checkpoint (`renewal_180`, `renewal_90`, `renewal_30` days before contract end), `closed_won`, `handoff_accepted`, or `manual` (only by hand). Any playbook can also be started by hand.',
  values: playbookTriggers,
});

const PlaybookStepRoleEnum = builder.enumType('PlaybookStepRole', {
  description: 'Whose task a step becomes: the account’s `csm`, its account executive (`ae`), or the CSM’s `manager`. When that person is missing, the closest one gets it and the task’s title says so.',
  values: playbookStepRoles,
});

const PlaybookRunStatusEnum = builder.enumType('PlaybookRunStatus', {
  description: '`running`; `completed` when its last task was done or cancelled; `closed` by a person with a reason (its open tasks were cancelled).',
  values: playbookRunStatuses,
});

const PlaybookStepRef = builder.objectRef<PlaybookStep>('PlaybookStep').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    position: t.exposeInt('position', { description: '1 for the first step.' }),
    title: t.exposeString('title'),
    ownerRole: t.expose('ownerRole', { type: PlaybookStepRoleEnum }),
    dueInDays: t.exposeInt('dueInDays', { description: 'Days from the run’s start to the task’s due day.' }),
    suggestedStage: t.field({
      type: StageRef,
      nullable: true,
      description: 'The stage to move the account to once the step is done: a suggestion, never automatic.',
      resolve: (step, _args, ctx) => (step.suggestedStageKey ? ctx.loaders.stage.load(step.suggestedStageKey) : null),
    }),
  }),
});

const PlaybookRef = builder.objectRef<PlaybookWithSteps>('Playbook').implement({
  description: 'A named template admins define: what starts it, and the steps each run creates as tasks.',
  fields: (t) => ({
    id: t.id({ resolve: (p) => p.playbook.id }),
    key: t.string({ description: 'Stable name (`onboarding`, `risk`): unique, never changed.', resolve: (p) => p.playbook.key }),
    name: t.string({ resolve: (p) => p.playbook.name }),
    description: t.string({ resolve: (p) => p.playbook.description }),
    triggers: t.field({ type: [PlaybookTriggerEnum], resolve: (p) => p.playbook.triggers }),
    steps: t.field({ type: [PlaybookStepRef], description: 'In order.', resolve: (p) => p.steps }),
    retiredAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was retired: nothing starts it any more; its runs stay.', resolve: (p) => p.playbook.retiredAt }),
    version: t.int({ description: 'Pass as `expectedVersion` to updatePlaybook.', resolve: (p) => p.playbook.version }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.playbook.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.playbook.updatedAt }),
  }),
});

async function playbookOf(ctx: ApiContext, id: string): Promise<PlaybookWithSteps> {
  const [found] = await getPlaybooksByIds(ctx.db, { ids: [id], reader: ctx.actor });
  if (!found) throw new Error(`Playbook ${id} is missing`);
  return found;
}

const PlaybookRunRef = builder.objectRef<PlaybookRunItem>('PlaybookRun').implement({
  description: 'One playbook started for one account, by a trigger or by a person.',
  fields: (t) => ({
    id: t.id({ resolve: (item) => item.run.id }),
    playbook: t.field({ type: PlaybookRef, resolve: (item, _args, ctx) => playbookOf(ctx, item.run.playbookId) }),
    playbookName: t.string({ resolve: (item) => item.playbookName }),
    account: t.field({ type: AccountRef, nullable: true, resolve: (item, _args, ctx) => ctx.loaders.account.load(item.run.accountId) }),
    trigger: t.field({ type: PlaybookTriggerEnum, description: 'What started it (`manual`: a person).', resolve: (item) => item.run.trigger }),
    status: t.field({ type: PlaybookRunStatusEnum, resolve: (item) => item.run.status }),
    startedAt: t.field({ type: 'DateTime', resolve: (item) => item.run.startedAt }),
    startedBy: t.field({ type: UserRef, nullable: true, description: 'The person who started it by hand.', resolve: (item, _args, ctx) => (item.run.startedBy ? ctx.loaders.user.load(item.run.startedBy) : null) }),
    startedByLabel: t.string({ description: 'Who or what started it, as shown to people.', resolve: (item) => item.run.startedByLabel }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (item) => item.run.completedAt }),
    closedAt: t.field({ type: 'DateTime', nullable: true, resolve: (item) => item.run.closedAt }),
    closedBy: t.field({ type: UserRef, nullable: true, resolve: (item, _args, ctx) => (item.run.closedBy ? ctx.loaders.user.load(item.run.closedBy) : null) }),
    closedReason: t.string({ nullable: true, description: 'Why it was closed (e.g. “health recovered”).', resolve: (item) => item.run.closedReason }),
    openTaskCount: t.int({ description: 'Its tasks not yet done or cancelled.', resolve: (item) => item.openTasks }),
    taskCount: t.int({ resolve: (item) => item.totalTasks }),
    tasks: t.field({
      type: [TaskRef],
      description: 'Its tasks, one per step, by due day (done and cancelled ones included).',
      complexity: { field: 5, multiplier: 10 },
      resolve: (item, _args, ctx) => ctx.loaders.tasksByPlaybookRun.load(item.run.id),
    }),
  }),
});

const OnboardingMilestoneRef = builder.objectRef<TaskItem>('OnboardingMilestone').implement({
  description: 'A task of an onboarding run: a milestone time to value is measured against.',
  fields: (t) => ({
    task: t.field({ type: TaskRef, resolve: (item) => item }),
    reachedOnTime: t.boolean({ description: 'Done on or before its due day.', resolve: (item) => reachedOnTime(item.task) }),
  }),
});

const OnboardingProgressRef = builder.objectRef<OnboardingProgress>('OnboardingProgress').implement({
  description:
    'An onboarding account’s milestones. `onTimeShare` = milestonesOnTime / milestonesDue, where due milestones are those whose due day has passed or that were reached (cancelled ones and closed runs left out), and on time means done on or before the due day. It is the engagement component’s time-to-value part in health, in place of time in stage against its SLA.',
  fields: (t) => ({
    account: t.field({ type: AccountRef, nullable: true, resolve: (p, _args, ctx) => ctx.loaders.account.load(p.run.run.accountId) }),
    run: t.field({ type: PlaybookRunRef, resolve: (p) => p.run }),
    milestones: t.field({
      type: [OnboardingMilestoneRef],
      complexity: { field: 5, multiplier: 10 },
      resolve: (p, _args, ctx) => ctx.loaders.tasksByPlaybookRun.load(p.run.run.id),
    }),
    milestonesDue: t.int({ resolve: (p) => p.milestonesDue }),
    milestonesOnTime: t.int({ resolve: (p) => p.milestonesOnTime }),
    onTimeShare: t.float({ nullable: true, description: 'Null while no milestone is due yet.', resolve: (p) => (p.milestonesDue > 0 ? p.milestonesOnTime / p.milestonesDue : null) }),
  }),
});

builder.objectField(AccountRef, 'playbookRuns', (t) =>
  t.field({
    type: [PlaybookRunRef],
    description: 'The playbooks run for this account, newest first.',
    args: { runningOnly: t.arg.boolean({ defaultValue: false, description: 'Only the ones still running.' }) },
    complexity: { field: 5, multiplier: 5 },
    resolve: async (account, args, ctx) => {
      const runs = await ctx.loaders.playbookRunsByAccount.load(account.id);
      return args.runningOnly ? runs.filter((item) => item.run.status === 'running') : runs;
    },
  }),
);

builder.objectField(AccountRef, 'onboardingProgress', (t) =>
  t.field({
    type: OnboardingProgressRef,
    nullable: true,
    description: 'The account’s onboarding milestones (its latest onboarding run not closed); null without one. Managers and admins.',
    resolve: async (account, _args, ctx) => (await listOnboardingProgress(ctx.db, { reader: ctx.actor, now: new Date(), accountIds: [account.id] }))[0] ?? null,
  }),
);

const StepInput = builder.inputType('PlaybookStepInput', {
  fields: (t) => ({
    title: t.string({ required: true, description: 'What should be done; it becomes the task’s title.' }),
    ownerRole: t.field({ type: PlaybookStepRoleEnum, required: true }),
    dueInDays: t.int({ required: true, description: `Days from the run’s start to the due day, 0 to ${MAX_STEP_DUE_DAYS}.` }),
    suggestedStageKey: t.string({ required: false, description: 'A stage key from the `stages` query, suggested once the step is done.' }),
  }),
});

const DefinePlaybookInput = builder.inputType('DefinePlaybookInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: '2 to 40 lowercase letters, digits or underscores; unique, never changed.' }),
    name: t.string({ required: true }),
    description: t.string({ required: false }),
    triggers: t.field({ type: [PlaybookTriggerEnum], required: true, description: 'At least one; `manual` alone for a playbook only started by hand.' }),
    steps: t.field({ type: [StepInput], required: true, description: `1 to ${MAX_PLAYBOOK_STEPS} steps, in order.` }),
  }),
});

const UpdatePlaybookInput = builder.inputType('UpdatePlaybookInput', {
  description: 'Only the fields given change; `steps`, when given, replaces every step (runs already started keep their tasks).',
  fields: (t) => ({
    name: t.string({ required: false }),
    description: t.string({ required: false }),
    triggers: t.field({ type: [PlaybookTriggerEnum], required: false }),
    steps: t.field({ type: [StepInput], required: false }),
  }),
});

function steps(input: readonly { title: string; ownerRole: PlaybookStep['ownerRole']; dueInDays: number; suggestedStageKey?: string | null }[]) {
  return input.map((step) => ({ title: step.title, ownerRole: step.ownerRole, dueInDays: step.dueInDays, suggestedStageKey: step.suggestedStageKey ?? null }));
}

async function runItem(ctx: ApiContext, accountId: string, runId: string): Promise<PlaybookRunItem> {
  const item = (await listPlaybookRunsByAccountIds(ctx.db, { accountIds: [accountId], reader: ctx.actor })).find((row) => row.run.id === runId);
  if (!item) throw new Error(`Playbook run ${runId} vanished after a change`);
  return item;
}

builder.queryFields((t) => ({
  playbooks: t.field({
    type: [PlaybookRef],
    description: 'Playbooks by name, with their steps. Retired ones only with `includeRetired`.',
    args: { includeRetired: t.arg.boolean({ defaultValue: false }) },
    complexity: { field: 5, multiplier: 5 },
    resolve: (_root, args, ctx) => listPlaybooks(ctx.db, { reader: ctx.actor, includeRetired: args.includeRetired ?? false }),
  }),
  onboardingProgress: t.field({
    type: [OnboardingProgressRef],
    description: 'Every onboarding account’s milestones (managers and admins), newest onboarding first; `csmId` narrows to one CSM’s accounts.',
    args: { csmId: t.arg.id({ required: false }) },
    complexity: { field: 10, multiplier: 20 },
    resolve: (_root, args, ctx) => listOnboardingProgress(ctx.db, { reader: ctx.actor, now: new Date(), csmId: args.csmId ? String(args.csmId) : null }),
  }),
}));

builder.mutationFields((t) => ({
  definePlaybook: t.field({
    type: PlaybookRef,
    description: 'Admins: defines a new playbook.',
    args: { input: t.arg({ type: DefinePlaybookInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      definePlaybook(ctx.db, {
        key: input.key,
        name: input.name,
        description: input.description ?? '',
        triggers: input.triggers,
        steps: steps(input.steps),
        actor: ctx.actor,
      }),
  }),
  updatePlaybook: t.field({
    type: PlaybookRef,
    description: 'Admins: edits a playbook. Refused with STALE_VERSION when it changed since you read `version`.',
    args: {
      playbookId: t.arg.id({ required: true }),
      expectedVersion: t.arg.int({ required: true }),
      input: t.arg({ type: UpdatePlaybookInput, required: true }),
    },
    resolve: (_root, args, ctx) =>
      updatePlaybook(ctx.db, {
        playbookId: String(args.playbookId),
        expectedVersion: args.expectedVersion,
        ...(args.input.name != null ? { name: args.input.name } : {}),
        ...(args.input.description != null ? { description: args.input.description } : {}),
        ...(args.input.triggers != null ? { triggers: args.input.triggers } : {}),
        ...(args.input.steps != null ? { steps: steps(args.input.steps) } : {}),
        actor: ctx.actor,
      }),
  }),
  retirePlaybook: t.field({
    type: PlaybookRef,
    description: 'Admins: retires a playbook (playbooks are never deleted): nothing starts it any more; its runs stay.',
    args: { playbookId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => retirePlaybook(ctx.db, { playbookId: String(args.playbookId), actor: ctx.actor }),
  }),
  startPlaybook: t.field({
    type: PlaybookRunRef,
    description:
      'Starts a playbook for an account by hand (by `playbookId` or `playbookKey`): each step becomes a task for the right person. The account’s CSM, their manager or an admin. Refused while the same playbook already runs for the account.',
    args: { accountId: t.arg.id({ required: true }), playbookId: t.arg.id({ required: false }), playbookKey: t.arg.string({ required: false }) },
    resolve: async (_root, args, ctx) => {
      const { run } = await startPlaybook(ctx.db, {
        accountId: String(args.accountId),
        playbookId: args.playbookId ? String(args.playbookId) : null,
        playbookKey: args.playbookKey ?? null,
        actor: ctx.actor,
        now: new Date(),
      });
      return runItem(ctx, run.accountId, run.id);
    },
  }),
  closePlaybookRun: t.field({
    type: PlaybookRunRef,
    description: `Closes a running playbook whose reason went away, with \`reason\` (at most ${MAX_CLOSE_REASON} characters); its open tasks are cancelled. The account’s CSM, their manager or an admin.`,
    args: { runId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const run = await closePlaybookRun(ctx.db, { runId: String(args.runId), reason: args.reason, actor: ctx.actor, now: new Date() });
      return runItem(ctx, run.accountId, run.id);
    },
  }),
}));
