/**
 * The model in SQL: each account's component scores from its usage, tickets, survey answers and CSM touches, the
 * weights its segment gives them, and the score they make. Parts of the recompute statement.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Segment, segments } from '../../db/schema.ts';
import { MODEL, type ResolvedHealthSettings } from './model.ts';
import { onboardingMilestoneCounts } from '../plays/playbook-runs.ts';
import { daysSince } from './signals-kept.ts';

/** The moment a recompute is computed as of, and which accounts it covers. */
export interface ScoringScope {
  nowTs: SQL;
  /** Narrows a part to the accounts asked for; nothing when the whole book is recomputed. */
  only: (column: SQL) => SQL;
}

/** Per-segment weights and thresholds as a VALUES list, so one statement scores every segment. */
function settingsValues(settings: ResolvedHealthSettings): SQL {
  const rows = segments.map((segment: Segment) => {
    const s = settings[segment];
    return sql`(${segment}::segment, ${s.weights.usage}::float8, ${s.weights.support}::float8, ${s.weights.nps}::float8, ${s.weights.engagement}::float8, ${s.healthyMin}::int, ${s.atRiskMin}::int)`;
  });
  return sql.join(rows, sql`, `);
}

/**
 * Customer signal, on a `components` row (alias `c`): usage in the window (the last 6 weeks), a ticket on record, an
 * NPS/CSAT answer in the last year, a CSM touch on record. An account with none of them is recomputed as
 * insufficient_data, with no score: its stage SLA alone says nothing about the customer.
 */
const CUSTOMER_SIGNAL = sql.raw('c.usage_score is not null or c.support_score is not null or c.nps_score is not null or c.touch_score is not null');

/** The accounts to score, every one not in a terminal stage, with their stage and their segment's settings. */
export function accountsToScore({ nowTs, only }: ScoringScope, settings: ResolvedHealthSettings): SQL {
  return sql`settings(segment, w_usage, w_support, w_nps, w_engagement, healthy_min, at_risk_min) as (
  values ${settingsValues(settings)}
),
stages as materialized (
  -- A stage's name is said with its SLA; a hash of it stands for it among the facts, computed once per stage.
  select key, name, sla_days, hashtextextended(name, 0) as name_hash
  from lifecycle_stages
  where not terminal
),
target as (
  select a.id as account_id, a.segment, s.name as stage_name, s.sla_days, s.name_hash as stage_name_hash,
         ${daysSince(nowTs, sql`a.stage_entered_at`)} as days_in_stage
  from accounts a
  join stages s on s.key = a.stage_key
  where true ${only(sql`a.id`)}
)`;
}

/**
 * Each onboarding account's milestones (the tasks of its onboarding run) due by now and reached on time: where an
 * account has any due, their share on time is the time-to-value part of engagement, in place of time in stage
 * against the stage's SLA.
 */
export function onboardingMilestones({ nowTs, only }: ScoringScope): SQL {
  return sql`milestones as (${onboardingMilestoneCounts(nowTs, only)})`;
}

/** Each component's score, the weight it keeps when others have no data, and the score they make. */
export function componentScores(): SQL {
  return sql`components as (
  select t.account_id, t.segment, t.stage_name, t.stage_name_hash, t.sla_days, t.days_in_stage,
         up.seats, up.adoption, up.trend, up.trend_ratio, up.key_events,
         up.sum_recent_users, up.recent_days, up.sum_prior_users, up.prior_days, up.sum_recent_key_events, up.usage_score,
         -- Null, not 0, for an account without tickets or answers: the facts say "no data" apart from "none open".
         ${sql.raw(['open_count', 'urgent_count', 'urgent_oldest', 'high_count', 'high_oldest', 'open_oldest'].map((column) => `case when g.ticket_rows > 0 then g.${column} end as ${column}`).join(', '))},
         case when g.ticket_rows > 0 then greatest(0, 100 - g.penalty) end as support_score,
         g.nps_score, case when g.nps_responses > 0 then g.nps_responses end as nps_responses, g.nps_worst, g.nps_worst_key, g.nps_worst_said,
         g.touch_days,
         -- greatest and least pass over nulls: without a touch there is no touch score.
         case when g.touch_days is not null then
           100 * greatest(0, least(1, (${MODEL.touchStaleDays}::float8 - g.touch_days) / ${MODEL.touchStaleDays - MODEL.touchFreshDays}::float8))
         end as touch_score,
         case when t.sla_days > 0 then 100 * greatest(0, least(1, 2 - t.days_in_stage / t.sla_days)) end as sla_score,
         m.milestones_due, m.milestones_on_time,
         case when m.milestones_due > 0 then 100.0 * m.milestones_on_time / m.milestones_due end::float8 as milestone_score,
         s.w_usage, s.w_support, s.w_nps, s.w_engagement, s.healthy_min, s.at_risk_min
  from target t
  join settings s on s.segment = t.segment
  left join usage_parts up on up.account_id = t.account_id
  left join signals g on g.account_id = t.account_id
  left join milestones m on m.account_id = t.account_id
  offset 0 -- computed once per account: the steps below refer to each column many times
),
shares as (
  -- A component with no data gets no weight: the others share it, in proportion to their own weights.
  select w.*,
         (case when usage_score is null then 0 else w_usage end
          + case when support_score is null then 0 else w_support end
          + case when nps_score is null then 0 else w_nps end
          + case when engagement_score is null then 0 else w_engagement end) as weight_total
  from (
    select c.*,
           -- Time to value (onboarding milestones on time where the account has any due, else time in stage against
           -- its SLA) is our own clock, not a signal from the customer: it counts beside one (a touch, or another
           -- component with data) and never alone, so an account with no customer signal has no component with
           -- data, no score, and the status insufficient_data.
           case when c.touch_score is null and (c.pace_score is null or not (${CUSTOMER_SIGNAL})) then null
                else (coalesce(c.touch_score, 0) + coalesce(c.pace_score, 0))
                     / ((c.touch_score is not null)::int + (c.pace_score is not null)::int) end as engagement_score
    from (select c.*, coalesce(c.milestone_score, c.sla_score) as pace_score from components c offset 0) c
    offset 0
  ) w
  offset 0
),
scored as (
  -- An account with no weighted component (no customer signal) has no score (null): it goes on, as insufficient_data.
  select s.*,
         round((coalesce(w_usage * usage_score, 0) + coalesce(w_support * support_score, 0)
                + coalesce(w_nps * nps_score, 0) + coalesce(w_engagement * engagement_score, 0)) / nullif(weight_total, 0))::int as score,
         case when usage_score is null then 0 else w_usage / nullif(weight_total, 0) end as usage_share,
         case when support_score is null then 0 else w_support / nullif(weight_total, 0) end as support_share,
         case when nps_score is null then 0 else w_nps / nullif(weight_total, 0) end as nps_share,
         case when engagement_score is null then 0 else w_engagement / nullif(weight_total, 0) end as engagement_share
  from shares s
  offset 0
)`;
}
