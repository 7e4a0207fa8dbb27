// The book the benchmarks measure: people, accounts, their health (rows the size real ones are) and renewals,
// generated set-based in a fresh PostgreSQL database. bench/dashboard.bench.ts and bench/liveness.bench.ts measure
// the same book, so their numbers describe the same pages.
import postgres from 'postgres';
import { openDatabase } from '../db/client.ts';
import { ensureInstallDefaults } from '../domain/install-defaults.ts';
import { createApiToken } from '../domain/tokens.ts';
import { databaseUrlWithName } from '../test/support/template.ts';

/** Indexes for the baselines' orders by plain columns, and for the week's drop read from account_health. */
export const BASELINE_INDEXES = `
  create index if not exists bench_accounts_contract_end on accounts (contract_end, id);
  create index if not exists bench_accounts_arr on accounts (arr_cents desc, id);
  create index if not exists bench_accounts_stage_entered on accounts (stage_entered_at, id);
  create index if not exists bench_health_drop on account_health ((coalesce(score_week_ago - score, -1000)) desc, account_id);`;

/**
 * The words of each score as the baselines keep them: stored text, where Lifeline keeps the facts it says them from.
 * PostGraphile 4 serves them as `baselineReasons` and `baselineComponents`.
 */
export const BASELINE_WORDS = `alter table account_health add column if not exists baseline_reasons jsonb, add column if not exists baseline_components jsonb`;

export interface BenchBookOptions {
  /** A PostgreSQL server URL the benchmark may create databases on. */
  serverUrl: string;
  /** The database to (re)create, unique to the benchmark. */
  name: string;
  accounts: number;
}

/** Drops and recreates `name`, migrates it, generates the book and returns its URL with an admin API token. */
export async function generateBenchBook(options: BenchBookOptions): Promise<{ url: string; token: string }> {
  const { serverUrl, name, accounts: ACCOUNTS } = options;
  const benchUrl = databaseUrlWithName(serverUrl, name);
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const database = await openDatabase({ kind: 'postgres', url: benchUrl, max: 2 });
  await database.migrate();
  await ensureInstallDefaults(database.db);
  const sql = postgres(benchUrl, { max: 1, onnotice: () => {} });
  const started = performance.now();
  // Set-based generation: people, accounts, their health and renewals, each one INSERT … SELECT generate_series.
  await sql.unsafe(`
    insert into users (name, email, role)
    select 'CSM ' || g, 'csm' || g || '@bench.example', 'csm'::user_role from generate_series(1, 40) g
    union all
    select 'AE ' || g, 'ae' || g || '@bench.example', 'ae'::user_role from generate_series(1, 20) g`);
  await sql.unsafe(`
    with csms as (select array_agg(id order by email) ids from users where role = 'csm'),
         aes as (select array_agg(id order by email) ids from users where role = 'ae')
    insert into accounts (external_id, name, segment, arr_cents, csm_id, ae_id, stage_key, stage_entered_at, contract_start, contract_end, version)
    select 'bench-' || g, 'Account ' || lpad(g::text, 6, '0') || ' ' || md5(g::text),
      (array['smb', 'mid_market', 'enterprise'])[1 + g % 3]::segment, 100000 * (1 + g % 500),
      case when g % 10 = 0 then null else csms.ids[1 + g % 40] end, aes.ids[1 + g % 20],
      (array['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption'])[1 + g % 5],
      date_trunc('milliseconds', now()) - make_interval(days => g % 200, secs => (g * 7919) % 86400), date '2026-01-01', date '2026-06-01' + (g % 700), 1
    from generate_series(1, ${ACCOUNTS}) g, csms, aes`);
  // Health the size the demo book's recompute writes, with the shares a real book has: ~30% at risk, ~10% critical,
  // ~2% without enough data. Lifeline says the reasons and components from the facts (domain/health/words.ts), as
  // it does for every score a recompute stored: their stored words are null. The baselines store words instead: the
  // same words, as text (components ≈ 430-530 characters of JSON, three reasons ≈ 100), in columns of their own that
  // they read as they are (BASELINE_WORDS).
  await sql.unsafe(BASELINE_WORDS);
  await sql.unsafe(`
    with base as (
      select a.id, abs(hashtext(a.id::text)) as k, abs(hashtext(a.id::text || '/w')) as w, s.name as stage_name
      from accounts a join lifecycle_stages s on s.key = a.stage_key
    ), graded as (
      select *, case when k % 1000 < 20 then 'insufficient_data' when k % 1000 < 120 then 'critical' when k % 1000 < 420 then 'at_risk' else 'healthy' end as status
      from base
    ), scored as (
      select *, case status when 'critical' then 5 + w % 35 when 'at_risk' then 40 + w % 30 when 'healthy' then 70 + w % 31 end as score,
        10 + w % 290 as seats, 1 + k % 9 as tickets, 1 + w % 40 as oldest, 1 + k % 45 as touch, 1 + w % 6 as respondents,
        (w % 71)::int - 40 as trend, 10 + k % 40 as events_tenths, k % 90 as days_in_stage
      from graded
    )
    insert into account_health (account_id, score, status, score_day_ago, score_week_ago, baseline_reasons, baseline_components, facts, stage_name, nps_worst_said, computed_at, model_version)
    select id, score, status::health_status,
      case when score is not null then least(100, greatest(0, score + (k % 7)::int - 3)) end,
      case when score is not null and w % 20 <> 0 then least(100, greatest(0, score + (w % 31)::int - 8)) end,
      case when score is null then jsonb_build_array('not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches')
        else jsonb_build_array(
          'only ' || seats * score / 100 || ' of ' || seats || ' seats active',
          tickets || ' open urgent ticket' || case when tickets = 1 then '' else 's' end || ', oldest ' || oldest || ' days',
          'NPS ' || w % 11 || ' from the champion') end,
      case when score is null then jsonb_build_object(
          'usage', jsonb_build_object('score', null, 'weight', 0, 'detail', 'no usage data in the last 6 weeks: not enough data for a score'),
          'support', jsonb_build_object('score', null, 'weight', 0, 'detail', 'no tickets on record: not enough data for a score'),
          'nps', jsonb_build_object('score', null, 'weight', 0, 'detail', 'no NPS or CSAT answer in the last year: not enough data for a score'),
          'engagement', jsonb_build_object('score', null, 'weight', 0, 'detail',
            'no CSM touch recorded; time in stage alone is not scored (' || days_in_stage || ' days in ' || stage_name || ', SLA 30 days): not enough data for a score'))
        else jsonb_build_object(
          'usage', jsonb_build_object('score', least(100, greatest(0, score + (k % 21)::int - 10)), 'weight', 40, 'detail',
            seats * score / 100 || ' of ' || seats || ' seats active (14-day average), ' || to_char(trend, 'FMSG990') || '% vs prior 4 weeks, '
            || events_tenths * 0.1 || ' key events per active user a day'),
          'support', jsonb_build_object('score', least(100, greatest(0, score + (w % 21)::int - 10)), 'weight', 20, 'detail',
            tickets || ' open ticket' || case when tickets = 1 then '' else 's' end || ', oldest ' || oldest || ' days'),
          'nps', jsonb_build_object('score', least(100, greatest(0, score + (k % 15)::int - 7)), 'weight', 20, 'detail',
            respondents || ' respondent' || case when respondents = 1 then '' else 's' end || ' in the last year, recent answers weigh more'),
          'engagement', jsonb_build_object('score', least(100, greatest(0, score + (w % 25)::int - 12)), 'weight', 20, 'detail',
            'last CSM touch ' || touch || ' days ago; ' || days_in_stage || ' days in ' || stage_name || ' (SLA 30 days)')) end,
      -- The facts Lifeline says the same words from (domain/health/facts.ts, FACTS_VERSION 3): reasons adoption,
      -- tickets and NPS; weights in tenths of a percent.
      case when score is null then
        array[3, null, null, null, null, null, null, null, null, null, null, null, null, days_in_stage, 30, k % 100000,
              null, null, null, null, null, null, 0, 0, 0, 0, null, null, null]::bigint[]
      else
        array[3, least(100, greatest(0, score + (k % 21)::int - 10)), seats * score / 100, seats, trend, events_tenths,
              least(100, greatest(0, score + (w % 21)::int - 10)), tickets, oldest, least(100, greatest(0, score + (k % 15)::int - 7)), respondents,
              least(100, greatest(0, score + (w % 25)::int - 12)), touch, days_in_stage, 30, k % 100000, 1, 3, 4, 1, tickets, oldest,
              400, 200, 200, 200, w % 100000, null, null]::bigint[] end,
      stage_name, case when score is not null then 'NPS ' || w % 11 || ' from the champion' end,
      now() - make_interval(hours => (k % 72)::int), 1
    from scored`);
  await sql.unsafe(`
    insert into renewals (account_id, contract_end, window_opens_on, status)
    select id, contract_end, contract_end - 90, 'upcoming' from accounts`);
  // The listing orders by (name, id); without an index on it every engine sorts 100k rows per request and the
  // comparison measures only the sort. Migration 0007 creates it; all three servers read the same database.
  const [index] = await sql.unsafe(`select 1 from pg_indexes where tablename = 'accounts' and indexdef like '%(name, id)'`);
  if (!index) throw new Error('The accounts (name, id) index of migration 0007 is missing from the bench database.');
  // The baselines get the indexes a competent implementation of their own orders would have: PostGraphile 4 and the
  // hand-written statement order by the plain columns (Lifeline's own indexes are on its listing keys, migration 0023).
  await sql.unsafe(BASELINE_INDEXES);
  // Vacuumed as autovacuum leaves a deployment's tables a while after a bulk write (insert-only tables too, since
  // PostgreSQL 13): the visibility map set, so a count can be answered from an index alone, as it is in production.
  // All three servers read the same database.
  await sql.unsafe('vacuum (analyze)');
  process.stdout.write(`Generated ${ACCOUNTS} accounts with owners, health (components and reasons) and renewals in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const { token } = await createApiToken(database.db, { name: 'bench', role: 'admin' });
  await sql.end();
  await database.close();
  return { url: benchUrl, token };
}
