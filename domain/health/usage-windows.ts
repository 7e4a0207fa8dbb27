/**
 * The usage component: aggregated from usage_daily, or read from the usage windows a recompute of the whole book
 * kept for the recomputes that follow on the same day, aggregated anew only for the accounts whose usage was written
 * since; on the next day, yesterday's are rolled on by the days that enter and leave. Parts of the recompute
 * statement.
 */
import { createHash } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { HEALTH_MODEL_VERSION, MODEL } from './model.ts';

/** What usage_windows keeps of each account's usage: the usage component and the sums its facts are said from. */
const USAGE_WINDOW_COLUMNS = [
  'account_id', 'seats', 'seats_day', 'sum_recent_users', 'recent_days', 'sum_prior_users', 'prior_days', 'sum_recent_key_events',
  'adoption', 'trend', 'trend_ratio', 'key_events', 'usage_score',
] as const;

/**
 * Above this many accounts whose usage is aggregated anew while kept windows answer for the rest (a large import,
 * a day whose leaving seats touch many), the window is scanned whole; below it, each account's days are read by the
 * primary key.
 */
const WIDE_AGGREGATE = 2000;

/** Above the days of the window: seats times it plus a day's place in the window (1-42) keep both in one int8. */
const DAY_KEY = 1000;

/** The model constants the kept usage windows are derived with, as a 64-bit hash: other constants make them stale. */
const USAGE_WINDOW_MODEL = createHash('sha256')
  .update(JSON.stringify([HEALTH_MODEL_VERSION, MODEL.recentDays, MODEL.priorDays, MODEL.keyEventsPerUserDayTarget, MODEL.usageParts]))
  .digest()
  .readBigInt64BE(0)
  .toString();

/**
 * For a recompute of every account: keeps the usage windows for the recomputes that follow on the same day. When
 * they were aggregated anew or rolled on from yesterday's (another day, another model, none kept), as the next
 * generation, and the earlier one is dropped; otherwise the windows of the accounts whose usage was written are
 * replaced in the kept generation. Either way the usage_changes read are removed: the windows now include them.
 */
function keepUsageWindows(today: SQL): SQL {
  const rebuilt = sql`not exists (select from usage_kept)`;
  return sql`usage_generation as (
  -- The kept generation, or one above any kept row's (even when the state was dropped, usage_daily truncated, and
  -- its rows were not).
  select coalesce((select generation from usage_kept),
                  coalesce(greatest((select generation from usage_window_state), (select max(generation) from usage_windows)), 0) + 1) as generation
),
usage_stored as (
  insert into usage_windows (generation, ${sql.raw(USAGE_WINDOW_COLUMNS.join(', '))})
  select g.generation, ${sql.raw(USAGE_WINDOW_COLUMNS.map((column) => `c.${column}`).join(', '))}
  from usage_computed c cross join usage_generation g
  on conflict (generation, account_id) do update set
    ${sql.raw(USAGE_WINDOW_COLUMNS.filter((column) => column !== 'account_id').map((column) => `${column} = excluded.${column}`).join(', '))}
),
usage_dropped as (
  -- The rows inserted above are not seen here: a new generation drops the earlier ones; the kept one drops the
  -- windows of written accounts that have no usage left in the window.
  delete from usage_windows w
  where ${rebuilt}
     or w.generation = (select generation from usage_kept) and w.account_id in (select account_id from usage_dirty)
        and not exists (select from usage_computed c where c.account_id = w.account_id)
),
usage_state as (
  insert into usage_window_state (id, generation, as_of, model)
  select true, g.generation, ${today}, ${USAGE_WINDOW_MODEL}::int8 from usage_generation g where ${rebuilt}
  on conflict (id) do update set generation = excluded.generation, as_of = excluded.as_of, model = excluded.model
),
usage_changes_read as (
  -- Every change this statement sees is in the windows now; the ones committed after it stay for the next run.
  delete from usage_changes
)`;
}

/**
 * Each account's usage component (`usage_parts`): from the kept usage windows when they answer, else aggregated
 * from usage_daily; kept for the next recomputes when the whole book was recomputed.
 */
export function usageComponent(today: SQL, only: (column: SQL) => SQL, wholeBook: boolean): SQL {
  const recent = MODEL.recentDays;
  const window = MODEL.recentDays + MODEL.priorDays;
  const parts = MODEL.usageParts;
  const inWindow = (day: SQL) => sql`${day} > ${today} - ${window}::int and ${day} <= ${today}`;
  const day = (ago: number) => sql`(${today} - ${ago}::int)`;
  const usage = sql`usage_kept as materialized (
  -- The kept usage windows answer when they are as of today and were derived by the same model, for every account
  -- whose usage in the window was not written since.
  select st.generation from usage_window_state st
  where st.as_of = ${today} and st.model = ${USAGE_WINDOW_MODEL}::int8
),
usage_rolled as materialized (
  -- Kept as of yesterday by the same model: rolled on by a day, reading only the days that enter the window, move
  -- from the recent days to the prior ones, or leave it.
  select st.generation from usage_window_state st
  where not exists (select from usage_kept) and st.as_of = ${day(1)} and st.model = ${USAGE_WINDOW_MODEL}::int8
),
usage_dirty as materialized (
  -- The accounts whose usage in the window (yesterday's too, when rolled on) was written since the kept windows (a
  -- trigger records every write).
  select distinct account_id from usage_changes c
  where (exists (select from usage_kept) or exists (select from usage_rolled))
    and c.first_day <= ${today} and c.last_day > ${day(window + 1)} ${only(sql`c.account_id`)}
),
usage_delta as (
  -- Rolled on: the day that enters, the one that moves to the prior days and the one that leaves, by account.
  select u.account_id,
         coalesce(sum(u.active_users) filter (where u.day = ${today}), 0) as in_users,
         count(*) filter (where u.day = ${today}) as in_days,
         coalesce(sum(u.key_events) filter (where u.day = ${today}), 0) as in_key_events,
         max(u.seats) filter (where u.day = ${today}) as in_seats,
         coalesce(sum(u.active_users) filter (where u.day = ${day(recent)}), 0) as moved_users,
         count(*) filter (where u.day = ${day(recent)}) as moved_days,
         coalesce(sum(u.key_events) filter (where u.day = ${day(recent)}), 0) as moved_key_events,
         coalesce(sum(u.active_users) filter (where u.day = ${day(window)}), 0) as out_users,
         count(*) filter (where u.day = ${day(window)}) as out_days,
         max(u.seats) filter (where u.day = ${day(window)}) as out_seats
  from usage_daily u
  where exists (select from usage_rolled) and u.day in (${today}, ${day(recent)}, ${day(window)}) ${only(sql`u.account_id`)}
  group by u.account_id
),
usage_previous as (
  select w.* from usage_windows w where w.generation = (select generation from usage_rolled) ${only(sql`w.account_id`)}
),
usage_fresh as materialized (
  -- Aggregated from usage_daily: the accounts written since, and, rolled on, those whose most seats leave with the
  -- day that leaves (no later day had as many: the most of the days left is not known from the kept windows).
  select account_id from usage_dirty
  union
  select d.account_id from usage_delta d join usage_previous w on w.account_id = d.account_id
  where d.out_seats >= w.seats and w.seats_day <= ${day(window)}
),
usage_fresh_wide as materialized (
  select count(*) > ${WIDE_AGGREGATE}::int as wide from usage_fresh
),
usage_rows as (
  -- Every account's usage in the window when no kept windows answer, even rolled on (the first recompute after a day
  -- or more without one), else only the fresh accounts': the window scanned and matched by hash when many are, else
  -- each account's days read by the primary key. The planner cannot tell which from its estimate of usage_fresh
  -- (far too many), and would hash the whole window for the 1% of accounts an hour brings.
  select u.account_id, u.day, u.active_users, u.seats, u.key_events
  from usage_daily u
  where not exists (select from usage_kept) and not exists (select from usage_rolled) and ${inWindow(sql`u.day`)} ${only(sql`u.account_id`)}
  union all
  select u.account_id, u.day, u.active_users, u.seats, u.key_events
  from usage_daily u
  where (select wide from usage_fresh_wide) and u.account_id in (select account_id from usage_fresh) and ${inWindow(sql`u.day`)}
  union all
  select u.account_id, u.day, u.active_users, u.seats, u.key_events
  from usage_fresh d
  cross join lateral (
    select u.account_id, u.day, u.active_users, u.seats, u.key_events from usage_daily u
    where u.account_id = d.account_id and ${inWindow(sql`u.day`)} offset 0
  ) u
  where not (select wide from usage_fresh_wide)
),
usage_live as (
  -- Sums and counts only: they aggregate in place (no per-account state to allocate), and the averages follow.
  select u.account_id,
         sum(u.active_users) filter (where u.day > ${day(recent)}) as recent_users,
         count(*) filter (where u.day > ${day(recent)}) as recent_days,
         sum(u.active_users) as window_users,
         count(*) as window_days,
         -- The most seats and the latest day with as many, in one aggregate: seats, then the day in the window, as one int8.
         (max(u.seats::int8 * ${DAY_KEY}::int8 + (u.day - ${day(window)})) / ${DAY_KEY}::int8)::float8 as seats,
         ${day(window)} + (max(u.seats::int8 * ${DAY_KEY}::int8 + (u.day - ${day(window)})) % ${DAY_KEY}::int8)::int as seats_day,
         sum(u.key_events) filter (where u.day > ${day(recent)}) as recent_key_events
  from usage_rows u
  group by u.account_id
  union all
  -- Rolled on: yesterday's sums with the days that entered added and the ones that left taken away.
  select r.* from (
    select coalesce(w.account_id, d.account_id) as account_id,
           coalesce(w.sum_recent_users, 0) + coalesce(d.in_users, 0) - coalesce(d.moved_users, 0) as recent_users,
           coalesce(w.recent_days, 0) + coalesce(d.in_days, 0) - coalesce(d.moved_days, 0) as recent_days,
           coalesce(w.sum_recent_users + w.sum_prior_users, 0) + coalesce(d.in_users, 0) - coalesce(d.out_users, 0) as window_users,
           coalesce(w.recent_days + w.prior_days, 0) + coalesce(d.in_days, 0) - coalesce(d.out_days, 0) as window_days,
           greatest(w.seats, d.in_seats::float8) as seats,
           case when w.seats is null or d.in_seats >= w.seats then ${today} else w.seats_day end as seats_day,
           coalesce(w.sum_recent_key_events, 0) + coalesce(d.in_key_events, 0) - coalesce(d.moved_key_events, 0) as recent_key_events
    from usage_previous w
    full join usage_delta d on d.account_id = w.account_id
    where not exists (select from usage_fresh f where f.account_id = coalesce(w.account_id, d.account_id))
  ) r
  -- An account whose every day left the window has no usage, as if aggregated.
  where r.window_days > 0
),
usage_computed as (
  select p.*,
         (${parts.adoption}::float8 * p.adoption + ${parts.keyEvents}::float8 * p.key_events + coalesce(${parts.trend}::float8 * p.trend, 0))
         / (${parts.adoption + parts.keyEvents}::float8 + case when p.trend is null then 0 else ${parts.trend}::float8 end) as usage_score
  from (
    select account_id, seats, seats_day, sum_recent_users, recent_days, sum_prior_users, prior_days, sum_recent_key_events,
           100 * least(1, coalesce(recent_active, 0) / greatest(seats, 1)) as adoption,
           case when prior_active > 0
                then 100 * greatest(0, least(1, 1 - 2 * (1 - coalesce(recent_active, 0) / prior_active))) end as trend,
           case when prior_active > 0 then coalesce(recent_active, 0) / prior_active end as trend_ratio,
           100 * least(1, recent_key_events / greatest(recent_user_days, 1) / ${MODEL.keyEventsPerUserDayTarget}::float8) as key_events
    from (
      select account_id,
             -- avg(): the numeric quotient of the sum and count, as float8.
             (recent_users::numeric / nullif(recent_days, 0))::float8 as recent_active,
             ((window_users - coalesce(recent_users, 0))::numeric / nullif(window_days - recent_days, 0))::float8 as prior_active,
             seats, seats_day,
             coalesce(recent_key_events, 0)::float8 as recent_key_events,
             coalesce(recent_users, 0)::float8 as recent_user_days,
             -- The same as whole numbers, for the facts.
             coalesce(recent_users, 0) as sum_recent_users, recent_days,
             window_users - coalesce(recent_users, 0) as sum_prior_users, window_days - recent_days as prior_days,
             coalesce(recent_key_events, 0) as sum_recent_key_events
      from usage_live
      offset 0
    ) u
    offset 0
  ) p
),
usage_parts as (
  select ${sql.raw(USAGE_WINDOW_COLUMNS.map((column) => `w.${column}`).join(', '))}
  from usage_windows w
  where w.generation = (select generation from usage_kept) ${only(sql`w.account_id`)}
    and not exists (select from usage_dirty d where d.account_id = w.account_id)
  union all
  select ${sql.raw(USAGE_WINDOW_COLUMNS.join(', '))} from usage_computed
)`;
  return wholeBook ? sql.join([usage, keepUsageWindows(today)], sql`,\n`) : usage;
}
