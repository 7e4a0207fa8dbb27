import {
  type HandoffSlaMetrics,
  type HealthMetrics,
  type LostMrrByReason,
  type Metrics,
  type MetricsGroup,
  type RevenueMetrics,
  type StageFunnelRow,
  type TimeToFirstValueMetrics,
  getMetrics,
  metricsGroupings,
} from '../../domain/metrics.ts';
import {
  DEFAULT_SERIES_MONTHS,
  MAX_SERIES_MONTHS,
  type RetentionMonth,
  type RetentionSeries,
  type RetentionSeriesGroup,
  getRetentionSeries,
} from '../../domain/metrics/retention-series.ts';
import { type TeamRow, getTeam } from '../../domain/metrics/team.ts';
import { builder } from '../builder.ts';
import { StageRef } from './stage.ts';
import { UserRef } from './user.ts';

const MetricsGroupingEnum = builder.enumType('MetricsGrouping', {
  description: "Group metrics by each account's current segment, or by its current CSM.",
  values: metricsGroupings,
});

const RevenueMetricsRef = builder.objectRef<RevenueMetrics>('RevenueMetrics').implement({
  description: [
    'Computed from the revenue ledger (recordRevenueChange). MRR of an account at a date = the sum of its signed MRR deltas effective up to that date.',
    'Start MRR = MRR from changes effective before the first day; end MRR = MRR from changes effective up to and including the last day.',
    'Cohort = accounts with start MRR > 0. A logo that is new (or reactivated) during the period is not in the cohort.',
  ].join(' '),
  fields: (t) => ({
    cohortAccounts: t.exposeInt('cohortAccounts', { description: 'Accounts with MRR at the start of the period.' }),
    startMrrCents: t.exposeFloat('startMrrCents', { description: 'Σ start MRR over the cohort.' }),
    endMrrCents: t.exposeFloat('endMrrCents', { description: 'Σ end MRR over the cohort (expansion, contraction, churn and reactivation of cohort accounts included).' }),
    retainedMrrCents: t.exposeFloat('retainedMrrCents', { description: 'Σ over the cohort of min(start MRR, max(end MRR, 0)).' }),
    nrr: t.exposeFloat('nrr', { nullable: true, description: 'Net revenue retention = endMrrCents ÷ startMrrCents (1.05 is 105%). Null without a cohort.' }),
    grr: t.exposeFloat('grr', {
      nullable: true,
      description: 'Gross revenue retention = retainedMrrCents ÷ startMrrCents: each account counts at most its starting MRR, so expansion is excluded and GRR never exceeds 1 (100%).',
    }),
    churnedLogos: t.exposeInt('churnedLogos', { description: 'Cohort accounts whose end MRR is 0 (a logo that churned and was reactivated in the period is not churned).' }),
    logoChurnRate: t.exposeFloat('logoChurnRate', { nullable: true, description: 'churnedLogos ÷ cohortAccounts.' }),
    newMrrCents: t.exposeFloat('newMrrCents', { description: 'Σ deltas of kind `new` effective in the period (all accounts).' }),
    expansionMrrCents: t.exposeFloat('expansionMrrCents', { description: 'Σ deltas of kind `expansion` effective in the period (all accounts).' }),
    contractionMrrCents: t.exposeFloat('contractionMrrCents', { description: 'Σ |deltas| of kind `contraction` effective in the period (all accounts), as a positive number.' }),
    churnedMrrCents: t.exposeFloat('churnedMrrCents', { description: 'Σ |deltas| of kind `churn` effective in the period (all accounts), as a positive number.' }),
    reactivationMrrCents: t.exposeFloat('reactivationMrrCents', { description: 'Σ deltas of kind `reactivation` effective in the period (all accounts).' }),
  }),
});

const HealthMetricsRef = builder.objectRef<HealthMetrics>('HealthMetrics').implement({
  description: [
    "The group's accounts by their latest health, as of now (not the period); churned accounts are left out.",
    'An account with `insufficient_data` has no score: it is counted in insufficientData only, never in averageScore.',
  ].join(' '),
  fields: (t) => ({
    accounts: t.exposeInt('accounts', { description: 'Accounts not churned: the sum of the counts below.' }),
    healthy: t.exposeInt('healthy'),
    atRisk: t.exposeInt('atRisk'),
    critical: t.exposeInt('critical'),
    insufficientData: t.exposeInt('insufficientData', { description: 'Recomputed with no customer signal: not enough data for a score.' }),
    notComputed: t.exposeInt('notComputed', { description: 'Health not computed yet (new accounts before the next health run).' }),
    averageScore: t.exposeFloat('averageScore', { nullable: true, description: 'Mean score of the accounts that have one; null when none has.' }),
  }),
});

const StageFunnelRef = builder.objectRef<StageFunnelRow>('StageFunnel').implement({
  description: [
    'One stage of the funnel, from the stage history. A stay is the time between a transition into the stage and the next transition of that account.',
    'Times are in days; median and p90 are continuous percentiles (percentile_cont) over stays that ended in the period.',
  ].join(' '),
  fields: (t) => ({
    stage: t.field({ type: StageRef, resolve: (row) => row.stage }),
    entered: t.exposeInt('entered', { description: 'Transitions into the stage during the period (first stages of new accounts included).' }),
    advanced: t.exposeInt('advanced', { description: 'Stays that ended in the period with a forward move.' }),
    movedBack: t.exposeInt('movedBack', { description: 'Stays that ended in the period with a backward move (to an earlier stage).' }),
    medianDaysInStage: t.exposeFloat('medianDaysInStage', { nullable: true, description: 'Median length of stays that ended in the period.' }),
    p90DaysInStage: t.exposeFloat('p90DaysInStage', { nullable: true, description: '90th percentile length of stays that ended in the period.' }),
    slaBreaches: t.exposeInt('slaBreaches', {
      description: "Stays whose SLA deadline (entered + the stage's SLA days) fell in the period while the account was still in the stage.",
    }),
  }),
});

const HandoffSlaRef = builder.objectRef<HandoffSlaMetrics>('HandoffSlaMetrics').implement({
  description: 'Handoffs closed-won during the period. The handoff SLA: the kickoff is scheduled by slaDueAt (closed-won + 3 days).',
  fields: (t) => ({
    handoffs: t.exposeInt('handoffs'),
    medianHoursToKickoff: t.exposeFloat('medianHoursToKickoff', { nullable: true, description: 'Median of (kickoffAt − closedWonAt) in hours, over handoffs with a kickoff.' }),
    decided: t.exposeInt('decided', { description: 'Handoffs whose SLA is decided: kickoff scheduled, or slaDueAt already passed.' }),
    withinSla: t.exposeInt('withinSla', { description: 'Handoffs whose kickoff was first scheduled at or before slaDueAt.' }),
    shareWithinSla: t.exposeFloat('shareWithinSla', { nullable: true, description: 'withinSla ÷ decided.' }),
  }),
});

const TimeToFirstValueRef = builder.objectRef<TimeToFirstValueMetrics>('TimeToFirstValueMetrics').implement({
  description: "Accounts whose first closed-won falls in the period, and how long they took to first value.",
  fields: (t) => ({
    accounts: t.exposeInt('accounts'),
    reached: t.exposeInt('reached', { description: 'Of those, accounts that have reached first value.' }),
    medianDays: t.exposeFloat('medianDays', { nullable: true, description: 'Median of (first value reached − closed-won) in days, over accounts that reached it.' }),
  }),
});

const LostMrrByReasonRef = builder.objectRef<LostMrrByReason>('LostMrrByReason').implement({
  description: 'Revenue lost in the period for one churn reason, from the ledger rows that name it (churn and contraction).',
  fields: (t) => ({
    reasonKey: t.exposeString('reasonKey', { nullable: true, description: 'The churn reason; null for losses recorded without one.' }),
    label: t.exposeString('label'),
    churnedMrrCents: t.exposeFloat('churnedMrrCents', { description: 'Σ |deltas| of kind `churn` effective in the period with this reason.' }),
    contractedMrrCents: t.exposeFloat('contractedMrrCents', { description: 'Σ |deltas| of kind `contraction` effective in the period with this reason.' }),
  }),
});

const MetricsGroupRef = builder.objectRef<MetricsGroup>('MetricsGroup').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: '`all`, a segment, a CSM user id, or `unassigned`.' }),
    label: t.exposeString('label'),
    revenue: t.field({ type: RevenueMetricsRef, resolve: (group) => group.revenue }),
    health: t.field({ type: HealthMetricsRef, resolve: (group) => group.health }),
    funnel: t.field({ type: [StageFunnelRef], complexity: 0, resolve: (group) => group.funnel }),
    handoffSla: t.field({ type: HandoffSlaRef, resolve: (group) => group.handoffSla }),
    timeToFirstValue: t.field({ type: TimeToFirstValueRef, resolve: (group) => group.timeToFirstValue }),
    lostMrrByReason: t.field({
      type: [LostMrrByReasonRef],
      complexity: 0,
      description: 'churnedMrrCents and contractionMrrCents broken down by churn reason, largest loss first; each sums to those totals.',
      resolve: (group) => group.lostMrrByReason,
    }),
  }),
});

const MetricsRef = builder.objectRef<Metrics>('Metrics').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    groupBy: t.expose('groupBy', { type: MetricsGroupingEnum, nullable: true }),
    groups: t.field({ type: [MetricsGroupRef], complexity: 0, resolve: (metrics) => metrics.groups }),
  }),
});

builder.queryField('metrics', (t) =>
  t.field({
    type: MetricsRef,
    description:
      'NRR, GRR, logo churn, expansion and contraction, the stage funnel, handoff SLA and time to first value for a period (both days inclusive, UTC), and the accounts by their current health, optionally grouped. Managers and admins.',
    args: {
      from: t.arg({ type: 'Date', required: true }),
      to: t.arg({ type: 'Date', required: true }),
      groupBy: t.arg({ type: MetricsGroupingEnum, required: false }),
    },
    complexity: 50,
    resolve: (_root, args, ctx) => getMetrics(ctx.db, { from: args.from, to: args.to, groupBy: args.groupBy ?? null, actor: ctx.actor }),
  }),
);

const RetentionMonthRef = builder.objectRef<RetentionMonth>('RetentionMonth').implement({
  description: [
    'One calendar month of the retention series, measured exactly as `metrics(from, to)` measures the period from its first to its last day (the last month ends on `through`).',
    'Monthly NRR = cohort MRR at the end of the month ÷ cohort MRR at its start, where the cohort is the accounts with MRR at the start; monthly GRR = Σ min(start, end) over the cohort ÷ cohort start MRR.',
    'The waterfall of the whole book adds up: openingMrrCents + new + expansion + reactivation − contraction − churned = closingMrrCents.',
  ].join(' '),
  fields: (t) => ({
    month: t.expose('month', { type: 'Date', description: 'The first day of the month.' }),
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date', description: 'The last day of the month, or `through` in the last month.' }),
    openingMrrCents: t.exposeFloat('openingMrrCents', { description: 'Σ MRR of every account (not only the cohort) from ledger entries effective before `from`.' }),
    closingMrrCents: t.exposeFloat('closingMrrCents', { description: 'Σ MRR of every account from ledger entries effective up to and including `to`.' }),
    revenue: t.field({ type: RevenueMetricsRef, description: 'NRR, GRR and the movements of the month (see RevenueMetrics for each formula).', resolve: (month) => month.revenue }),
  }),
});

const RetentionSeriesGroupRef = builder.objectRef<RetentionSeriesGroup>('RetentionSeriesGroup').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: '`all`, a segment, a CSM user id, or `unassigned`.' }),
    label: t.exposeString('label'),
    months: t.field({ type: [RetentionMonthRef], complexity: 0, description: 'Oldest month first; a month with no ledger entry is zeros, never missing.', resolve: (group) => group.months }),
  }),
});

const RetentionSeriesRef = builder.objectRef<RetentionSeries>('RetentionSeries').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'Date', description: 'The first day of the first month.' }),
    to: t.expose('to', { type: 'Date', description: 'The last day counted (`through`).' }),
    groupBy: t.expose('groupBy', { type: MetricsGroupingEnum, nullable: true }),
    groups: t.field({ type: [RetentionSeriesGroupRef], complexity: 0, resolve: (series) => series.groups }),
  }),
});

builder.queryField('retentionSeries', (t) =>
  t.field({
    type: RetentionSeriesRef,
    description: `NRR, GRR, opening and closing MRR and the month's new, expansion, contraction, churned and reactivated MRR for each of the last \`months\` calendar months (${DEFAULT_SERIES_MONTHS} by default, at most ${MAX_SERIES_MONTHS}) through \`through\` (today by default, UTC), computed in one statement; optionally split by each account's current segment or CSM. Managers and admins.`,
    args: {
      months: t.arg.int({ required: false }),
      through: t.arg({ type: 'Date', required: false }),
      groupBy: t.arg({ type: MetricsGroupingEnum, required: false }),
    },
    complexity: 50,
    resolve: (_root, args, ctx) =>
      getRetentionSeries(ctx.db, { months: args.months ?? null, through: args.through ?? null, groupBy: args.groupBy ?? null, actor: ctx.actor }),
  }),
);

const TeamRowRef = builder.objectRef<TeamRow>('TeamMember').implement({
  description: "One CSM's book as it stands now, and the work they owe. Accounts in terminal stages (Churned) are left out.",
  fields: (t) => ({
    csm: t.field({
      type: UserRef,
      resolve: async (row, _args, ctx) => {
        const user = await ctx.loaders.user.load(row.csmId);
        if (!user) throw new Error(`CSM ${row.csmId} is missing`);
        return user;
      },
    }),
    accounts: t.exposeInt('accounts', { description: 'Book size: accounts in live stages whose CSM this person is.' }),
    arrCents: t.exposeFloat('arrCents', { description: 'Σ arrCents of those accounts.' }),
    atRisk: t.exposeInt('atRisk', { description: 'Of those, accounts on the at-risk list (`atRisk`): At risk or Critical, or Healthy but fallen 10 points in a day.' }),
    atRiskArrCents: t.exposeFloat('atRiskArrCents', { description: 'Σ arrCents of the at-risk accounts.' }),
    atRiskShare: t.exposeFloat('atRiskShare', { nullable: true, description: 'atRisk ÷ accounts (0.25 is 25%); null with an empty book.' }),
    openTasks: t.exposeInt('openTasks', { description: 'Tasks this person owns that are open (a snooze that has ended counts as open).' }),
    overdueTasks: t.exposeInt('overdueTasks', { description: 'Of those, tasks whose due day has passed.' }),
  }),
});

builder.queryField('team', (t) =>
  t.field({
    type: [TeamRowRef],
    description: 'Per CSM: book size, ARR, at-risk count and share, open and overdue tasks, as of now; by name. Managers and admins.',
    complexity: { field: 10, multiplier: 1 },
    resolve: (_root, _args, ctx) => getTeam(ctx.db, { actor: ctx.actor }),
  }),
);
