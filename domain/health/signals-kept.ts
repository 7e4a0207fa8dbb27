/**
 * Each account's tickets, latest survey answers and CSM touches as the score reads them, kept between recomputes in
 * health_signals in forms that hold at any moment until the first of the account's signals enters or leaves what is
 * counted, and aggregated anew only for the accounts whose kept row does not answer (none, past its edge, or signals
 * written since: triggers record every write in signal_changes). Parts of the recompute statement.
 */
import { createHash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { surveyAnswerKey } from './facts.ts';
import { HEALTH_MODEL_VERSION, MODEL } from './model.ts';
import type { ScoringScope } from './scoring.ts';

/** Bumped when what health_signals holds, or how it is derived, changes: every kept row is then aggregated anew. */
const SIGNALS_VERSION = 1;

/** The model constants the kept signals are derived with, as a 64-bit hash: other constants make them stale. */
const SIGNALS_MODEL = createHash('sha256')
  .update(
    JSON.stringify([SIGNALS_VERSION, HEALTH_MODEL_VERSION, MODEL.ticketPenalty, MODEL.ticketAgeFullDays, MODEL.surveyLookbackDays, MODEL.surveyHalfLifeDays]),
  )
  .digest()
  .readBigInt64BE(0)
  .toString();

/**
 * Above this many accounts to aggregate anew (the first recompute, a model change), the signal tables are scanned
 * whole and grouped; below it, each account's rows are read by its index.
 */
const WIDE_AGGREGATE = 2000;

/** What health_signals keeps of each account, in column order. */
const KEPT_COLUMNS = [
  'account_id', 'model', 'valid_from', 'valid_until', 'ticket_rows', 'open_count', 'urgent_count', 'high_count', 'open_first', 'urgent_first',
  'high_first', 'penalty_full', 'penalty_young', 'penalty_young_epoch', 'nps_responses', 'nps_worst', 'nps_worst_key', 'nps_weighted',
  'nps_weight', 'nps_worst_said', 'touch_last',
] as const;

/**
 * Days from a moment to now, in float8: date_part works in float8, while extract() goes through numeric, which
 * costs more than the rest of the expression over every account.
 */
export function daysSince(nowTs: SQL, from: SQL): SQL {
  return sql`(date_part('epoch', ${nowTs} - ${from}) / 86400)`;
}

/**
 * The signals of each account as the components read them (`signals`: ticket counts, penalty and ages, the decayed
 * NPS, the worst answer, days since the latest touch): from the kept rows that answer, else aggregated anew. A
 * recompute of every account keeps what it aggregated (`wholeBook`) and removes the signal_changes it read.
 */
export function customerSignals({ nowTs, only }: ScoringScope, wholeBook: boolean): SQL {
  const penalty = MODEL.ticketPenalty;
  const fullAgeSeconds = MODEL.ticketAgeFullDays * 86400;
  const fullAge = sql`make_interval(secs => ${fullAgeSeconds}::int)`;
  const lookback = sql`make_interval(days => ${MODEL.surveyLookbackDays}::int)`;
  const model = sql`${SIGNALS_MODEL}::int8`;
  const wide = sql`(select wide from signal_wide)`;
  // Each signal table's rows of the accounts aggregated anew: scanned whole and matched by hash when many are, else
  // read by the account's index.
  const staleRows = (table: string, columns: string) => {
    const list = sql.raw(columns.split(', ').map((column) => `t.${column}`).join(', '));
    return sql`select ${list} from ${sql.raw(table)} t where ${wide} and t.account_id in (select account_id from signal_stale)
  union all
  select ${list} from signal_stale s join ${sql.raw(table)} t on t.account_id = s.account_id where not ${wide}`;
  };
  const signals = sql`signal_stale as materialized (
  -- The accounts whose kept signals do not answer: none kept, by another model, kept as of a later moment or past
  -- the first moment one of their signals enters or leaves what is counted, or their signals were written since.
  select t.account_id from target t
  left join health_signals k on k.account_id = t.account_id
  where k.account_id is null or k.model <> ${model} or k.valid_from > ${nowTs} or k.valid_until <= ${nowTs}
  union
  select c.account_id from signal_changes c where true ${only(sql`c.account_id`)}
),
signal_wide as materialized (
  select count(*) > ${WIDE_AGGREGATE}::int as wide from signal_stale
),
stale_tickets as (
  ${staleRows('tickets', 'account_id, severity, opened_at, resolved_at')}
),
stale_surveys as (
  ${staleRows('survey_responses', 'id, account_id, kind, score, respondent_role, respondent_email, responded_at')}
),
stale_touches as (
  ${staleRows('csm_touches', 'account_id, occurred_at')}
),
signal_tickets as (
  -- Open tickets at least 30 days old cost their points twice; a younger one its points times (1 + age / 30 days),
  -- kept as the sums of its points and of its points times the epoch it was opened at.
  select account_id,
         count(*) filter (where opened_at <= ${nowTs}) as ticket_rows,
         count(*) filter (where open) as open_count,
         count(*) filter (where open and severity = 'urgent') as urgent_count,
         count(*) filter (where open and severity = 'high') as high_count,
         min(opened_at) filter (where open) as open_first,
         min(opened_at) filter (where open and severity = 'urgent') as urgent_first,
         min(opened_at) filter (where open and severity = 'high') as high_first,
         coalesce(sum(2 * points) filter (where open and not young), 0)::float8 as penalty_full,
         coalesce(sum(points) filter (where open and young), 0)::float8 as penalty_young,
         coalesce(sum(points * extract(epoch from opened_at)) filter (where open and young), 0) as penalty_young_epoch,
         -- The first moment a ticket is opened, resolved or 30 days old.
         min(least(case when opened_at > ${nowTs} then opened_at end, case when resolved_at > ${nowTs} then resolved_at end,
                   case when open and young then opened_at + ${fullAge} end)) as edge
  from (
    select t.*, t.opened_at <= ${nowTs} and (t.resolved_at is null or t.resolved_at > ${nowTs}) as open,
           t.opened_at > ${nowTs} - ${fullAge} as young,
           case t.severity when 'urgent' then ${penalty.urgent}::int when 'high' then ${penalty.high}::int
                           when 'normal' then ${penalty.normal}::int else ${penalty.low}::int end as points
    from stale_tickets t
  ) t
  group by account_id
),
signal_latest_surveys as (
  -- The latest answer of each respondent: someone who answered 3 then 9 is a 9 now. Respondents are told apart by
  -- their bytes ("C"): only equality matters, not a language's order.
  select distinct on (account_id, coalesce(lower(respondent_email), id::text) collate "C")
         account_id, ${surveyAnswerKey('stale_surveys')} as answer_key, responded_at,
         case kind when 'nps' then score * 10.0 else (score - 1) * 25.0 end::float8 as normalized,
         -- How the answer is said when it is the worst: the NPS reason names it.
         upper(kind::text) || ' ' || score || ' from ' || coalesce('the ' || nullif(trim(respondent_role), ''), respondent_email, 'a respondent') as said
  from stale_surveys
  where responded_at <= ${nowTs} and responded_at > ${nowTs} - ${lookback}
  order by account_id, coalesce(lower(respondent_email), id::text) collate "C", responded_at desc
),
signal_surveys as (
  -- Each answer weighs half as much every 90 days, here against the account's latest answer: the ratio of the sums
  -- is the decayed average at any later moment.
  select account_id, count(*) as nps_responses, min(normalized) as nps_worst, min(answer_key) as nps_worst_key,
         sum(normalized * decay) as nps_weighted, sum(decay) as nps_weight, (array_agg(said order by answer_key))[1] as nps_worst_said
  from (
    select s.*, power(0.5, ${daysSince(sql`max(s.responded_at) over (partition by s.account_id)`, sql`s.responded_at`)} / ${MODEL.surveyHalfLifeDays}::float8) as decay
    from signal_latest_surveys s
  ) s
  group by account_id
),
signal_survey_edges as (
  -- The first moment an answer is given or leaves the year.
  select account_id, min(case when responded_at > ${nowTs} then responded_at else responded_at + ${lookback} end) as edge
  from stale_surveys
  where responded_at + ${lookback} > ${nowTs}
  group by account_id
),
signal_touches as (
  select account_id, max(occurred_at) filter (where occurred_at <= ${nowTs}) as touch_last,
         min(occurred_at) filter (where occurred_at > ${nowTs}) as edge
  from stale_touches
  group by account_id
),
signal_computed as (
  select s.account_id, ${model} as model, ${nowTs} as valid_from, least(tk.edge, se.edge, tc.edge) as valid_until,
         coalesce(tk.ticket_rows, 0) as ticket_rows, coalesce(tk.open_count, 0) as open_count, coalesce(tk.urgent_count, 0) as urgent_count,
         coalesce(tk.high_count, 0) as high_count, tk.open_first, tk.urgent_first, tk.high_first,
         coalesce(tk.penalty_full, 0) as penalty_full, coalesce(tk.penalty_young, 0) as penalty_young,
         coalesce(tk.penalty_young_epoch, 0) as penalty_young_epoch,
         coalesce(sv.nps_responses, 0) as nps_responses, sv.nps_worst, sv.nps_worst_key, sv.nps_weighted, sv.nps_weight, sv.nps_worst_said,
         tc.touch_last
  from signal_stale s
  left join signal_tickets tk on tk.account_id = s.account_id
  left join signal_surveys sv on sv.account_id = s.account_id
  left join signal_survey_edges se on se.account_id = s.account_id
  left join signal_touches tc on tc.account_id = s.account_id
),
signal_rows as (
  select ${sql.raw(KEPT_COLUMNS.map((column) => `k.${column}`).join(', '))}
  from health_signals k
  where true ${only(sql`k.account_id`)} and not exists (select from signal_stale s where s.account_id = k.account_id)
  union all
  select ${sql.raw(KEPT_COLUMNS.join(', '))} from signal_computed
),
signals as (
  select account_id, ticket_rows, open_count,
         -- Exact arithmetic on the sums: the penalty of the young tickets grows with their age.
         case when penalty_young = 0 then penalty_full
              else (penalty_full::numeric + penalty_young::numeric
                    + (penalty_young::numeric * extract(epoch from ${nowTs}) - penalty_young_epoch) / ${fullAgeSeconds}::int)::float8 end as penalty,
         urgent_count, ${daysSince(nowTs, sql`urgent_first`)} as urgent_oldest,
         high_count, ${daysSince(nowTs, sql`high_first`)} as high_oldest,
         ${daysSince(nowTs, sql`open_first`)} as open_oldest,
         nps_weighted / nps_weight as nps_score, nps_responses, nps_worst, nps_worst_key, nps_worst_said,
         ${daysSince(nowTs, sql`touch_last`)} as touch_days
  from signal_rows
)`;
  if (!wholeBook) return signals;
  return sql`${signals},
signals_kept as (
  insert into health_signals (${sql.raw(KEPT_COLUMNS.join(', '))})
  select ${sql.raw(KEPT_COLUMNS.join(', '))} from signal_computed
  on conflict (account_id) do update set
    ${sql.raw(KEPT_COLUMNS.filter((column) => column !== 'account_id').map((column) => `${column} = excluded.${column}`).join(', '))}
),
signal_changes_read as (
  -- Every change this statement sees is in the kept rows now; the ones committed after it stay for the next run.
  delete from signal_changes
)`;
}
