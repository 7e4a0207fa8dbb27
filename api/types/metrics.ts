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
import { builder } from '../builder.ts';
import { StageRef } from './stage.ts';

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
