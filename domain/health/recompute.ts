/**
 * The health recompute: one set-based statement that scores every account (or the ones given) from its signals,
 * appends history where a score moved and rewrites account_health where it changed. Recomputes take turns.
 */
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { isoDay } from '../dates.ts';
import { InvalidInputError } from '../errors.ts';
import { type Ago, agoFlags, agoPoint, agoUntil, earlierScores, spanEndedNow } from './earlier-scores.ts';
import { type ReasonCandidate, factsArray, kindsComparable, reasonCandidates, reasonRanks, recordedKinds, wordsKept } from './facts.ts';
import { HEALTH_MODEL_VERSION, loadHealthSettings } from './model.ts';
import { type ScoringScope, accountsToScore, componentScores, onboardingMilestones } from './scoring.ts';
import { customerSignals } from './signals-kept.ts';
import { usageComponent } from './usage-windows.ts';
import type { WebhookEventData } from '../webhook-events.ts';
import { healthWords } from './words.ts';
import type { HealthStatus, HealthWordsSource } from '../../db/schema.ts';
import { queueWebhookEvents } from '../webhooks.ts';

export interface RecomputeHealthParams {
  /** The moment the score is computed as of; signals after it are ignored. Defaults to now. */
  now?: Date;
  /** Only these accounts, e.g. right after new signals arrived; all accounts when omitted. */
  accountIds?: string[];
}

export interface RecomputeHealthResult {
  /** Accounts scored (churned accounts are not recomputed, and accounts without customer signal have no score). */
  accounts: number;
  /**
   * Accounts recomputed with no customer signal (see CUSTOMER_SIGNAL): status insufficient_data, no score. They are
   * scored again when a signal arrives.
   */
  insufficientData: number;
  /**
   * Scores withdrawn: accounts that had a score and now have no customer signal (every signal aged out of its
   * window), so their status became insufficient_data. History keeps the scores they had.
   */
  scoresRemoved: number;
  /** Accounts whose status differs from their previous score. */
  statusChanges: number;
  /**
   * History rows written: a point is added when the score moves, the status or the model changes, or the account is
   * explained by other reasons (see recordedKinds); not when only the numbers said in the same reasons or details
   * move on with the days ("no CSM touch in 12 days" becoming 13).
   */
  historyRows: number;
  /**
   * account_health rows inserted or rewritten: a new or changed score, or a day- or week-old score that moved on
   * (or whose span had to be looked up in history), or a row whose stored facts are renewed without a change (the
   * first recompute after their version was bumped). An account whose health is the same is
   * not written at all.
   */
  rowsWritten: number;
}

const uuidList = z.array(z.uuid({ error: 'accountIds must be account ids (UUIDs)' }));

/** work_mem for the recompute statement only: its hash aggregates hold one entry per account (100k: ~20 MB). */
export const RECOMPUTE_WORK_MEM = '64MB';

/** Arbitrary but fixed: the advisory lock health recomputes take turns on. */
const RECOMPUTE_LOCK_ID = 7_246_311_002;

/** What the parts of the statement read besides the scoring scope. */
interface RecomputeScope extends ScoringScope {
  today: SQL;
  wholeBook: boolean;
  candidates: ReasonCandidate[];
  version: SQL;
  ago: Ago[];
}

function recomputeScope(now: Date, ids: string[] | null): RecomputeScope {
  const nowTs = sql`${now.toISOString()}::timestamptz`;
  const idArray = ids ? sql`string_to_array(${ids.join(',')}, ',')::uuid[]` : null;
  return {
    nowTs,
    today: sql`${isoDay(now)}::date`,
    only: (column: SQL) => (idArray ? sql`and ${column} = any(${idArray})` : sql``),
    wholeBook: idArray === null,
    candidates: reasonCandidates(),
    version: sql`${HEALTH_MODEL_VERSION}::int`,
    ago: earlierScores(nowTs),
  };
}

/**
 * Recomputes health as one statement over aggregates: each account's usage window and signal sums are read from
 * what the previous recomputes kept (usage-windows.ts, signals-kept.ts), and aggregated anew, with GROUP BY, only
 * for the accounts whose signals were written or crossed an edge since (all of them on the first run, and the usage
 * of all of them on a day's first), the components, score, status and the facts they are said with are derived per
 * account in SQL, and
 * the same statement appends history and writes account_health for the scores that changed only. No loop over
 * accounts. Only numbers are written: the facts a score's components and reasons are said with (and the stage name
 * and survey answer they name), put into words when read (words.ts).
 *
 * History records moves: a new score, status or model, or other reasons said. The current row always says what the
 * latest facts say: when only their numbers moved (days since a touch, a component's own score), it is rewritten
 * and history is not. `computedAt` of an account's health is when its score last moved, so it equals the newest
 * history point; a recompute that finds the same facts leaves the row alone. When health was last recomputed is the
 * health job run's time (job_runs). The day- and week-old scores are kept current on every recompute: a row is
 * rewritten when either moved on, without moving `computedAt`.
 */
export async function recomputeHealth(db: Db | Tx, params: RecomputeHealthParams = {}): Promise<RecomputeHealthResult> {
  const now = params.now ?? new Date();
  let ids: string[] | null = null;
  if (params.accountIds) {
    const parsed = uuidList.safeParse(params.accountIds);
    if (!parsed.success) throw new InvalidInputError('accountIds must be account ids (UUIDs); pass the `id` of each account.', 'accountIds');
    ids = parsed.data;
    if (ids.length === 0) return { accounts: 0, insufficientData: 0, scoresRemoved: 0, statusChanges: 0, historyRows: 0, rowsWritten: 0 };
  }
  const settings = await loadHealthSettings(db);
  const scope = recomputeScope(now, ids);
  // The statement's parts in order, each a run of CTEs that reads the ones before it.
  const steps = [
    accountsToScore(scope, settings),
    usageComponent(scope.today, scope.only, scope.wholeBook),
    customerSignals(scope, scope.wholeBook),
    onboardingMilestones(scope),
    componentScores(),
    factsAndReasons(scope),
    comparedWithStored(scope),
    decidedWrites(scope),
    historyAndHealthWritten(scope),
  ];
  const statement = sql`
with ${sql.join(steps, sql`,\n`)}
${countsReported()}
`;
  const row = await runInTurn(db, statement, now);
  return {
    accounts: Number(row?.accounts ?? 0),
    insufficientData: Number(row?.insufficient_data ?? 0),
    scoresRemoved: Number(row?.scores_removed ?? 0),
    statusChanges: Number(row?.status_changes ?? 0),
    historyRows: Number(row?.history_rows ?? 0),
    rowsWritten: Number(row?.rows_written ?? 0),
  };
}

/** What may explain each score, ranked by the points it cost, and the facts the score is said with. */
function factsAndReasons({ candidates }: RecomputeScope): SQL {
  return sql`reasoned as (
  -- Every fact that may explain the score, with the points it cost (null when it is not worth saying).
  select s.*,
         ${sql.join(
           candidates.map((candidate, i) => sql`case when ${candidate.when} then ${candidate.impact} end as impact_${sql.raw(String(i))}`),
           sql`, `,
         )}
  from scored s
  offset 0
),
ranked as (
  select s.*, ${reasonRanks(candidates)}
  from reasoned s
  offset 0
),
facts as (
  select s.account_id, s.score,
         (case when s.score >= s.healthy_min then 'healthy' when s.score >= s.at_risk_min then 'at_risk' when s.score is not null then 'critical'
               else 'insufficient_data' end)::health_status as status,
         ${wordsKept(candidates)}, ${factsArray(candidates)} as facts
  from ranked s
  offset 0 -- built once: compared refers to the facts and the status twice
)`;
}

/**
 * Each account's new facts against its stored health: whether its words may read otherwise, whether it is worth a
 * history point, and its day- and week-old scores.
 */
function comparedWithStored({ version, ago }: RecomputeScope): SQL {
  return sql`compared as (
  select f.account_id, f.score, f.status, f.stage_name, f.nps_worst_said, f.facts,
         p.account_id is not null as existed, p.score as previous_score, p.status as previous_status, p.model_version as previous_model_version,
         p.computed_at as previous_computed_at, p.facts as previous_facts,
         -- Only these can have other words than the stored ones; the rest say exactly what they said.
         (p.account_id is null or p.score is distinct from f.score or p.status <> f.status or p.model_version <> ${version}
          or p.facts is distinct from f.facts) as candidate,
         ${sql.join(ago.map(agoFlags), sql`, `)}
  from facts f
  left join account_health p on p.account_id = f.account_id
  offset 0
),
moved as (
  select c.*, ${sql.join(ago.map(agoPoint), sql`, `)}
  from compared c
  offset 0
),
pending as materialized (
  -- Every account, to count them; what a write needs is kept only for the accounts written.
  select m.existed, m.status, m.previous_status, m.to_write,
         case when m.to_write then m.account_id end as account_id, ${sql.join(
    [
      'score', 'stage_name', 'nps_worst_said', 'facts', 'recorded',
      'previous_computed_at', 'day_score', 'day_from', 'day_until_known', 'day_looked_up', 'week_score', 'week_from', 'week_until_known',
      'week_looked_up',
    ].map((column) => sql.raw(`case when m.to_write then m.${column} end as ${column}`)),
    sql`, `,
  )}
  from (
    select m.*,
           (m.candidate or m.day_looked_up or m.week_looked_up
            or m.day_score is distinct from m.day_stored_score or m.week_score is distinct from m.week_stored_score) as to_write,
           -- Worth a history point, from the numbers alone: a new score, status or model, or other reasons said.
           not m.existed or m.score is distinct from m.previous_score or m.status <> m.previous_status or m.previous_model_version <> ${version}
           -- Stored facts that name their kinds where these do are compared by kinds; a score stored before facts
           -- were kept is a point only when it moved.
           or m.candidate and ${kindsComparable('m.previous_facts')} and ${recordedKinds('m.previous_facts')} <> ${recordedKinds('m.facts')} as recorded
    from moved m
    offset 0
  ) m
)`;
}

/** Each account written, and whether it changed (worth a history point). */
function decidedWrites({ ago }: RecomputeScope): SQL {
  return sql`decided as materialized (
  select q.account_id, q.existed, q.score, q.status, q.previous_status, q.facts, q.stage_name, q.nps_worst_said,
         q.previous_computed_at, q.day_score, q.day_from, q.week_score, q.week_from, ${sql.join(ago.map(agoUntil), sql`, `)},
         q.recorded as changed
  from pending q
  where q.to_write
  offset 0 -- decided once: history and account_health store it
)`;
}

/** A history point for each changed score, and the account_health rows rewritten. */
function historyAndHealthWritten({ nowTs, version }: RecomputeScope): SQL {
  const endedNow = (name: 'day' | 'week') => spanEndedNow(name, nowTs);
  return sql`history as (
  insert into health_scores (account_id, score, status, facts, stage_name, nps_worst_said, model_version, computed_at)
  select account_id, score, status, facts, stage_name, nps_worst_said, ${version}, ${nowTs}
  from decided
  where changed
  returning account_id
),
written as (
  insert into account_health (account_id, score, status, score_day_ago, score_week_ago, reasons, components, computed_at, model_version, facts,
                              stage_name, nps_worst_said, score_day_ago_from, score_day_ago_until, score_week_ago_from, score_week_ago_until)
  -- No words: they are said from the facts when read, and the ones stored before facts were kept are cleared.
  select account_id, score, status, day_score, week_score, null, null,
         case when changed then ${nowTs} else previous_computed_at end, ${version}, facts, stage_name, nps_worst_said,
         day_from, ${endedNow('day')}, week_from, ${endedNow('week')}
  from decided
  on conflict (account_id) do update set
    score = excluded.score, status = excluded.status, score_day_ago = excluded.score_day_ago,
    score_week_ago = excluded.score_week_ago, reasons = excluded.reasons, components = excluded.components,
    -- Decided above (only a changed score moves computedAt): recomputes take turns, so the row is the one compared.
    computed_at = excluded.computed_at,
    model_version = excluded.model_version, facts = excluded.facts, stage_name = excluded.stage_name, nps_worst_said = excluded.nps_worst_said,
    score_day_ago_from = excluded.score_day_ago_from, score_day_ago_until = excluded.score_day_ago_until,
    score_week_ago_from = excluded.score_week_ago_from, score_week_ago_until = excluded.score_week_ago_until
  returning account_id
)`;
}

/** What the run reports (RecomputeHealthResult), as counts. */
function countsReported(): SQL {
  return sql`select (select count(*) from pending where status <> 'insufficient_data') as accounts,
       (select count(*) from pending where status = 'insufficient_data') as insufficient_data,
       (select count(*) from pending where existed and status = 'insufficient_data' and previous_status <> 'insufficient_data') as scores_removed,
       (select count(*) from pending where existed and previous_status <> status) as status_changes,
       (select count(*) from history) as history_rows,
       (select count(*) from written) as rows_written,
       -- Status changes, for webhook endpoints subscribed to them (built only when one is), put into words below.
       (select coalesce(jsonb_agg(jsonb_build_object(
                  'accountId', d.account_id, 'accountName', a.name, 'crmId', a.external_id, 'previousStatus', d.previous_status,
                  'status', d.status, 'score', d.score, 'facts', d.facts, 'stageName', d.stage_name, 'npsWorstSaid', d.nps_worst_said)), '[]'::jsonb)
        from decided d join accounts a on a.id = d.account_id
        where d.existed and d.status <> d.previous_status
          and exists (select 1 from webhook_endpoints w where w.active and ${HEALTH_CHANGED} = any(w.event_types))) as health_changes`;
}

const HEALTH_CHANGED = 'account.health_changed';

type Counts = {
  accounts: number | string;
  insufficient_data: number | string;
  scores_removed: number | string;
  status_changes: number | string;
  history_rows: number | string;
  rows_written: number | string;
  health_changes: HealthChange[] | string | null;
};

/** A status change as the statement reports it: the event's data but for its words, and the facts they are said from. */
type HealthChange = Omit<WebhookEventData<typeof HEALTH_CHANGED>, 'components' | 'reasons'> &
  Pick<HealthWordsSource, 'facts' | 'stageName' | 'npsWorstSaid'> & { status: HealthStatus };

// Recomputes take turns (a transaction-level advisory lock, released at commit): a run that overlaps another, a
// slow hourly fire and the next one or a refresh after new signals, takes its snapshot after the other committed,
// so it compares with what that one wrote and never records the same change twice.
// JIT compiling this statement's many expressions costs seconds, more than it saves on ~100k rows; the hash
// aggregates over usage need more than the default work_mem to stay in memory (100k accounts: ~20 MB).
// Set for this transaction only, and put back afterwards for a caller's transaction that goes on.
function runInTurn(db: Db | Tx, statement: SQL, now: Date): Promise<Counts | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await queryRows<{ jit: string; work_mem: string }>(
      tx,
      sql`select pg_advisory_xact_lock(${RECOMPUTE_LOCK_ID}::int8) as locked, current_setting('jit') as jit, current_setting('work_mem') as work_mem,
                 set_config('jit', 'off', true) as jit_off, set_config('work_mem', ${RECOMPUTE_WORK_MEM}, true) as work_mem_set`,
    );
    const [counts] = await queryRows<Counts>(tx, statement);
    // The status changes' events commit with the scores that made them.
    const changes = typeof counts?.health_changes === 'string' ? (JSON.parse(counts.health_changes) as HealthChange[]) : (counts?.health_changes ?? []);
    await queueWebhookEvents(
      tx,
      changes.map(({ facts, stageName, npsWorstSaid, ...change }) => {
        const { reasons, components } = healthWords({ facts, stageName, npsWorstSaid, reasons: null, components: null });
        // Keys in the order jsonb kept them when the statement built the whole event: the body sent reads as before.
        const { crmId, score, status, accountId, accountName, previousStatus } = change;
        const data: WebhookEventData<typeof HEALTH_CHANGED> = { crmId, score, status, reasons, accountId, components, accountName, previousStatus };
        return { type: HEALTH_CHANGED, occasion: `${data.accountId}:${now.toISOString()}`, at: now, data };
      }),
    );
    if (before) await tx.execute(sql`select set_config('jit', ${before.jit}, true), set_config('work_mem', ${before.work_mem}, true)`);
    return counts;
  });
}
