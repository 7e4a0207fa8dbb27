import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import {
  type Account,
  type CsmSentiment,
  type HealthComponents,
  type HealthStatus,
  type Segment,
  type User,
  accountHealth,
  csmSentiments,
  healthScores,
  segments,
} from '../db/schema.ts';
import { InvalidInputError } from './errors.ts';
import { HEALTH_MODEL_VERSION, MODEL, type ResolvedHealthSettings, loadHealthSettings } from './health-model.ts';

const DAY_MS = 86_400_000;

export interface RecomputeHealthParams {
  /** The moment the score is computed as of; signals after it are ignored. Defaults to now. */
  now?: Date;
  /** Only these accounts, e.g. right after new signals arrived; all accounts when omitted. */
  accountIds?: string[];
}

export interface RecomputeHealthResult {
  /** Accounts scored (accounts with no signal at all, and churned accounts, are not). */
  accounts: number;
  /** Accounts whose status differs from their previous score. */
  statusChanges: number;
  /** History rows written: only scores that changed (score, status, components or reasons) add one. */
  historyRows: number;
  /**
   * account_health rows inserted or rewritten: a new or changed score, or a day- or week-old score that moved on.
   * An account whose health is the same is not written at all.
   */
  rowsWritten: number;
}

const uuidList = z.array(z.uuid({ error: 'accountIds must be account ids (UUIDs)' }));

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Per-segment weights and thresholds as a VALUES list, so one statement scores every segment. */
function settingsValues(settings: ResolvedHealthSettings): SQL {
  const rows = segments.map((segment: Segment) => {
    const s = settings[segment];
    return sql`(${segment}::segment, ${s.weights.usage}::float8, ${s.weights.support}::float8, ${s.weights.nps}::float8, ${s.weights.engagement}::float8, ${s.healthyMin}::int, ${s.atRiskMin}::int)`;
  });
  return sql.join(rows, sql`, `);
}

/** A fact that may explain a score: said when `when` holds, ranked by the points it cost (`impact`). */
interface ReasonCandidate {
  when: SQL;
  impact: SQL;
  text: SQL;
}

/** Columns of `scored` (alias `s`) the reasons are made of; every fact the model can name, in tie-break order. */
function reasonCandidates(): ReasonCandidate[] {
  const parts = MODEL.usageParts;
  return [
    {
      when: sql`s.trend_ratio <= ${1 - MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`s.usage_share * ${parts.trend}::float8 * (100 - coalesce(s.trend, 100)) + 1`,
      text: sql`'active users down ' || round((100 * (1 - s.trend_ratio))::numeric) || '% vs prior 4 weeks'`,
    },
    {
      when: sql`s.adoption < 50`,
      impact: sql`s.usage_share * ${parts.adoption}::float8 * (100 - coalesce(s.adoption, 100))`,
      text: sql`'only ' || round(coalesce(s.recent_active, 0)::numeric) || ' of ' || round(s.seats::numeric) || ' seats active'`,
    },
    {
      when: sql`s.key_events < 50`,
      impact: sql`s.usage_share * ${parts.keyEvents}::float8 * (100 - coalesce(s.key_events, 100))`,
      text: sql`round(s.key_events_per_user_day::numeric, 1) || ' key events per active user a day, target ' || ${MODEL.keyEventsPerUserDayTarget}::int`,
    },
    {
      when: sql`(s.urgent_count > 0 or s.high_count > 0 or s.support_score < 70)`,
      impact: sql`s.support_share * (100 - coalesce(s.support_score, 100)) + 1`,
      text: sql`case when s.urgent_count > 0
                     then s.urgent_count || ' open urgent ticket' || case when s.urgent_count = 1 then '' else 's' end || ', oldest ' || floor(s.urgent_oldest) || ' days'
                     when s.high_count > 0
                     then s.high_count || ' open high-severity ticket' || case when s.high_count = 1 then '' else 's' end || ', oldest ' || floor(s.high_oldest) || ' days'
                     else s.open_count || ' open tickets, oldest ' || floor(s.open_oldest) || ' days' end`,
    },
    {
      when: sql`s.nps_worst <= 60`,
      impact: sql`s.nps_share * (100 - coalesce(s.nps_score, 100)) + 1`,
      text: sql`s.nps_worst_text`,
    },
    {
      when: sql`s.touch_days > ${MODEL.touchFreshDays}::int`,
      impact: sql`s.engagement_share * (100 - coalesce(s.touch_score, 100)) / 2`,
      text: sql`'no CSM touch in ' || floor(s.touch_days) || ' days'`,
    },
    {
      when: sql`s.sla_days > 0 and s.days_in_stage > s.sla_days`,
      impact: sql`s.engagement_share * (100 - coalesce(s.sla_score, 100)) / 2`,
      text: sql`floor(s.days_in_stage) || ' days in ' || s.stage_name || ', past its ' || s.sla_days || '-day SLA'`,
    },
    {
      when: sql`s.trend_ratio >= ${1 + MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`0::float8`,
      text: sql`'active users up ' || round((100 * (s.trend_ratio - 1))::numeric) || '% vs prior 4 weeks'`,
    },
  ];
}

/** work_mem for the recompute statement only: its hash aggregates hold one entry per account (100k: ~20 MB). */
export const RECOMPUTE_WORK_MEM = '64MB';

/** How many reasons a score states, costliest first (the note on missing components comes after them). */
const REASONS_SHOWN = 3;

/**
 * Each candidate's place among the reasons, counted from the other impacts (ties go to the earlier candidate), so
 * no per-account sort or aggregate runs: null when it is not said. Expects `impact_<i>` on `s`.
 */
function reasonRanks(candidates: ReasonCandidate[]): SQL {
  const impact = (i: number) => sql.raw(`s.impact_${i}`);
  return sql.join(
    candidates.map((_, i) => {
      const ahead = candidates.flatMap((__, j) => (j === i ? [] : [sql`coalesce(${impact(j)} ${sql.raw(j < i ? '>=' : '>')} ${impact(i)}, false)::int`]));
      return sql`case when ${impact(i)} is not null then ${sql.join(ahead, sql` + `)} end as rank_${sql.raw(String(i))}`;
    }),
    sql`, `,
  );
}

/** The reasons as a jsonb array: the first `REASONS_SHOWN` by rank, then the note on missing components. Only those sentences are formatted. */
function reasonsJson(candidates: ReasonCandidate[]): SQL {
  const positions = Array.from({ length: REASONS_SHOWN }, (_, position) =>
    sql`case ${sql.join(
      candidates.map((candidate, i) => sql`when s.rank_${sql.raw(String(i))} = ${sql.raw(String(position))} then ${candidate.text}`),
      sql` `,
    )} end`,
  );
  return sql`to_jsonb(array_remove(array[${sql.join(positions, sql`, `)}, s.coverage_note]::text[], null))`;
}

/**
 * Recomputes health as one statement over aggregates: each signal table is scanned once with GROUP BY (hash
 * aggregates), the components, score, status and reasons are derived per account in SQL, and the same statement
 * appends history and writes account_health for the scores that changed only. No loop over accounts.
 *
 * `computedAt` of an account's health is when its current score was computed, i.e. when it last changed (it equals
 * the newest history point); a recompute that finds the same score, status, components and reasons leaves the row
 * alone. When health was last recomputed is the health job run's time (job_runs). The day- and week-old scores are
 * kept current on every recompute: a row is rewritten when either moved on, without moving `computedAt`.
 */
export async function recomputeHealth(db: Db | Tx, params: RecomputeHealthParams = {}): Promise<RecomputeHealthResult> {
  const now = params.now ?? new Date();
  let ids: string[] | null = null;
  if (params.accountIds) {
    const parsed = uuidList.safeParse(params.accountIds);
    if (!parsed.success) throw new InvalidInputError('accountIds must be account ids (UUIDs); pass the `id` of each account.', 'accountIds');
    ids = parsed.data;
    if (ids.length === 0) return { accounts: 0, statusChanges: 0, historyRows: 0, rowsWritten: 0 };
  }
  const settings = await loadHealthSettings(db);
  const nowTs = sql`${now.toISOString()}::timestamptz`;
  const today = sql`${isoDay(now)}::date`;
  const idArray = ids ? sql`string_to_array(${ids.join(',')}, ',')::uuid[]` : null;
  const only = (column: SQL) => (idArray ? sql`and ${column} = any(${idArray})` : sql``);
  const recent = MODEL.recentDays;
  const window = MODEL.recentDays + MODEL.priorDays;
  const penalty = MODEL.ticketPenalty;
  const parts = MODEL.usageParts;
  const candidates = reasonCandidates();
  const changed = sql`(p.account_id is null or p.score <> c.score or p.status <> c.status or p.reasons <> c.reasons
                       or p.components is distinct from c.components or p.model_version <> ${HEALTH_MODEL_VERSION}::int)`;

  const statement = sql`
with settings(segment, w_usage, w_support, w_nps, w_engagement, healthy_min, at_risk_min) as (
  values ${settingsValues(settings)}
),
target as (
  select a.id as account_id, a.segment, s.name as stage_name, s.sla_days,
         extract(epoch from (${nowTs} - a.stage_entered_at))::float8 / 86400 as days_in_stage
  from accounts a
  join lifecycle_stages s on s.key = a.stage_key
  where not s.terminal ${only(sql`a.id`)}
),
usage as (
  select u.account_id,
         avg(u.active_users) filter (where u.day > ${today} - ${recent}::int)::float8 as recent_active,
         avg(u.active_users) filter (where u.day <= ${today} - ${recent}::int)::float8 as prior_active,
         max(u.seats)::float8 as seats,
         coalesce(sum(u.key_events) filter (where u.day > ${today} - ${recent}::int), 0)::float8 as recent_key_events,
         coalesce(sum(u.active_users) filter (where u.day > ${today} - ${recent}::int), 0)::float8 as recent_user_days
  from usage_daily u
  where u.day > ${today} - ${window}::int and u.day <= ${today} ${only(sql`u.account_id`)}
  group by u.account_id
),
usage_parts as (
  select account_id, recent_active, prior_active, seats,
         100 * least(1, coalesce(recent_active, 0) / greatest(seats, 1)) as adoption,
         case when prior_active > 0
              then 100 * greatest(0, least(1, 1 - 2 * (1 - coalesce(recent_active, 0) / prior_active))) end as trend,
         case when prior_active > 0 then coalesce(recent_active, 0) / prior_active end as trend_ratio,
         100 * least(1, recent_key_events / greatest(recent_user_days, 1) / ${MODEL.keyEventsPerUserDayTarget}::float8) as key_events,
         recent_key_events / greatest(recent_user_days, 1) as key_events_per_user_day
  from usage
),
support as (
  select t.account_id,
         count(*) filter (where t.open) as open_count,
         coalesce(sum(
           case t.severity when 'urgent' then ${penalty.urgent}::float8 when 'high' then ${penalty.high}::float8
                           when 'normal' then ${penalty.normal}::float8 else ${penalty.low}::float8 end
           * (1 + least(t.age_days, ${MODEL.ticketAgeFullDays}::float8) / ${MODEL.ticketAgeFullDays}::float8)
         ) filter (where t.open), 0) as penalty,
         count(*) filter (where t.open and t.severity = 'urgent') as urgent_count,
         max(t.age_days) filter (where t.open and t.severity = 'urgent') as urgent_oldest,
         count(*) filter (where t.open and t.severity = 'high') as high_count,
         max(t.age_days) filter (where t.open and t.severity = 'high') as high_oldest,
         max(t.age_days) filter (where t.open) as open_oldest
  from (
    select account_id, severity,
           (resolved_at is null or resolved_at > ${nowTs}) as open,
           extract(epoch from (${nowTs} - opened_at))::float8 / 86400 as age_days
    from tickets
    where opened_at <= ${nowTs} ${only(sql`account_id`)}
  ) t
  group by t.account_id
),
latest_surveys as (
  -- The latest answer of each respondent: someone who answered 3 then 9 is a 9 now.
  select distinct on (account_id, coalesce(lower(respondent_email), id::text))
         account_id, kind, score, respondent_role, respondent_email,
         case kind when 'nps' then score * 10.0 else (score - 1) * 25.0 end::float8 as normalized,
         power(0.5, extract(epoch from (${nowTs} - responded_at))::float8 / 86400 / ${MODEL.surveyHalfLifeDays}::float8) as decay
  from survey_responses
  where responded_at <= ${nowTs} and responded_at > ${nowTs} - make_interval(days => ${MODEL.surveyLookbackDays}::int)
        ${only(sql`account_id`)}
  order by account_id, coalesce(lower(respondent_email), id::text), responded_at desc
),
nps as (
  select account_id,
         sum(normalized * decay) / sum(decay) as score,
         count(*) as responses,
         min(normalized) as worst,
         (array_agg(
            upper(kind::text) || ' ' || score || ' from '
            || coalesce('the ' || nullif(trim(respondent_role), ''), respondent_email, 'a respondent')
            order by normalized, decay desc))[1] as worst_text
  from latest_surveys
  group by account_id
),
touches as (
  select account_id, extract(epoch from (${nowTs} - max(occurred_at)))::float8 / 86400 as days_since
  from csm_touches
  where occurred_at <= ${nowTs} ${only(sql`account_id`)}
  group by account_id
),
components as (
  select t.account_id, t.segment, t.stage_name, t.sla_days, t.days_in_stage,
         up.recent_active, up.prior_active, up.seats, up.adoption, up.trend, up.trend_ratio, up.key_events, up.key_events_per_user_day,
         case when up.account_id is not null then
           (${parts.adoption}::float8 * up.adoption + ${parts.keyEvents}::float8 * up.key_events + coalesce(${parts.trend}::float8 * up.trend, 0))
           / (${parts.adoption + parts.keyEvents}::float8 + case when up.trend is null then 0 else ${parts.trend}::float8 end)
         end as usage_score,
         sp.open_count, sp.urgent_count, sp.urgent_oldest, sp.high_count, sp.high_oldest, sp.open_oldest,
         case when sp.account_id is not null then greatest(0, 100 - sp.penalty) end as support_score,
         n.score as nps_score, n.responses as nps_responses, n.worst as nps_worst, n.worst_text as nps_worst_text,
         tc.days_since as touch_days,
         case when tc.account_id is not null then
           100 * greatest(0, least(1, (${MODEL.touchStaleDays}::float8 - tc.days_since) / ${MODEL.touchStaleDays - MODEL.touchFreshDays}::float8))
         end as touch_score,
         case when t.sla_days > 0 then 100 * greatest(0, least(1, 2 - t.days_in_stage / t.sla_days)) end as sla_score,
         s.w_usage, s.w_support, s.w_nps, s.w_engagement, s.healthy_min, s.at_risk_min
  from target t
  join settings s on s.segment = t.segment
  left join usage_parts up on up.account_id = t.account_id
  left join support sp on sp.account_id = t.account_id
  left join nps n on n.account_id = t.account_id
  left join touches tc on tc.account_id = t.account_id
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
           case when c.touch_score is null and c.sla_score is null then null
                else (coalesce(c.touch_score, 0) + coalesce(c.sla_score, 0))
                     / ((c.touch_score is not null)::int + (c.sla_score is not null)::int) end as engagement_score
    from components c
    offset 0
  ) w
  offset 0
),
scored as (
  select s.*,
         round((coalesce(w_usage * usage_score, 0) + coalesce(w_support * support_score, 0)
                + coalesce(w_nps * nps_score, 0) + coalesce(w_engagement * engagement_score, 0)) / weight_total)::int as score,
         case when usage_score is null then 0 else w_usage / weight_total end as usage_share,
         case when support_score is null then 0 else w_support / weight_total end as support_share,
         case when nps_score is null then 0 else w_nps / weight_total end as nps_share,
         case when engagement_score is null then 0 else w_engagement / weight_total end as engagement_share
  from shares s
  where weight_total > 0
  offset 0
),
reasoned as (
  -- Every fact that may explain the score, with the points it cost (null when it is not worth saying).
  select s.*,
         ${sql.join(
           candidates.map((candidate, i) => sql`case when ${candidate.when} then ${candidate.impact} end as impact_${sql.raw(String(i))}`),
           sql`, `,
         )},
         -- The score says when it stands on fewer components than the model has.
         case when s.usage_score is null or s.support_score is null or s.nps_score is null or s.engagement_score is null
              then 'no ' || array_to_string(array[case when s.usage_score is null then 'usage' end, case when s.support_score is null then 'support' end,
                                                  case when s.nps_score is null then 'NPS/CSAT' end, case when s.engagement_score is null then 'engagement' end], ' or ')
                   || ' data: scored on '
                   || array_to_string(array[case when s.usage_score is not null then 'usage' end, case when s.support_score is not null then 'support' end,
                                            case when s.nps_score is not null then 'NPS/CSAT' end, case when s.engagement_score is not null then 'engagement' end], ', ')
         end as coverage_note
  from scored s
  offset 0
),
ranked as (
  select s.*, ${reasonRanks(candidates)}
  from reasoned s
  offset 0
),
final as (
  select s.account_id, s.score,
         (case when s.score >= s.healthy_min then 'healthy' when s.score >= s.at_risk_min then 'at_risk' else 'critical' end)::health_status as status,
         jsonb_build_object(
           'usage', jsonb_build_object(
             'score', round(s.usage_score)::int, 'weight', round((100 * s.usage_share)::numeric, 1),
             'detail', case when s.usage_score is null then 'no usage data in the last 6 weeks: left out, its weight shared by the others'
                            else round(coalesce(s.recent_active, 0)::numeric) || ' of ' || round(s.seats::numeric) || ' seats active (14-day average)'
                                 || case when s.trend_ratio is null then ', no earlier weeks to compare'
                                         else ', ' || to_char(round((100 * (s.trend_ratio - 1))::numeric), 'FMSG999990') || '% vs prior 4 weeks' end
                                 || ', ' || round(s.key_events_per_user_day::numeric, 1) || ' key events per active user a day' end),
           'support', jsonb_build_object(
             'score', round(s.support_score)::int, 'weight', round((100 * s.support_share)::numeric, 1),
             'detail', case when s.support_score is null then 'no tickets on record: left out, its weight shared by the others'
                            when s.open_count = 0 then 'no open tickets'
                            else s.open_count || ' open ticket' || case when s.open_count = 1 then '' else 's' end
                                 || ', oldest ' || floor(s.open_oldest) || ' days' end),
           'nps', jsonb_build_object(
             'score', round(s.nps_score)::int, 'weight', round((100 * s.nps_share)::numeric, 1),
             'detail', case when s.nps_score is null then 'no NPS or CSAT answer in the last year: left out, its weight shared by the others'
                            else s.nps_responses || ' respondent' || case when s.nps_responses = 1 then '' else 's' end
                                 || ' in the last year, recent answers weigh more' end),
           'engagement', jsonb_build_object(
             'score', round(s.engagement_score)::int, 'weight', round((100 * s.engagement_share)::numeric, 1),
             'detail', case when s.engagement_score is null then 'no CSM touch and no stage SLA: left out, its weight shared by the others'
                            else concat_ws('; ',
                                   case when s.touch_days is null then 'no CSM touch recorded' else 'last CSM touch ' || floor(s.touch_days) || ' days ago' end,
                                   case when s.sla_days > 0 then floor(s.days_in_stage) || ' days in ' || s.stage_name || ' (SLA ' || s.sla_days || ' days)' end) end)
         ) as components,
         ${reasonsJson(candidates)} as reasons
  from ranked s
  offset 0 -- built once: compared refers to components and reasons twice
),
compared as materialized (
  select c.account_id, c.score, c.status, c.components, c.reasons,
         p.account_id is not null as existed, p.status as previous_status,
         ${changed} as changed,
         -- History holds only changes, so the newest point at or before a moment is the score in effect then; a score
         -- computed at or before that moment and still current needs no lookup.
         case when p.computed_at <= ${nowTs} - interval '1 day' then p.score
              else (select h.score from health_scores h where h.account_id = c.account_id and h.computed_at <= ${nowTs} - interval '1 day'
                    order by h.computed_at desc limit 1) end as score_day_ago,
         case when p.computed_at <= ${nowTs} - interval '7 days' then p.score
              else (select h.score from health_scores h where h.account_id = c.account_id and h.computed_at <= ${nowTs} - interval '7 days'
                    order by h.computed_at desc limit 1) end as score_week_ago,
         p.score_day_ago as previous_day_ago, p.score_week_ago as previous_week_ago
  from final c
  left join account_health p on p.account_id = c.account_id
),
history as (
  insert into health_scores (account_id, score, status, components, reasons, model_version, computed_at)
  select c.account_id, c.score, c.status, c.components, c.reasons, ${HEALTH_MODEL_VERSION}::int, ${nowTs}
  from compared c
  where c.changed
  returning account_id
),
written as (
  insert into account_health (account_id, score, status, score_day_ago, score_week_ago, reasons, components, computed_at, model_version)
  select c.account_id, c.score, c.status, c.score_day_ago, c.score_week_ago, c.reasons, c.components, ${nowTs}, ${HEALTH_MODEL_VERSION}::int
  from compared c
  where c.changed or c.score_day_ago is distinct from c.previous_day_ago or c.score_week_ago is distinct from c.previous_week_ago
  on conflict (account_id) do update set
    score = excluded.score, status = excluded.status, score_day_ago = excluded.score_day_ago,
    score_week_ago = excluded.score_week_ago, reasons = excluded.reasons, components = excluded.components,
    -- Only a changed score moves computedAt; a day- or week-old score moving on does not.
    computed_at = case when (account_health.score, account_health.status, account_health.model_version) = (excluded.score, excluded.status, excluded.model_version)
                            and account_health.reasons = excluded.reasons and account_health.components is not distinct from excluded.components
                       then account_health.computed_at else excluded.computed_at end,
    model_version = excluded.model_version
  returning account_id
)
select (select count(*) from compared) as accounts,
       (select count(*) from compared where existed and previous_status <> status) as status_changes,
       (select count(*) from history) as history_rows,
       (select count(*) from written) as rows_written
`;

  type Counts = { accounts: number | string; status_changes: number | string; history_rows: number | string; rows_written: number | string };
  // JIT compiling this statement's many expressions costs seconds, more than it saves on ~100k rows; the hash
  // aggregates over usage need more than the default work_mem to stay in memory (100k accounts: ~20 MB).
  // Set for this transaction only, and put back afterwards for a caller's transaction that goes on.
  const row = await db.transaction(async (tx) => {
    const [before] = await queryRows<{ jit: string; work_mem: string }>(
      tx,
      sql`select current_setting('jit') as jit, current_setting('work_mem') as work_mem,
                 set_config('jit', 'off', true) as jit_off, set_config('work_mem', ${RECOMPUTE_WORK_MEM}, true) as work_mem_set`,
    );
    const [counts] = await queryRows<Counts>(tx, statement);
    if (before) await tx.execute(sql`select set_config('jit', ${before.jit}, true), set_config('work_mem', ${before.work_mem}, true)`);
    return counts;
  });
  return {
    accounts: Number(row?.accounts ?? 0),
    statusChanges: Number(row?.status_changes ?? 0),
    historyRows: Number(row?.history_rows ?? 0),
    rowsWritten: Number(row?.rows_written ?? 0),
  };
}

export interface AtRiskItem {
  account: Account;
  score: number;
  status: HealthStatus;
  scoreDayAgo: number | null;
  /** Points lost since about a day ago: positive means the score fell. */
  drop: number;
  reasons: string[];
  renewalDate: string | null;
  csm: User | null;
}

export interface ListAtRiskParams {
  /** Only this CSM's accounts; null or omitted for everyone's. */
  csmId?: string | null;
  /** Only accounts where this user is the CSM or the account executive (an AE's own book). */
  ownerId?: string | null;
  limit?: number;
  /** Reserved for callers that pin time (digests, tests); the list reads the latest computed scores. */
  now?: Date;
}

/** A Healthy account still makes the list when it lost at least this many points since yesterday. */
export const AT_RISK_DROP_POINTS = 10;

/** Accounts At risk or Critical, or falling fast, biggest drop first, then lowest score. Churned accounts never. */
export async function listAtRisk(db: Db | Tx, params: ListAtRiskParams = {}): Promise<AtRiskItem[]> {
  const limit = Math.min(Math.max(params.limit ?? 50, 1), 500);
  const csmFilter = sql`${params.csmId ? sql`and a.csm_id = ${params.csmId}::uuid` : sql``} ${
    params.ownerId ? sql`and (a.csm_id = ${params.ownerId}::uuid or a.ae_id = ${params.ownerId}::uuid)` : sql``
  }`;
  const rows = await queryRows<{ account_id: string; drop: number | string }>(
    db,
    sql`
select a.id as account_id, coalesce(h.score_day_ago - h.score, 0) as drop
from account_health h
join accounts a on a.id = h.account_id
join lifecycle_stages s on s.key = a.stage_key
where not s.terminal ${csmFilter}
  and (h.status <> 'healthy' or coalesce(h.score_day_ago - h.score, 0) >= ${AT_RISK_DROP_POINTS}::int)
order by coalesce(h.score_day_ago - h.score, 0) desc, h.score asc, a.name asc
limit ${limit}::int`,
  );
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.account_id);
  const found = await db.query.accounts.findMany({ where: (account, { inArray }) => inArray(account.id, ids) });
  const healthRows = await db.query.accountHealth.findMany({ where: (health, { inArray }) => inArray(health.accountId, ids) });
  const csmIds = [...new Set(found.map((account) => account.csmId).filter((id): id is string => id !== null))];
  const csms = csmIds.length > 0 ? await db.query.users.findMany({ where: (user, { inArray }) => inArray(user.id, csmIds) }) : [];
  const accountById = new Map(found.map((account) => [account.id, account]));
  const healthById = new Map(healthRows.map((health) => [health.accountId, health]));
  const csmById = new Map(csms.map((user) => [user.id, user]));
  const items: AtRiskItem[] = [];
  for (const row of rows) {
    const account = accountById.get(row.account_id);
    const health = healthById.get(row.account_id);
    if (!account || !health) continue;
    items.push({
      account,
      score: health.score,
      status: health.status,
      scoreDayAgo: health.scoreDayAgo,
      drop: Number(row.drop),
      reasons: health.reasons,
      renewalDate: account.contractEnd,
      csm: account.csmId ? (csmById.get(account.csmId) ?? null) : null,
    });
  }
  return items;
}

export interface HealthPoint {
  score: number;
  status: HealthStatus;
  computedAt: Date;
  reasons: string[];
}

export interface AccountHealthView {
  accountId: string;
  score: number;
  status: HealthStatus;
  components: HealthComponents | null;
  reasons: string[];
  computedAt: Date;
  modelVersion: number;
  scoreDayAgo: number | null;
  scoreWeekAgo: number | null;
  /** Points lost since about a day / a week ago; positive means it fell, null without history that old. */
  dropSinceYesterday: number | null;
  dropSinceLastWeek: number | null;
  /** Every change of the last `historyDays`, newest first. */
  history: HealthPoint[];
  /** The CSM's own read, shown beside the score and never mixed into it. */
  sentiment: CsmSentiment | null;
}

export interface GetAccountHealthParams {
  historyDays?: number;
  now?: Date;
}

export async function getAccountHealth(db: Db | Tx, accountId: string, params: GetAccountHealthParams = {}): Promise<AccountHealthView | null> {
  const [current] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, accountId));
  if (!current) return null;
  const since = new Date((params.now ?? current.computedAt).getTime() - (params.historyDays ?? 90) * DAY_MS);
  const history = await db
    .select({ score: healthScores.score, status: healthScores.status, computedAt: healthScores.computedAt, reasons: healthScores.reasons })
    .from(healthScores)
    .where(and(eq(healthScores.accountId, accountId), gte(healthScores.computedAt, since)))
    .orderBy(desc(healthScores.computedAt))
    .limit(500);
  const [sentiment] = await db
    .select()
    .from(csmSentiments)
    .where(eq(csmSentiments.accountId, accountId))
    .orderBy(desc(csmSentiments.recordedAt))
    .limit(1);
  return {
    accountId,
    score: current.score,
    status: current.status,
    components: current.components,
    reasons: current.reasons,
    computedAt: current.computedAt,
    modelVersion: current.modelVersion,
    scoreDayAgo: current.scoreDayAgo,
    scoreWeekAgo: current.scoreWeekAgo,
    dropSinceYesterday: current.scoreDayAgo === null ? null : current.scoreDayAgo - current.score,
    dropSinceLastWeek: current.scoreWeekAgo === null ? null : current.scoreWeekAgo - current.score,
    history,
    sentiment: sentiment ?? null,
  };
}
