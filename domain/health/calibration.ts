// Does the health score predict churn? For every sampled account-day of a period: the health status the account had
// that day, the components behind it, and whether it churned or contracted within a horizon after; summed per status
// and per low component, with the lift against the base rate. One statement over the kept history (health_scores)
// and the revenue ledger and stage moves.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { type HealthComponentName, type HealthStatus, healthComponentNames, healthStatuses } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { DAY_MS, addDaysToDay, isoDay } from '../dates.ts';
import { CHURNED_STAGE } from '../lifecycle/stages.ts';
import { type Numeric, num, ratio } from '../metrics.ts';
import { parseInput } from '../validation.ts';
import { storedComponentScore } from './facts.ts';

export const calibrationSamples = ['daily', 'weekly'] as const;
export type CalibrationSample = (typeof calibrationSamples)[number];

export const DEFAULT_CALIBRATION_HORIZON_DAYS = 90;
export const MIN_CALIBRATION_HORIZON_DAYS = 7;
export const MAX_CALIBRATION_HORIZON_DAYS = 365;
/** The longest period sampled: two years (731 days, so two years with a leap day fit). */
export const MAX_CALIBRATION_PERIOD_DAYS = 731;
/** Without `from`, the period starts this many days before `to`: the last year. */
export const DEFAULT_CALIBRATION_PERIOD_DAYS = 365;
/**
 * A component is "low" on a day when its score (0-100) that day was below this. A component without data (null
 * score) is never low. 40 is the at-risk side of every default threshold, so a low component is one dragging the
 * score down.
 */
export const LOW_COMPONENT_SCORE = 40;
/** With fewer churn events than this in the sample, the calibration says it cannot conclude. */
export const MIN_CONCLUSIVE_CHURNS = 10;

const calibrationSchema = z
  .object({
    from: z.iso.date('use a calendar date written YYYY-MM-DD'),
    to: z.iso.date('use a calendar date written YYYY-MM-DD'),
    horizonDays: z
      .number()
      .int('horizonDays is a whole number of days')
      .min(MIN_CALIBRATION_HORIZON_DAYS, `horizonDays must be at least ${MIN_CALIBRATION_HORIZON_DAYS}`)
      .max(MAX_CALIBRATION_HORIZON_DAYS, `horizonDays must be at most ${MAX_CALIBRATION_HORIZON_DAYS}`)
      .nullish(),
    sample: z.enum(calibrationSamples).nullish(),
  })
  .refine((input) => input.from <= input.to, { message: 'the period must end on or after its first day', path: ['to'] })
  .refine((input) => Date.parse(input.to) - Date.parse(input.from) < MAX_CALIBRATION_PERIOD_DAYS * DAY_MS, {
    message: `a calibration period can span at most two years (${MAX_CALIBRATION_PERIOD_DAYS} days): move from or to closer`,
    path: ['to'],
  });

export interface HealthCalibrationParams {
  reader: Actor;
  /** First sampled day (YYYY-MM-DD, UTC); DEFAULT_CALIBRATION_PERIOD_DAYS before `to` by default. */
  from?: string | null;
  /** Last day that may be sampled (inclusive); today (UTC) by default. */
  to?: string | null;
  /** "Today" when `to` is not given. */
  now?: Date;
  /** How many days after a sampled day a churn or contraction counts as following it; 90 by default. */
  horizonDays?: number | null;
  /** Every day of the period, or every 7th day from `from`; weekly by default. */
  sample?: CalibrationSample | null;
}

/** Account-days of one group (a status, a low component, or all) and what followed them. */
export interface CalibrationCounts {
  accountDays: number;
  /** Distinct accounts among those account-days. */
  accounts: number;
  /** Account-days followed by a churn within the horizon. */
  churnedDays: number;
  /** Account-days followed by a contraction within the horizon. */
  contractedDays: number;
  /** churnedDays ÷ accountDays; null without account-days. */
  churnRate: number | null;
  /** contractedDays ÷ accountDays; null without account-days. */
  contractionRate: number | null;
  /** churnRate ÷ the base churn rate; null when either is null or the base rate is 0. */
  lift: number | null;
}

export interface StatusCalibration extends CalibrationCounts {
  status: HealthStatus;
}

export interface ComponentCalibration extends CalibrationCounts {
  component: HealthComponentName;
}

export interface HealthCalibration {
  from: string;
  to: string;
  horizonDays: number;
  sample: CalibrationSample;
  /** How many days were sampled. */
  sampledDays: number;
  lowComponentScore: number;
  /** Every sampled account-day: the base rates. */
  overall: CalibrationCounts;
  /** Distinct churns (account and day) that followed at least one sampled account-day within the horizon. */
  churnEvents: number;
  statuses: StatusCalibration[];
  components: ComponentCalibration[];
  /** False when there are fewer than MIN_CONCLUSIVE_CHURNS churn events: the rates are too noisy to read. */
  conclusive: boolean;
  /** Why it is not conclusive; null when it is. */
  note: string | null;
}

type CountRow = { grp: string; key: string } & Record<'account_days' | 'accounts' | 'churned_days' | 'contracted_days' | 'churn_events' | 'sampled_days', Numeric>;

function counts(row: CountRow | undefined, baseRate: number | null): CalibrationCounts {
  const accountDays = num(row?.account_days ?? null);
  const churnedDays = num(row?.churned_days ?? null);
  const contractedDays = num(row?.contracted_days ?? null);
  const churnRate = ratio(churnedDays, accountDays);
  return {
    accountDays,
    accounts: num(row?.accounts ?? null),
    churnedDays,
    contractedDays,
    churnRate,
    contractionRate: ratio(contractedDays, accountDays),
    lift: churnRate === null || baseRate === null || baseRate === 0 ? null : churnRate / baseRate,
  };
}

/**
 * The calibration of the health score over a period. An account-day counts when, at the end of that UTC day, the
 * account had a health score (its latest health_scores row at or before then gives the status and components) and
 * had not churned: its latest stage move by then was not to Churned, and its latest new, reactivation or churn
 * ledger entry effective by then was not a churn. It is followed by a churn when the account has a churn ledger
 * entry effective, or a move to Churned made, on a day within (day, day + horizonDays]; likewise a contraction
 * (contraction ledger entries). Managers and admins, like every metric.
 */
export async function healthCalibration(db: Db, params: HealthCalibrationParams): Promise<HealthCalibration> {
  requireAccess(params.reader, 'read_metrics');
  const to = params.to ?? isoDay(params.now ?? new Date());
  const from = params.from ?? (/^\d{4}-\d{2}-\d{2}$/.test(to) ? addDaysToDay(to, -DEFAULT_CALIBRATION_PERIOD_DAYS) : to);
  const input = parseInput(calibrationSchema, { from, to, horizonDays: params.horizonDays, sample: params.sample });
  const horizonDays = input.horizonDays ?? DEFAULT_CALIBRATION_HORIZON_DAYS;
  const sample = input.sample ?? 'weekly';
  const step = sample === 'daily' ? '1 day' : '7 days';
  const lowComponents = sql.join(
    healthComponentNames.map((name) => sql`case when ${storedComponentScore('h', name)} < ${LOW_COMPONENT_SCORE} then ${sql.raw(`'${name}'`)} end`),
    sql`, `,
  );

  const rows = await queryRows<CountRow>(
    db,
    sql`with days as (
          select d::date as day, (d::date + 1)::timestamp at time zone 'UTC' as day_end
          from generate_series(${input.from}::date::timestamp, ${input.to}::date::timestamp, ${step}::interval) as d
        ),
        churns as (
          select account_id, effective_date as day from revenue_changes where kind = 'churn'
          union
          select account_id, (occurred_at at time zone 'UTC')::date from stage_transitions where to_stage = ${CHURNED_STAGE}
        ),
        account_days as (
          select dd.day, a.id as account_id, hs.status::text as status, hs.low_components,
            exists (select 1 from churns c where c.account_id = a.id and c.day > dd.day and c.day <= dd.day + ${horizonDays}::int) as churned,
            exists (
              select 1 from revenue_changes rc
              where rc.account_id = a.id and rc.kind = 'contraction' and rc.effective_date > dd.day and rc.effective_date <= dd.day + ${horizonDays}::int
            ) as contracted
          from days dd
          cross join accounts a
          join lateral (
            -- The components scored low, from the point's facts (or the components stored in words before them).
            select h.status, array_remove(array[${lowComponents}], null) as low_components from health_scores h
            where h.account_id = a.id and h.computed_at < dd.day_end
            order by h.computed_at desc, h.id desc limit 1
          ) hs on true
          where coalesce((
              select st.to_stage = ${CHURNED_STAGE} from stage_transitions st
              where st.account_id = a.id and st.occurred_at < dd.day_end
              order by st.occurred_at desc, st.account_version desc limit 1
            ), false) = false
            and coalesce((
              select rc.kind = 'churn' from revenue_changes rc
              where rc.account_id = a.id and rc.kind in ('new', 'reactivation', 'churn') and rc.effective_date <= dd.day
              order by rc.effective_date desc, rc.created_at desc limit 1
            ), false) = false
        ),
        events as (
          select count(*) as n from churns c
          where exists (select 1 from account_days ad where ad.account_id = c.account_id and c.day > ad.day and c.day <= ad.day + ${horizonDays}::int)
        )
        select 'all' as grp, 'all' as key, count(*) as account_days, count(distinct account_id) as accounts,
          count(*) filter (where churned) as churned_days, count(*) filter (where contracted) as contracted_days,
          (select n from events) as churn_events, (select count(*) from days) as sampled_days
        from account_days
        union all
        select 'status', status, count(*), count(distinct account_id), count(*) filter (where churned), count(*) filter (where contracted), null, null
        from account_days group by status
        union all
        select 'component', comp.name, count(*), count(distinct account_id), count(*) filter (where churned), count(*) filter (where contracted), null, null
        from account_days
        cross join unnest(low_components) as comp(name)
        group by comp.name`,
  );

  const all = rows.find((row) => row.grp === 'all');
  const overall = counts(all, null);
  const baseRate = overall.churnRate;
  overall.lift = baseRate === null || baseRate === 0 ? null : 1;
  const churnEvents = num(all?.churn_events ?? null);
  const find = (grp: string, key: string) => rows.find((row) => row.grp === grp && row.key === key);
  const conclusive = churnEvents >= MIN_CONCLUSIVE_CHURNS;
  return {
    from: input.from,
    to: input.to,
    horizonDays,
    sample,
    sampledDays: num(all?.sampled_days ?? null),
    lowComponentScore: LOW_COMPONENT_SCORE,
    overall,
    churnEvents,
    statuses: healthStatuses.map((status) => ({ status, ...counts(find('status', status), baseRate) })),
    components: healthComponentNames.map((component) => ({ component, ...counts(find('component', component), baseRate) })),
    conclusive,
    note: conclusive ? null : `too few churns to conclude: ${churnEvents}`,
  };
}
