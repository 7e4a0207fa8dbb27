import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../db/client.ts';
import type { LifecycleStage } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { listStages } from './lifecycle/stages.ts';
import { getUsersByIds } from './users.ts';
import { parseInput } from './validation.ts';
import { DAY_MS } from './dates.ts';

export const metricsGroupings = ['segment', 'csm'] as const;
export type MetricsGrouping = (typeof metricsGroupings)[number];

const periodSchema = z
  .object({
    from: z.iso.date('use a calendar date written YYYY-MM-DD'),
    to: z.iso.date('use a calendar date written YYYY-MM-DD'),
    groupBy: z.enum(metricsGroupings).nullish(),
  })
  .refine((period) => period.from <= period.to, { message: 'the period must end on or after its first day', path: ['to'] })
  .refine((period) => Date.parse(period.to) - Date.parse(period.from) <= 3660 * DAY_MS, {
    message: 'a period can span at most ten years',
    path: ['to'],
  });

export interface MetricsParams {
  /** First day of the period (inclusive). */
  from: string;
  /** Last day of the period (inclusive). */
  to: string;
  groupBy?: MetricsGrouping | null;
  actor: Actor;
  /** "Now", for deciding whether a pending handoff has already missed its SLA. */
  asOf?: Date;
}

export interface RevenueMetrics {
  cohortAccounts: number;
  startMrrCents: number;
  endMrrCents: number;
  retainedMrrCents: number;
  nrr: number | null;
  grr: number | null;
  churnedLogos: number;
  logoChurnRate: number | null;
  newMrrCents: number;
  expansionMrrCents: number;
  contractionMrrCents: number;
  churnedMrrCents: number;
  reactivationMrrCents: number;
}

export interface StageFunnelRow {
  stage: LifecycleStage;
  entered: number;
  advanced: number;
  movedBack: number;
  medianDaysInStage: number | null;
  p90DaysInStage: number | null;
  slaBreaches: number;
}

export interface HandoffSlaMetrics {
  handoffs: number;
  medianHoursToKickoff: number | null;
  decided: number;
  withinSla: number;
  shareWithinSla: number | null;
}

export interface TimeToFirstValueMetrics {
  accounts: number;
  reached: number;
  medianDays: number | null;
}

/**
 * The group's accounts (churned ones left out) by their latest health, as of now rather than the period. An account
 * without customer signal (insufficient_data) has no score: it is counted on its own and never in averageScore.
 */
export interface HealthMetrics {
  accounts: number;
  healthy: number;
  atRisk: number;
  critical: number;
  insufficientData: number;
  /** Accounts whose health has not been computed yet. */
  notComputed: number;
  /** The mean score of the accounts that have one; null when none has. */
  averageScore: number | null;
}

/** Revenue lost in the period for one churn reason (null: none given). */
export interface LostMrrByReason {
  reasonKey: string | null;
  label: string;
  churnedMrrCents: number;
  contractedMrrCents: number;
}

export interface MetricsGroup {
  /** `all`, a segment, a CSM's user id, or `unassigned`. */
  key: string;
  label: string;
  revenue: RevenueMetrics;
  health: HealthMetrics;
  funnel: StageFunnelRow[];
  handoffSla: HandoffSlaMetrics;
  timeToFirstValue: TimeToFirstValueMetrics;
  /** Churned and contracted MRR of the period broken down by churn reason, largest loss first. */
  lostMrrByReason: LostMrrByReason[];
}

export interface Metrics {
  from: string;
  to: string;
  groupBy: MetricsGrouping | null;
  groups: MetricsGroup[];
}

export type Numeric = string | number | null;
export const num = (value: Numeric): number => (value === null ? 0 : Number(value));
export const maybe = (value: Numeric): number | null => (value === null ? null : Number(value));
export const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

/** The cohort and movement sums of one group and period (the columns the revenue statements select), as metrics. */
export function revenueFromRow(revenue: Record<string, Numeric> | undefined): RevenueMetrics {
  const startMrr = num(revenue?.start_mrr ?? null);
  const cohort = num(revenue?.cohort_accounts ?? null);
  const churnedLogos = num(revenue?.churned_logos ?? null);
  return {
    cohortAccounts: cohort,
    startMrrCents: startMrr,
    endMrrCents: num(revenue?.end_mrr ?? null),
    retainedMrrCents: num(revenue?.retained_mrr ?? null),
    nrr: ratio(num(revenue?.end_mrr ?? null), startMrr),
    grr: ratio(num(revenue?.retained_mrr ?? null), startMrr),
    churnedLogos,
    logoChurnRate: ratio(churnedLogos, cohort),
    newMrrCents: num(revenue?.new_mrr ?? null),
    expansionMrrCents: num(revenue?.expansion ?? null),
    contractionMrrCents: num(revenue?.contraction ?? null),
    churnedMrrCents: num(revenue?.churned ?? null),
    reactivationMrrCents: num(revenue?.reactivation ?? null),
  };
}

export function groupExpression(groupBy: MetricsGrouping | null) {
  // Grouping uses each account's current segment and CSM: the book as managers see it today.
  if (groupBy === 'segment') return sql`a.segment::text`;
  if (groupBy === 'csm') return sql`coalesce(a.csm_id::text, 'unassigned')`;
  return sql`'all'`;
}

/**
 * Metrics for a period, optionally grouped by segment or CSM. Each is one set-based statement over the ledger
 * and the history; the formulas are documented in the GraphQL schema descriptions (api/types/metrics.ts).
 */
export async function getMetrics(db: Db, params: MetricsParams): Promise<Metrics> {
  requireAccess(params.actor, 'read_metrics');
  const { from, to, groupBy: rawGroupBy } = parseInput(periodSchema, params);
  const groupBy = rawGroupBy ?? null;
  const group = groupExpression(groupBy);
  const startsAt = new Date(`${from}T00:00:00Z`);
  const endsBefore = new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS);
  const asOfIso = (params.asOf ?? new Date()).toISOString();
  const startsAtIso = startsAt.toISOString();
  const endsBeforeIso = endsBefore.toISOString();

  const [revenueRows, funnelRows, slaRows, ttfvRows, healthRows, stages, reasonRows] = await Promise.all([
    queryRows<Record<string, Numeric> & { grp: string }>(
      db,
      sql`with per_account as (
            select ${group} as grp,
              coalesce(sum(rc.mrr_delta_cents) filter (where rc.effective_date < ${from}::date), 0) as start_mrr,
              coalesce(sum(rc.mrr_delta_cents) filter (where rc.effective_date <= ${to}::date), 0) as end_mrr,
              coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'new' and rc.effective_date between ${from}::date and ${to}::date), 0) as new_mrr,
              coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'expansion' and rc.effective_date between ${from}::date and ${to}::date), 0) as expansion,
              coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'contraction' and rc.effective_date between ${from}::date and ${to}::date), 0) as contraction,
              coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'churn' and rc.effective_date between ${from}::date and ${to}::date), 0) as churned,
              coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'reactivation' and rc.effective_date between ${from}::date and ${to}::date), 0) as reactivation
            from revenue_changes rc join accounts a on a.id = rc.account_id
            where rc.effective_date <= ${to}::date
            group by a.id, grp
          )
          select grp,
            count(*) filter (where start_mrr > 0) as cohort_accounts,
            coalesce(sum(start_mrr) filter (where start_mrr > 0), 0) as start_mrr,
            coalesce(sum(end_mrr) filter (where start_mrr > 0), 0) as end_mrr,
            coalesce(sum(least(start_mrr, greatest(end_mrr, 0))) filter (where start_mrr > 0), 0) as retained_mrr,
            count(*) filter (where start_mrr > 0 and end_mrr <= 0) as churned_logos,
            sum(new_mrr) as new_mrr, sum(expansion) as expansion, sum(contraction) as contraction,
            sum(churned) as churned, sum(reactivation) as reactivation
          from per_account group by grp`,
    ),
    queryRows<Record<string, Numeric> & { grp: string; stage: string }>(
      db,
      sql`with stays as (
            select t.account_id, t.to_stage as stage, t.occurred_at as entered_at,
              lead(t.occurred_at) over w as left_at,
              lead(t.direction) over w as left_direction
            from stage_transitions t
            window w as (partition by t.account_id order by t.account_version)
          ),
          scoped as (
            select ${group} as grp, s.*, ls.sla_days,
              s.left_at >= ${startsAtIso}::timestamptz and s.left_at < ${endsBeforeIso}::timestamptz as left_in_period,
              s.entered_at + make_interval(days => ls.sla_days) as sla_due
            from stays s join accounts a on a.id = s.account_id join lifecycle_stages ls on ls.key = s.stage
          )
          select grp, stage,
            count(*) filter (where entered_at >= ${startsAtIso}::timestamptz and entered_at < ${endsBeforeIso}::timestamptz) as entered,
            count(*) filter (where left_in_period and left_direction = 'forward') as advanced,
            count(*) filter (where left_in_period and left_direction = 'backward') as moved_back,
            percentile_cont(0.5) within group (order by extract(epoch from left_at - entered_at) / 86400) filter (where left_in_period) as median_days,
            percentile_cont(0.9) within group (order by extract(epoch from left_at - entered_at) / 86400) filter (where left_in_period) as p90_days,
            count(*) filter (
              where sla_due >= ${startsAtIso}::timestamptz and sla_due < ${endsBeforeIso}::timestamptz and (left_at is null or left_at > sla_due)
            ) as sla_breaches
          from scoped group by grp, stage`,
    ),
    queryRows<Record<string, Numeric> & { grp: string }>(
      db,
      sql`select ${group} as grp,
            count(*) as handoffs,
            percentile_cont(0.5) within group (order by extract(epoch from h.kickoff_at - h.closed_won_at) / 3600) filter (where h.kickoff_at is not null) as median_hours,
            count(*) filter (where h.kickoff_scheduled_at is not null or h.sla_due_at <= ${asOfIso}::timestamptz) as decided,
            count(*) filter (where h.kickoff_scheduled_at <= h.sla_due_at) as within_sla
          from handoffs h join accounts a on a.id = h.account_id
          where h.closed_won_at >= ${startsAtIso}::timestamptz and h.closed_won_at < ${endsBeforeIso}::timestamptz
          group by grp`,
    ),
    queryRows<Record<string, Numeric> & { grp: string }>(
      db,
      sql`with first_close as (
            select account_id, min(closed_won_at) as closed_won_at from handoffs group by account_id
          )
          select ${group} as grp,
            count(*) as accounts,
            count(fv.account_id) as reached,
            percentile_cont(0.5) within group (order by extract(epoch from fv.reached_at - fc.closed_won_at) / 86400) filter (where fv.account_id is not null) as median_days
          from first_close fc join accounts a on a.id = fc.account_id
          left join first_values fv on fv.account_id = fc.account_id
          where fc.closed_won_at >= ${startsAtIso}::timestamptz and fc.closed_won_at < ${endsBeforeIso}::timestamptz
          group by grp`,
    ),
    queryRows<Record<string, Numeric> & { grp: string }>(
      db,
      sql`select ${group} as grp,
            count(*) as accounts,
            count(*) filter (where h.status = 'healthy') as healthy,
            count(*) filter (where h.status = 'at_risk') as at_risk,
            count(*) filter (where h.status = 'critical') as critical,
            count(*) filter (where h.status = 'insufficient_data') as insufficient_data,
            count(*) filter (where h.account_id is null) as not_computed,
            -- Only scores: an account with insufficient data has none, and is not a zero.
            avg(h.score) filter (where h.status <> 'insufficient_data')::float8 as average_score
          from accounts a
          join lifecycle_stages s on s.key = a.stage_key and not s.terminal
          left join account_health h on h.account_id = a.id
          group by grp`,
    ),
    listStages(db, { reader: params.actor }),
    queryRows<{ grp: string; reason_key: string | null; label: string | null; churned: Numeric; contracted: Numeric }>(
      db,
      sql`select ${group} as grp, rc.churn_reason_key as reason_key, cr.label,
            coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'churn'), 0) as churned,
            coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'contraction'), 0) as contracted
          from revenue_changes rc
          join accounts a on a.id = rc.account_id
          left join churn_reasons cr on cr.key = rc.churn_reason_key
          where rc.kind in ('churn', 'contraction') and rc.effective_date between ${from}::date and ${to}::date
          group by grp, rc.churn_reason_key, cr.label`,
    ),
  ]);

  const keys = new Set<string>(groupBy === null ? ['all'] : []);
  for (const row of [...revenueRows, ...funnelRows, ...slaRows, ...ttfvRows, ...healthRows, ...reasonRows]) keys.add(row.grp);
  const labels = await groupLabels(db, groupBy, [...keys]);

  const groups = [...keys].sort().map((key): MetricsGroup => {
    const revenue = revenueRows.find((row) => row.grp === key);
    const sla = slaRows.find((row) => row.grp === key);
    const ttfv = ttfvRows.find((row) => row.grp === key);
    const health = healthRows.find((row) => row.grp === key);
    const decided = num(sla?.decided ?? null);
    const withinSla = num(sla?.within_sla ?? null);
    return {
      key,
      label: labels.get(key) ?? key,
      revenue: revenueFromRow(revenue),
      health: {
        accounts: num(health?.accounts ?? null),
        healthy: num(health?.healthy ?? null),
        atRisk: num(health?.at_risk ?? null),
        critical: num(health?.critical ?? null),
        insufficientData: num(health?.insufficient_data ?? null),
        notComputed: num(health?.not_computed ?? null),
        averageScore: maybe(health?.average_score ?? null),
      },
      funnel: stages.map((stage) => {
        const row = funnelRows.find((candidate) => candidate.grp === key && candidate.stage === stage.key);
        return {
          stage,
          entered: num(row?.entered ?? null),
          advanced: num(row?.advanced ?? null),
          movedBack: num(row?.moved_back ?? null),
          medianDaysInStage: maybe(row?.median_days ?? null),
          p90DaysInStage: maybe(row?.p90_days ?? null),
          slaBreaches: num(row?.sla_breaches ?? null),
        };
      }),
      handoffSla: {
        handoffs: num(sla?.handoffs ?? null),
        medianHoursToKickoff: maybe(sla?.median_hours ?? null),
        decided,
        withinSla,
        shareWithinSla: ratio(withinSla, decided),
      },
      timeToFirstValue: {
        accounts: num(ttfv?.accounts ?? null),
        reached: num(ttfv?.reached ?? null),
        medianDays: maybe(ttfv?.median_days ?? null),
      },
      lostMrrByReason: reasonRows
        .filter((row) => row.grp === key)
        .map((row) => ({
          reasonKey: row.reason_key,
          label: row.reason_key === null ? 'No reason given' : (row.label ?? row.reason_key),
          churnedMrrCents: num(row.churned),
          contractedMrrCents: num(row.contracted),
        }))
        .sort((a, b) => b.churnedMrrCents + b.contractedMrrCents - (a.churnedMrrCents + a.contractedMrrCents) || a.label.localeCompare(b.label)),
    };
  });
  return { from, to, groupBy, groups };
}

export async function groupLabels(db: Db, groupBy: MetricsGrouping | null, keys: string[]): Promise<Map<string, string>> {
  const labels = new Map<string, string>([
    ['all', 'All accounts'],
    ['unassigned', 'No CSM'],
    ['smb', 'SMB'],
    ['mid_market', 'Mid-market'],
    ['enterprise', 'Enterprise'],
  ]);
  if (groupBy === 'csm') {
    const people = await getUsersByIds(db, keys.filter((key) => key !== 'unassigned'));
    for (const person of people) labels.set(person.id, person.name);
  }
  return labels;
}
