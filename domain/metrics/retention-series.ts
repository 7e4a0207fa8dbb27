// The monthly retention series: NRR, GRR and the month's MRR movements for each of the last N calendar months, in
// one statement (the months from generate_series joined to the revenue ledger), optionally split by segment or CSM.
// Each month is computed exactly as `getMetrics` computes a period from its first to its last day, so a month of
// the series and `metrics(from, to)` over that month always agree.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { addDaysToDay, isoDay } from '../dates.ts';
import { type MetricsGrouping, type Numeric, type RevenueMetrics, groupExpression, groupLabels, metricsGroupings, num, revenueFromRow } from '../metrics.ts';
import { parseInput } from '../validation.ts';

export const DEFAULT_SERIES_MONTHS = 12;
export const MAX_SERIES_MONTHS = 36;

const seriesSchema = z.object({
  months: z
    .number()
    .int('months is a whole number')
    .min(1, 'ask for at least one month')
    .max(MAX_SERIES_MONTHS, `ask for at most ${MAX_SERIES_MONTHS} months`)
    .nullish(),
  through: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
  groupBy: z.enum(metricsGroupings).nullish(),
});

export interface RetentionSeriesParams {
  /** How many calendar months, the last one being the month of `through`; 12 by default. */
  months?: number | null;
  /** The last day counted (YYYY-MM-DD, UTC); today by default. The month it falls in ends on it. */
  through?: string | null;
  groupBy?: MetricsGrouping | null;
  actor: Actor;
  /** "Today" when `through` is not given. */
  now?: Date;
}

export interface RetentionMonth {
  /** The first day of the calendar month. */
  month: string;
  /** The period measured: the first day of the month … its last day, or `through` in the last month. */
  from: string;
  to: string;
  /** MRR of every account (not only the cohort) at the start of `from` and at the end of `to`. */
  openingMrrCents: number;
  closingMrrCents: number;
  revenue: RevenueMetrics;
}

export interface RetentionSeriesGroup {
  key: string;
  label: string;
  months: RetentionMonth[];
}

export interface RetentionSeries {
  from: string;
  to: string;
  groupBy: MetricsGrouping | null;
  groups: RetentionSeriesGroup[];
}

/** The first day of the month `offset` months after the month of `day` (negative: before). */
function monthStart(day: string, offset: number): string {
  const date = new Date(`${day.slice(0, 7)}-01T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + offset);
  return isoDay(date);
}

/**
 * NRR, GRR, opening and closing MRR, and new, expansion, contraction, churned and reactivated MRR for each of the
 * last `months` calendar months through `through`. Managers and admins, like every metric.
 */
export async function getRetentionSeries(db: Db, params: RetentionSeriesParams): Promise<RetentionSeries> {
  requireAccess(params.actor, 'read_metrics');
  const input = parseInput(seriesSchema, params);
  const months = input.months ?? DEFAULT_SERIES_MONTHS;
  const through = input.through ?? isoDay(params.now ?? new Date());
  const groupBy = input.groupBy ?? null;
  const group = groupExpression(groupBy);
  const first = monthStart(through, -(months - 1));
  const starts = Array.from({ length: months }, (_, index) => monthStart(first, index));

  const rows = await queryRows<Record<string, Numeric> & { grp: string; month: string | Date }>(
    db,
    // One row per month, account and group first: the account's MRR before the month, after it, and its movements
    // during it; then the cohort (accounts with MRR at the start) and the whole book summed per month and group.
    sql`with months as (
          select m::date as month_start,
            least((m + interval '1 month' - interval '1 day')::date, ${through}::date) as month_end
          from generate_series(${first}::date::timestamp, ${starts.at(-1)}::date::timestamp, interval '1 month') as m
        ),
        per_account as (
          select mo.month_start, ${group} as grp,
            coalesce(sum(rc.mrr_delta_cents) filter (where rc.effective_date < mo.month_start), 0) as start_mrr,
            coalesce(sum(rc.mrr_delta_cents), 0) as end_mrr,
            coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'new' and rc.effective_date >= mo.month_start), 0) as new_mrr,
            coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'expansion' and rc.effective_date >= mo.month_start), 0) as expansion,
            coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'contraction' and rc.effective_date >= mo.month_start), 0) as contraction,
            coalesce(-sum(rc.mrr_delta_cents) filter (where rc.kind = 'churn' and rc.effective_date >= mo.month_start), 0) as churned,
            coalesce(sum(rc.mrr_delta_cents) filter (where rc.kind = 'reactivation' and rc.effective_date >= mo.month_start), 0) as reactivation
          from months mo
          join revenue_changes rc on rc.effective_date <= mo.month_end
          join accounts a on a.id = rc.account_id
          group by mo.month_start, a.id, grp
        )
        select to_char(month_start, 'YYYY-MM-DD') as month, grp,
          count(*) filter (where start_mrr > 0) as cohort_accounts,
          coalesce(sum(start_mrr) filter (where start_mrr > 0), 0) as start_mrr,
          coalesce(sum(end_mrr) filter (where start_mrr > 0), 0) as end_mrr,
          coalesce(sum(least(start_mrr, greatest(end_mrr, 0))) filter (where start_mrr > 0), 0) as retained_mrr,
          count(*) filter (where start_mrr > 0 and end_mrr <= 0) as churned_logos,
          sum(start_mrr) as opening_mrr, sum(end_mrr) as closing_mrr,
          sum(new_mrr) as new_mrr, sum(expansion) as expansion, sum(contraction) as contraction,
          sum(churned) as churned, sum(reactivation) as reactivation
        from per_account group by month_start, grp`,
  );

  const keys = new Set<string>(groupBy === null ? ['all'] : []);
  for (const row of rows) keys.add(row.grp);
  const labels = await groupLabels(db, groupBy, [...keys]);
  const byKey = new Map(rows.map((row) => [`${row.grp}|${String(row.month)}`, row]));
  const groups = [...keys].sort().map(
    (key): RetentionSeriesGroup => ({
      key,
      label: labels.get(key) ?? key,
      // A month without any ledger entry up to its end is a month of zeros, not a gap.
      months: starts.map((start, index) => {
        const row = byKey.get(`${key}|${start}`);
        const next = starts[index + 1];
        return {
          month: start,
          from: start,
          to: next ? addDaysToDay(next, -1) : through,
          openingMrrCents: num(row?.opening_mrr ?? null),
          closingMrrCents: num(row?.closing_mrr ?? null),
          revenue: revenueFromRow(row),
        };
      }),
    }),
  );
  return { from: first, to: through, groupBy, groups };
}
