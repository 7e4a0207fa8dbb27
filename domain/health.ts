import { createHash } from 'node:crypto';
import { and, desc, eq, gte, inArray, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import {
  type Account,
  type CsmSentiment,
  type HealthComponents,
  type HealthStatus,
  type HealthSummary,
  type ScoredHealthStatus,
  type Segment,
  type User,
  accountHealth,
  accounts,
  csmSentiments,
  healthScores,
  healthSummaryColumns,
  segments,
} from '../db/schema.ts';
import { readableOwnerId } from './access.ts';
import { isUuid } from './validation.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError } from './errors.ts';
import { HEALTH_MODEL_VERSION, MODEL, type ResolvedHealthSettings, loadHealthSettings } from './health-model.ts';
import { DAY_MS, isoDay } from './dates.ts';

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
   * first recompute after the facts were added or their version bumped). An account whose health is the same is
   * not written at all.
   */
  rowsWritten: number;
}

const uuidList = z.array(z.uuid({ error: 'accountIds must be account ids (UUIDs)' }));

/**
 * Per-segment weights and thresholds as a VALUES list, so one statement scores every segment. Each row also names
 * its weights with a 64-bit hash: the weights shown with a score follow from them and from which components had
 * data, so the hash stands for them among the facts.
 */
function settingsValues(settings: ResolvedHealthSettings): SQL {
  const rows = segments.map((segment: Segment) => {
    const s = settings[segment];
    const weights = [s.weights.usage, s.weights.support, s.weights.nps, s.weights.engagement];
    const weightsKey = createHash('sha256').update(JSON.stringify(weights)).digest().readBigInt64BE(0).toString();
    return sql`(${segment}::segment, ${s.weights.usage}::float8, ${s.weights.support}::float8, ${s.weights.nps}::float8, ${s.weights.engagement}::float8, ${s.healthyMin}::int, ${s.atRiskMin}::int, ${weightsKey}::int8)`;
  });
  return sql.join(rows, sql`, `);
}

/**
 * What a score says, as numbers: the component details and the reasons are written from these alone (and from the
 * segment's weights, the stage name and the survey answer that three of them stand for), so a recompute compares
 * facts, not sentences, and writes text only for the scores whose facts moved. Stored in account_health.facts, in
 * this order. Which reasons and components they name decides whether a change is a new history point (recordedKinds).
 * Changing what a fact holds, or how the text below is written from it, must bump FACTS_VERSION (the first fact):
 * every score is then compared anew.
 */
const FACT_NAMES = [
  'version',
  'usageScore',
  'recentActive',
  'seats',
  /** Active users against the prior 4 weeks, in whole percent as shown; null without prior weeks. */
  'trendPercent',
  'keyEventsTenths',
  'supportScore',
  'openTickets',
  'openOldestDays',
  'npsScore',
  'npsRespondents',
  'engagementScore',
  'touchDays',
  /** Days in stage, the stage's SLA and a hash of its name: only for a stage with an SLA, the only time they are said. */
  'daysInStage',
  'slaDays',
  'stageName',
  /** The reasons said, costliest first: each the index of a reason candidate, null when fewer are said. */
  'reason1',
  'reason2',
  'reason3',
  /** The ticket reason, when said: urgent (1), high (2) or any open ticket (3), how many, and the oldest's age. */
  'ticketKind',
  'ticketCount',
  'ticketOldestDays',
  /** The segment's weights (a hash): with which component scores are null, they give the weights shown. */
  'weights',
  /** The survey reason, when said: which answer is the worst (see surveyAnswerKey). */
  'npsWorst',
] as const;
type FactName = (typeof FACT_NAMES)[number];

/**
 * What a history point records besides the score and status, from a facts array (an SQL expression): which reasons
 * are said and in which order, which kind of ticket the ticket reason names, and which components had data. Their
 * numbers are not part of it: a score whose reasons read the same but for a count of days is the same point.
 */
function recordedKinds(facts: string): SQL {
  const at = (name: FactName) => `${facts}[${FACT_NAMES.indexOf(name) + 1}]`;
  const kinds = [
    ...(['reason1', 'reason2', 'reason3', 'ticketKind'] as const).map(at),
    ...(['usageScore', 'supportScore', 'npsScore', 'engagementScore'] as const).map((name) => `(${at(name)} is null)::int::int8`),
  ];
  return sql.raw(`array[${kinds.join(', ')}]`);
}

const FACTS_VERSION = 1;

/**
 * num / den rounded half away from zero, in integers (den > 0). The averages the text shows are ratios of whole
 * counts; written as round(x::numeric) of their float8 value they come out the same (numeric keeps 15 digits, which
 * puts a ratio of small counts on the same side of a half), without a numeric conversion for every account.
 */
function roundedRatio(num: SQL, den: SQL): SQL {
  return sql`(sign(${num}) * ((2 * abs(${num}) + ${den}) / (2 * ${den})))::int8`;
}

/** One fact of the row being written (alias `q`), by name. */
function fact(name: FactName): SQL {
  return sql.raw(`q.facts[${FACT_NAMES.indexOf(name) + 1}]`);
}

/**
 * Orders a survey answer (alias `r`) worst first: by its normalized score, then the most recent first (to the
 * millisecond). Exact in float8 (below 2^53): 0-100 times 2^42, plus 2^42 less the answer's epoch milliseconds.
 * The worst answer's key is a fact, and the NPS reason looks the answer up by it.
 */
function surveyAnswerKey(r: string): SQL {
  const normalized = sql.raw(`case ${r}.kind when 'nps' then ${r}.score * 10.0 else (${r}.score - 1) * 25.0 end::float8`);
  const span = sql.raw('4398046511104::float8');
  return sql`(${normalized} * ${span} + ${span} - round(date_part('epoch', ${sql.raw(r)}.responded_at) * 1000))`;
}

type ReasonKey = 'usageDown' | 'adoption' | 'keyEvents' | 'tickets' | 'nps' | 'touch' | 'sla' | 'usageUp';

/**
 * A fact that may explain a score: said when `when` holds, ranked by the points it cost (`impact`); both read the
 * scored row (alias `s`). `text` writes it from the facts (alias `q`).
 */
interface ReasonCandidate {
  key: ReasonKey;
  when: SQL;
  impact: SQL;
  text: SQL;
}

/** Every fact the model can name, in tie-break order. */
function reasonCandidates(): ReasonCandidate[] {
  const parts = MODEL.usageParts;
  const plural = (count: SQL) => sql`case when ${count} = 1 then '' else 's' end`;
  return [
    {
      key: 'usageDown',
      when: sql`s.trend_ratio <= ${1 - MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`s.usage_share * ${parts.trend}::float8 * (100 - coalesce(s.trend, 100)) + 1`,
      // round(100 * (1 - r)) is exactly -round(100 * (r - 1)): float negation and numeric rounding are symmetric.
      text: sql`'active users down ' || -${fact('trendPercent')} || '% vs prior 4 weeks'`,
    },
    {
      key: 'adoption',
      when: sql`s.adoption < 50`,
      impact: sql`s.usage_share * ${parts.adoption}::float8 * (100 - coalesce(s.adoption, 100))`,
      text: sql`'only ' || ${fact('recentActive')} || ' of ' || ${fact('seats')} || ' seats active'`,
    },
    {
      key: 'keyEvents',
      when: sql`s.key_events < 50`,
      impact: sql`s.usage_share * ${parts.keyEvents}::float8 * (100 - coalesce(s.key_events, 100))`,
      text: sql`${fact('keyEventsTenths')} * 0.1 || ' key events per active user a day, target ' || ${MODEL.keyEventsPerUserDayTarget}::int`,
    },
    {
      key: 'tickets',
      when: sql`(s.urgent_count > 0 or s.high_count > 0 or s.support_score < 70)`,
      impact: sql`s.support_share * (100 - coalesce(s.support_score, 100)) + 1`,
      text: sql`case ${fact('ticketKind')}
                  when 1 then ${fact('ticketCount')} || ' open urgent ticket' || ${plural(fact('ticketCount'))} || ', oldest ' || ${fact('ticketOldestDays')} || ' days'
                  when 2 then ${fact('ticketCount')} || ' open high-severity ticket' || ${plural(fact('ticketCount'))} || ', oldest ' || ${fact('ticketOldestDays')} || ' days'
                  else ${fact('ticketCount')} || ' open tickets, oldest ' || ${fact('ticketOldestDays')} || ' days' end`,
    },
    {
      key: 'nps',
      when: sql`s.nps_worst <= 60`,
      impact: sql`s.nps_share * (100 - coalesce(s.nps_score, 100)) + 1`,
      text: sql`worst.text`,
    },
    {
      key: 'touch',
      when: sql`s.touch_days > ${MODEL.touchFreshDays}::int`,
      impact: sql`s.engagement_share * (100 - coalesce(s.touch_score, 100)) / 2`,
      text: sql`'no CSM touch in ' || ${fact('touchDays')} || ' days'`,
    },
    {
      key: 'sla',
      when: sql`s.sla_days > 0 and s.days_in_stage > s.sla_days`,
      impact: sql`s.engagement_share * (100 - coalesce(s.sla_score, 100)) / 2`,
      text: sql`${fact('daysInStage')} || ' days in ' || q.stage_name || ', past its ' || ${fact('slaDays')} || '-day SLA'`,
    },
    {
      key: 'usageUp',
      when: sql`s.trend_ratio >= ${1 + MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`0::float8`,
      text: sql`'active users up ' || ${fact('trendPercent')} || '% vs prior 4 weeks'`,
    },
  ];
}

/**
 * Customer signal, on a `components` row (alias `c`): usage in the window (the last 6 weeks), a ticket on record, an
 * NPS/CSAT answer in the last year, a CSM touch on record. An account with none of them is recomputed as
 * insufficient_data, with no score: its stage SLA alone says nothing about the customer.
 */
const CUSTOMER_SIGNAL = sql.raw('c.usage_score is not null or c.support_score is not null or c.nps_score is not null or c.touch_score is not null');

/** work_mem for the recompute statement only: its hash aggregates hold one entry per account (100k: ~20 MB). */
export const RECOMPUTE_WORK_MEM = '64MB';

/** Arbitrary but fixed: the advisory lock health recomputes take turns on. */
const RECOMPUTE_LOCK_ID = 7_246_311_002;

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

/** The facts of a ranked row (alias `s`), as an int8[] in FACT_NAMES order. */
function factsArray(candidates: ReasonCandidate[]): SQL {
  const said = (key: ReasonKey) => sql.raw(`s.rank_${candidates.findIndex((candidate) => candidate.key === key)} < ${REASONS_SHOWN}`);
  const withUsage = (value: SQL) => sql`case when s.usage_score is not null then ${value} end`;
  const withSla = (value: SQL) => sql`case when s.sla_days > 0 then ${value} end`;
  const ticketKind = sql`case when s.urgent_count > 0 then 1 when s.high_count > 0 then 2 else 3 end`;
  const byTicketKind = (urgent: string, high: string, open: string) =>
    sql.raw(`case when s.urgent_count > 0 then s.${urgent} when s.high_count > 0 then s.${high} else s.${open} end`);
  const position = (place: number) =>
    sql`case ${sql.join(
      candidates.map((_, i) => sql.raw(`when s.rank_${i} = ${place} then ${i}`)),
      sql` `,
    )} end`;
  const trendNumerator = sql`(100 * (s.sum_recent_users * s.prior_days - s.recent_days * s.sum_prior_users))`;
  const trendDenominator = sql`(s.recent_days * s.sum_prior_users)`;
  const facts: Record<FactName, SQL> = {
    version: sql`${FACTS_VERSION}::int8`,
    weights: sql`s.weights_key`,
    usageScore: sql`round(s.usage_score)::int8`,
    // The averages are sums over counts of days: recent_active is recent_users / recent_days (0 without recent days).
    recentActive: withUsage(sql`case when s.recent_days > 0 then ${roundedRatio(sql`s.sum_recent_users`, sql`s.recent_days`)} else 0 end`),
    seats: withUsage(sql`s.seats::int8`),
    // 100 * (recent_active / prior_active - 1), as one fraction of whole numbers. Exactly half a percent is the one
    // case float8 and that fraction may round apart: there the float8 value decides, as it does in the text.
    trendPercent: sql`case when s.trend_ratio is not null then
      case when s.recent_days = 0 then -100
           when (2 * ${trendNumerator}) % ${trendDenominator} = 0 and ((2 * ${trendNumerator}) / ${trendDenominator}) % 2 <> 0
           then round((100 * (s.trend_ratio - 1))::numeric)::int8
           else ${roundedRatio(trendNumerator, trendDenominator)} end end`,
    keyEventsTenths: withUsage(roundedRatio(sql`10 * s.sum_recent_key_events`, sql`greatest(s.sum_recent_users, 1)`)),
    supportScore: sql`round(s.support_score)::int8`,
    openTickets: sql`s.open_count`,
    openOldestDays: sql`case when s.open_count > 0 then floor(s.open_oldest)::int8 end`,
    npsScore: sql`round(s.nps_score)::int8`,
    npsRespondents: sql`s.nps_responses`,
    engagementScore: sql`round(s.engagement_score)::int8`,
    touchDays: sql`floor(s.touch_days)::int8`,
    daysInStage: withSla(sql`floor(s.days_in_stage)::int8`),
    slaDays: withSla(sql`s.sla_days::int8`),
    stageName: withSla(sql`s.stage_name_hash`),
    reason1: position(0),
    reason2: position(1),
    reason3: position(2),
    ticketKind: sql`case when ${said('tickets')} then ${ticketKind} end`,
    ticketCount: sql`case when ${said('tickets')} then ${byTicketKind('urgent_count', 'high_count', 'open_count')} end`,
    ticketOldestDays: sql`case when ${said('tickets')} then floor(${byTicketKind('urgent_oldest', 'high_oldest', 'open_oldest')})::int8 end`,
    npsWorst: sql`case when ${said('nps')} then s.nps_worst_key::int8 end`,
  };
  return sql`array[${sql.join(
    FACT_NAMES.map((name) => facts[name]),
    sql`, `,
  )}]::int8[]`;
}

/** Whether the facts of `q` have no component with data: no customer signal, so no score (insufficient_data). */
function noCustomerSignal(): SQL {
  return sql`(${sql.join(
    (['usageScore', 'supportScore', 'npsScore', 'engagementScore'] as const).map((name) => sql`${fact(name)} is null`),
    sql` and `,
  )})`;
}

/** The components as stored (jsonb), written from the facts of `q`. */
function componentsJson(): SQL {
  const weight = (share: string) => sql`round((100 * q.${sql.raw(share)})::numeric, 1)`;
  const score = (name: FactName) => sql`${fact(name)}::int`;
  // What became of a component without data: its weight went to the others, or there were none to score.
  const leftOut = sql`case when ${noCustomerSignal()} then ': not enough data for a score' else ': left out, its weight shared by the others' end`;
  return sql`jsonb_build_object(
    'usage', jsonb_build_object(
      'score', ${score('usageScore')}, 'weight', ${weight('usage_share')},
      'detail', case when ${fact('usageScore')} is null then 'no usage data in the last 6 weeks' || ${leftOut}
                     else ${fact('recentActive')} || ' of ' || ${fact('seats')} || ' seats active (14-day average)'
                          || case when ${fact('trendPercent')} is null then ', no earlier weeks to compare'
                                  else ', ' || to_char(${fact('trendPercent')}, 'FMSG999990') || '% vs prior 4 weeks' end
                          || ', ' || ${fact('keyEventsTenths')} * 0.1 || ' key events per active user a day' end),
    'support', jsonb_build_object(
      'score', ${score('supportScore')}, 'weight', ${weight('support_share')},
      'detail', case when ${fact('supportScore')} is null then 'no tickets on record' || ${leftOut}
                     when ${fact('openTickets')} = 0 then 'no open tickets'
                     else ${fact('openTickets')} || ' open ticket' || case when ${fact('openTickets')} = 1 then '' else 's' end
                          || ', oldest ' || ${fact('openOldestDays')} || ' days' end),
    'nps', jsonb_build_object(
      'score', ${score('npsScore')}, 'weight', ${weight('nps_share')},
      'detail', case when ${fact('npsScore')} is null then 'no NPS or CSAT answer in the last year' || ${leftOut}
                     else ${fact('npsRespondents')} || ' respondent' || case when ${fact('npsRespondents')} = 1 then '' else 's' end
                          || ' in the last year, recent answers weigh more' end),
    'engagement', jsonb_build_object(
      'score', ${score('engagementScore')}, 'weight', ${weight('engagement_share')},
      'detail', case when ${fact('engagementScore')} is null then
                       case when ${fact('slaDays')} > 0
                            then 'no CSM touch recorded; time in stage alone is not scored (' || ${fact('daysInStage')} || ' days in ' || q.stage_name
                                 || ', SLA ' || ${fact('slaDays')} || ' days)'
                            else 'no CSM touch and no stage SLA' end || ${leftOut}
                     else concat_ws('; ',
                            case when ${fact('touchDays')} is null then 'no CSM touch recorded' else 'last CSM touch ' || ${fact('touchDays')} || ' days ago' end,
                            case when ${fact('slaDays')} > 0 then ${fact('daysInStage')} || ' days in ' || q.stage_name || ' (SLA ' || ${fact('slaDays')} || ' days)' end) end)
  )`;
}

/** The reasons as a jsonb array, written from the facts of `q`: the ones said, costliest first, then the note on missing components. */
function reasonsJson(candidates: ReasonCandidate[]): SQL {
  const positions = (['reason1', 'reason2', 'reason3'] as const).slice(0, REASONS_SHOWN).map(
    (name) =>
      sql`case ${fact(name)} ${sql.join(
        candidates.map((candidate, i) => sql`when ${sql.raw(String(i))} then ${candidate.text}`),
        sql` `,
      )} end`,
  );
  const missing = (name: FactName) => sql`${fact(name)} is null`;
  const present = (name: FactName) => sql`${fact(name)} is not null`;
  const coverageNote = sql`case when ${noCustomerSignal()}
    then 'not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches'
    when ${missing('usageScore')} or ${missing('supportScore')} or ${missing('npsScore')} or ${missing('engagementScore')}
    then 'no ' || array_to_string(array[case when ${missing('usageScore')} then 'usage' end, case when ${missing('supportScore')} then 'support' end,
                                        case when ${missing('npsScore')} then 'NPS/CSAT' end, case when ${missing('engagementScore')} then 'engagement' end], ' or ')
         || ' data: scored on '
         || array_to_string(array[case when ${present('usageScore')} then 'usage' end, case when ${present('supportScore')} then 'support' end,
                                  case when ${present('npsScore')} then 'NPS/CSAT' end, case when ${present('engagementScore')} then 'engagement' end], ', ')
    end`;
  return sql`to_jsonb(array_remove(array[${sql.join(positions, sql`, `)}, ${coverageNote}]::text[], null))`;
}

/**
 * The day- and week-old scores: the score in effect a day or a week before now. History holds only changes, so it is
 * the newest point at or before that moment. It needs no lookup when the current score was computed by then, or
 * when the moment is still inside the span the stored value is known to hold for (account_health.score_day_ago_from
 * and _until); otherwise index probes find the point, and the next point with another score, which ends its span.
 */
interface Ago {
  name: 'day' | 'week';
  moment: SQL;
  stored: { score: string; from: string; until: string };
}

/** On `compared`: whether the stored values answer, and what they are. */
function agoFlags({ name, moment, stored }: Ago): SQL {
  const p = (column: string) => sql.raw(`p.${column}`);
  const as = (column: string) => sql.raw(`${name}_${column}`);
  // An account without a current score (a new one) has no history either, unless someone removed its current score.
  return sql`coalesce(p.computed_at <= ${moment}, false) as ${as('current')},
         (${p(stored.from)} is not null or ${p(stored.until)} is not null)
           and coalesce(${p(stored.from)} <= ${moment}, true) and coalesce(${moment} < ${p(stored.until)}, true)
         or p.account_id is null and not exists (select from health_scores h where h.account_id = f.account_id) as ${as('kept')},
         ${p(stored.score)} as ${as('stored_score')}, ${p(stored.from)} as ${as('stored_from')}, ${p(stored.until)} as ${as('stored_until')}`;
}

/** On `moved` (alias `c`): the score a day or a week ago and the point it comes from, looked up only when needed. */
function agoPoint({ name, moment }: Ago): SQL {
  const c = (column: string) => sql.raw(`c.${name}_${column}`);
  const newest = (column: string) =>
    sql`(select h.${sql.raw(column)} from health_scores h where h.account_id = c.account_id and h.computed_at <= ${moment}
         order by h.computed_at desc limit 1)`;
  const as = (column: string) => sql.raw(`${name}_${column}`);
  return sql`case when ${c('current')} then c.previous_score when ${c('kept')} then ${c('stored_score')} else ${newest('score')} end as ${as('score')},
         case when ${c('current')} then c.previous_computed_at when ${c('kept')} then ${c('stored_from')} else ${newest('computed_at')} end as ${as('from')},
         case when ${c('kept')} and not ${c('current')} then ${c('stored_until')} end as ${as('until_known')},
         not ${c('current')} and not ${c('kept')} as ${as('looked_up')}`;
}

/**
 * For an account written (alias `q`): until when that score holds, the next point with another score. Before the
 * first point (no `from`) it is the first point, even one without a score (insufficient_data): a null score with
 * neither end known would be looked up again on every recompute.
 */
function agoUntil({ name, moment }: Ago): SQL {
  const q = (column: string) => sql.raw(`q.${name}_${column}`);
  return sql`case when not ${q('looked_up')} then ${q('until_known')}
              else (select h.computed_at from health_scores h where h.account_id = q.account_id and h.computed_at > ${moment}
                      and (h.score is distinct from ${q('score')} or ${q('from')} is null) order by h.computed_at limit 1) end as ${sql.raw(`${name}_until`)}`;
}

/** What usage_windows keeps of each account's usage: the usage component and the sums its facts are said from. */
const USAGE_WINDOW_COLUMNS = [
  'account_id', 'seats', 'sum_recent_users', 'recent_days', 'sum_prior_users', 'prior_days', 'sum_recent_key_events',
  'adoption', 'trend', 'trend_ratio', 'key_events', 'usage_score',
] as const;

/** The model constants the kept usage windows are derived with, as a 64-bit hash: other constants make them stale. */
const USAGE_WINDOW_MODEL = createHash('sha256')
  .update(JSON.stringify([HEALTH_MODEL_VERSION, MODEL.recentDays, MODEL.priorDays, MODEL.keyEventsPerUserDayTarget, MODEL.usageParts]))
  .digest()
  .readBigInt64BE(0)
  .toString();

/**
 * For a recompute of every account whose usage windows were aggregated anew: keeps them as the next generation, for
 * the recomputes that follow on the same day, and drops the earlier one. Days that left the window stop counting.
 */
function keepUsageWindows(today: SQL, window: number): SQL {
  const rebuilt = sql`not exists (select from usage_kept)`;
  return sql`
usage_generation as (
  -- Above any kept row's, even when the state was dropped (usage_daily truncated) and its rows were not.
  select coalesce(greatest((select generation from usage_window_state), (select max(generation) from usage_windows)), 0) + 1 as generation
),
usage_stored as (
  insert into usage_windows (generation, ${sql.raw(USAGE_WINDOW_COLUMNS.join(', '))})
  select g.generation, ${sql.raw(USAGE_WINDOW_COLUMNS.map((column) => `c.${column}`).join(', '))}
  from usage_computed c cross join usage_generation g
),
usage_dropped as (
  -- The rows inserted above are not seen here: this drops the earlier generations only.
  delete from usage_windows where ${rebuilt}
),
usage_state as (
  insert into usage_window_state (id, generation, as_of, changes, model)
  select true, g.generation, ${today}, b.changes, ${USAGE_WINDOW_MODEL}::int8 from usage_generation g cross join usage_basis b where ${rebuilt}
  on conflict (id) do update set generation = excluded.generation, as_of = excluded.as_of, changes = excluded.changes, model = excluded.model
),
usage_changes_pruned as (
  delete from usage_changes where ${rebuilt} and day <= ${today} - ${window}::int
),`;
}

/**
 * Recomputes health as one statement over aggregates: each signal table is scanned once with GROUP BY (hash
 * aggregates), the components, score, status and the facts they are said with are derived per account in SQL, and
 * the same statement appends history and writes account_health for the scores that changed only. No loop over
 * accounts. A score's components and reasons are written out (as text) only when its facts differ from the stored
 * ones; the others are compared as numbers and left alone.
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
  const nowTs = sql`${now.toISOString()}::timestamptz`;
  const today = sql`${isoDay(now)}::date`;
  const idArray = ids ? sql`string_to_array(${ids.join(',')}, ',')::uuid[]` : null;
  const only = (column: SQL) => (idArray ? sql`and ${column} = any(${idArray})` : sql``);
  const recent = MODEL.recentDays;
  const window = MODEL.recentDays + MODEL.priorDays;
  const penalty = MODEL.ticketPenalty;
  const parts = MODEL.usageParts;
  const candidates = reasonCandidates();
  const version = sql`${HEALTH_MODEL_VERSION}::int`;
  const ago: Ago[] = [
    { name: 'day', moment: sql`(${nowTs} - interval '1 day')`, stored: { score: 'score_day_ago', from: 'score_day_ago_from', until: 'score_day_ago_until' } },
    { name: 'week', moment: sql`(${nowTs} - interval '7 days')`, stored: { score: 'score_week_ago', from: 'score_week_ago_from', until: 'score_week_ago_until' } },
  ];
  // A day- or week-old score holds until the next point with another score: a score changed now ends its span here.
  const endedNow = (name: 'day' | 'week') => {
    const until = sql.raw(`${name}_until`);
    return sql`case when changed and score is distinct from ${sql.raw(`${name}_score`)} then least(${until}, ${nowTs}) else ${until} end`;
  };

  // Days from a moment to now, in float8: date_part works in float8, while extract() goes through numeric, which
  // costs more than the rest of the expression over every ticket, answer, touch and account.
  const daysSince = (from: SQL) => sql`(date_part('epoch', ${nowTs} - ${from}) / 86400)`;

  const statement = sql`
with settings(segment, w_usage, w_support, w_nps, w_engagement, healthy_min, at_risk_min, weights_key) as (
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
         ${daysSince(sql`a.stage_entered_at`)} as days_in_stage
  from accounts a
  join stages s on s.key = a.stage_key
  where true ${only(sql`a.id`)}
),
usage_basis as materialized (
  -- How often the window's days were written to (a trigger counts every write to usage_daily).
  select count(*) as changes from usage_changes where day > ${today} - ${window}::int and day <= ${today}
),
usage_kept as materialized (
  -- The kept usage windows answer when they are as of today, nothing was written to their days since, and they were
  -- derived by the same model.
  select st.generation from usage_window_state st cross join usage_basis b
  where st.as_of = ${today} and st.changes = b.changes and st.model = ${USAGE_WINDOW_MODEL}::int8
),
usage_live as (
  -- Sums and counts only: they aggregate in place (no per-account state to allocate), and the averages follow.
  -- Read only when no kept windows answer (the first recompute of a day, or after new usage).
  select u.account_id,
         sum(u.active_users) filter (where u.day > ${today} - ${recent}::int) as recent_users,
         count(*) filter (where u.day > ${today} - ${recent}::int) as recent_days,
         sum(u.active_users) as window_users,
         count(*) as window_days,
         max(u.seats) as seats,
         sum(u.key_events) filter (where u.day > ${today} - ${recent}::int) as recent_key_events
  from usage_daily u
  where not exists (select from usage_kept) and u.day > ${today} - ${window}::int and u.day <= ${today} ${only(sql`u.account_id`)}
  group by u.account_id
),
usage_computed as (
  select p.*,
         (${parts.adoption}::float8 * p.adoption + ${parts.keyEvents}::float8 * p.key_events + coalesce(${parts.trend}::float8 * p.trend, 0))
         / (${parts.adoption + parts.keyEvents}::float8 + case when p.trend is null then 0 else ${parts.trend}::float8 end) as usage_score
  from (
    select account_id, seats, sum_recent_users, recent_days, sum_prior_users, prior_days, sum_recent_key_events,
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
             seats::float8 as seats,
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
  union all
  select ${sql.raw(USAGE_WINDOW_COLUMNS.join(', '))} from usage_computed
),${idArray ? sql`` : keepUsageWindows(today, window)}
latest_surveys as (
  -- The latest answer of each respondent: someone who answered 3 then 9 is a 9 now. Respondents are told apart by
  -- their bytes ("C"): only equality matters, not a language's order.
  select distinct on (account_id, coalesce(lower(respondent_email), id::text) collate "C")
         account_id, ${surveyAnswerKey('survey_responses')} as answer_key,
         case kind when 'nps' then score * 10.0 else (score - 1) * 25.0 end::float8 as normalized,
         power(0.5, ${daysSince(sql`responded_at`)} / ${MODEL.surveyHalfLifeDays}::float8) as decay
  from survey_responses
  where responded_at <= ${nowTs} and responded_at > ${nowTs} - make_interval(days => ${MODEL.surveyLookbackDays}::int)
        ${only(sql`account_id`)}
  order by account_id, coalesce(lower(respondent_email), id::text) collate "C", responded_at desc
),
signals as (
  -- Tickets, the latest survey answers and CSM touches grouped by account in one pass: one hash table and one join
  -- instead of one of each per table. Each kind of row fills its own columns and leaves the others null, which
  -- the aggregates pass over.
  select account_id,
         count(ticket) as ticket_rows,
         count(open_age) as open_count,
         coalesce(sum(penalty), 0) as penalty,
         count(urgent_age) as urgent_count,
         max(urgent_age) as urgent_oldest,
         count(high_age) as high_count,
         max(high_age) as high_oldest,
         max(open_age) as open_oldest,
         sum(weighted) / sum(decay) as nps_score,
         count(answer) as nps_responses,
         min(normalized) as nps_worst,
         min(answer_key) as nps_worst_key,
         ${daysSince(sql`max(occurred_at)`)} as touch_days
  from (
    select account_id, 1 as ticket, age_days as open_age,
           -- least() passes over a null age: a resolved ticket is left out here, not charged in full.
           case when age_days is not null then
             case severity when 'urgent' then ${penalty.urgent}::float8 when 'high' then ${penalty.high}::float8
                           when 'normal' then ${penalty.normal}::float8 else ${penalty.low}::float8 end
             * (1 + least(age_days, ${MODEL.ticketAgeFullDays}::float8) / ${MODEL.ticketAgeFullDays}::float8)
           end as penalty,
           case when severity = 'urgent' then age_days end as urgent_age,
           case when severity = 'high' then age_days end as high_age,
           null::int as answer, null::float8 as weighted, null::float8 as decay, null::float8 as normalized, null::float8 as answer_key,
           null::timestamptz as occurred_at
    from (
      -- The age of open tickets only (null for resolved ones, which cost nothing), once per ticket.
      select account_id, severity,
             case when resolved_at is null or resolved_at > ${nowTs} then ${daysSince(sql`opened_at`)} end as age_days
      from tickets
      where opened_at <= ${nowTs} ${only(sql`account_id`)}
      offset 0
    ) t
    union all
    select account_id, null, null, null, null, null, 1, normalized * decay, decay, normalized, answer_key, null
    from latest_surveys
    union all
    select account_id, null, null, null, null, null, null, null, null, null, null, occurred_at
    from csm_touches
    where occurred_at <= ${nowTs} ${only(sql`account_id`)}
  ) x
  group by account_id
),
components as (
  select t.account_id, t.segment, t.stage_name, t.stage_name_hash, t.sla_days, t.days_in_stage,
         up.seats, up.adoption, up.trend, up.trend_ratio, up.key_events,
         up.sum_recent_users, up.recent_days, up.sum_prior_users, up.prior_days, up.sum_recent_key_events, up.usage_score,
         -- Null, not 0, for an account without tickets or answers: the facts say "no data" apart from "none open".
         ${sql.raw(['open_count', 'urgent_count', 'urgent_oldest', 'high_count', 'high_oldest', 'open_oldest'].map((column) => `case when g.ticket_rows > 0 then g.${column} end as ${column}`).join(', '))},
         case when g.ticket_rows > 0 then greatest(0, 100 - g.penalty) end as support_score,
         g.nps_score, case when g.nps_responses > 0 then g.nps_responses end as nps_responses, g.nps_worst, g.nps_worst_key,
         g.touch_days,
         -- greatest and least pass over nulls: without a touch there is no touch score.
         case when g.touch_days is not null then
           100 * greatest(0, least(1, (${MODEL.touchStaleDays}::float8 - g.touch_days) / ${MODEL.touchStaleDays - MODEL.touchFreshDays}::float8))
         end as touch_score,
         case when t.sla_days > 0 then 100 * greatest(0, least(1, 2 - t.days_in_stage / t.sla_days)) end as sla_score,
         s.w_usage, s.w_support, s.w_nps, s.w_engagement, s.healthy_min, s.at_risk_min, s.weights_key
  from target t
  join settings s on s.segment = t.segment
  left join usage_parts up on up.account_id = t.account_id
  left join signals g on g.account_id = t.account_id
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
           -- Time in stage against its SLA is our own clock, not a signal from the customer: it counts beside one
           -- (a touch, or another component with data) and never alone, so an account with no customer signal has
           -- no component with data, no score, and the status insufficient_data.
           case when c.touch_score is null and (c.sla_score is null or not (${CUSTOMER_SIGNAL})) then null
                else (coalesce(c.touch_score, 0) + coalesce(c.sla_score, 0))
                     / ((c.touch_score is not null)::int + (c.sla_score is not null)::int) end as engagement_score
    from components c
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
),
reasoned as (
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
         s.stage_name, s.usage_share, s.support_share, s.nps_share, s.engagement_share, ${factsArray(candidates)} as facts
  from ranked s
  offset 0 -- built once: compared refers to the facts and the status twice
),
compared as (
  select f.account_id, f.score, f.status, f.stage_name, f.usage_share, f.support_share, f.nps_share, f.engagement_share, f.facts,
         p.account_id is not null as existed, p.score as previous_score, p.status as previous_status, p.model_version as previous_model_version,
         p.computed_at as previous_computed_at, p.facts as previous_facts,
         -- Only these can have other text than the stored one; the rest say exactly what they said.
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
      'score', 'stage_name', 'usage_share', 'support_share', 'nps_share', 'engagement_share', 'facts', 'candidate', 'recorded', 'comparable',
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
           or m.candidate and coalesce(m.previous_facts[1] = m.facts[1]
                                       and ${recordedKinds('m.previous_facts')} <> ${recordedKinds('m.facts')}, false) as recorded,
           -- The stored facts are of the same version: compared above. Otherwise (stored before facts were kept, or
           -- by an earlier version of them) the reasons are compared as text.
           coalesce(m.previous_facts[1] = m.facts[1], false) as comparable
    from moved m
    offset 0
  ) m
),
decided as materialized (
  select w.*,
         w.recorded or (w.candidate and not w.comparable and w.reasons <> w.previous_reasons) as changed
  from (
    select q.account_id, q.existed, q.score, q.status, q.facts, q.candidate, q.recorded, q.comparable,
           q.previous_computed_at, previous.reasons as previous_reasons,
           q.day_score, q.day_from, q.week_score, q.week_from, ${sql.join(ago.map(agoUntil), sql`, `)},
           case when q.candidate then ${componentsJson()} else previous.components end as components,
           case when q.candidate then ${reasonsJson(candidates)} else previous.reasons end as reasons
    from pending q
    -- The stored text, read only where it is kept (a day- or week-old score moved on, nothing else) or where the
    -- reasons are compared as text (stored facts of another version, and no new score).
    left join lateral (
      select h.reasons, h.components from account_health h
      where (not q.candidate or not q.comparable and not q.recorded) and h.account_id = q.account_id offset 0
    ) previous on true
    -- The survey answer the NPS reason names, looked up only for a score written anew that says it.
    left join lateral (
      select upper(r.kind::text) || ' ' || r.score || ' from '
             || coalesce('the ' || nullif(trim(r.respondent_role), ''), r.respondent_email, 'a respondent') as text
      from (
        -- The account's answers (by its index), then the one with that key.
        select * from survey_responses r
        where q.candidate and ${fact('npsWorst')} is not null and r.account_id = q.account_id
          and r.responded_at <= ${nowTs} and r.responded_at > ${nowTs} - make_interval(days => ${MODEL.surveyLookbackDays}::int)
        offset 0
      ) r
      where ${surveyAnswerKey('r')}::int8 = ${fact('npsWorst')}
      limit 1
    ) worst on true
    where q.to_write
    offset 0 -- written out once: changed compares it, history and account_health store it
  ) w
),
history as (
  insert into health_scores (account_id, score, status, components, reasons, model_version, computed_at)
  select account_id, score, status, components, reasons, ${version}, ${nowTs}
  from decided
  where changed
  returning account_id
),
written as (
  insert into account_health (account_id, score, status, score_day_ago, score_week_ago, reasons, components, computed_at, model_version, facts,
                              score_day_ago_from, score_day_ago_until, score_week_ago_from, score_week_ago_until)
  select account_id, score, status, day_score, week_score, reasons, components,
         case when changed then ${nowTs} else previous_computed_at end, ${version}, facts,
         day_from, ${endedNow('day')}, week_from, ${endedNow('week')}
  from decided
  on conflict (account_id) do update set
    score = excluded.score, status = excluded.status, score_day_ago = excluded.score_day_ago,
    score_week_ago = excluded.score_week_ago, reasons = excluded.reasons, components = excluded.components,
    -- Decided above (only a changed score moves computedAt): recomputes take turns, so the row is the one compared.
    computed_at = excluded.computed_at,
    model_version = excluded.model_version, facts = excluded.facts,
    score_day_ago_from = excluded.score_day_ago_from, score_day_ago_until = excluded.score_day_ago_until,
    score_week_ago_from = excluded.score_week_ago_from, score_week_ago_until = excluded.score_week_ago_until
  returning account_id
)
select (select count(*) from pending where status <> 'insufficient_data') as accounts,
       (select count(*) from pending where status = 'insufficient_data') as insufficient_data,
       (select count(*) from pending where existed and status = 'insufficient_data' and previous_status <> 'insufficient_data') as scores_removed,
       (select count(*) from pending where existed and previous_status <> status) as status_changes,
       (select count(*) from history) as history_rows,
       (select count(*) from written) as rows_written
`;

  type Counts = { accounts: number | string; insufficient_data: number | string; scores_removed: number | string; status_changes: number | string; history_rows: number | string; rows_written: number | string };
  // Recomputes take turns (a transaction-level advisory lock, released at commit): a run that overlaps another, a
  // slow hourly fire and the next one or a refresh after new signals, takes its snapshot after the other committed,
  // so it compares with what that one wrote and never records the same change twice.
  // JIT compiling this statement's many expressions costs seconds, more than it saves on ~100k rows; the hash
  // aggregates over usage need more than the default work_mem to stay in memory (100k accounts: ~20 MB).
  // Set for this transaction only, and put back afterwards for a caller's transaction that goes on.
  const row = await db.transaction(async (tx) => {
    const [before] = await queryRows<{ jit: string; work_mem: string }>(
      tx,
      sql`select pg_advisory_xact_lock(${RECOMPUTE_LOCK_ID}::int8) as locked, current_setting('jit') as jit, current_setting('work_mem') as work_mem,
                 set_config('jit', 'off', true) as jit_off, set_config('work_mem', ${RECOMPUTE_WORK_MEM}, true) as work_mem_set`,
    );
    const [counts] = await queryRows<Counts>(tx, statement);
    if (before) await tx.execute(sql`select set_config('jit', ${before.jit}, true), set_config('work_mem', ${before.work_mem}, true)`);
    return counts;
  });
  return {
    accounts: Number(row?.accounts ?? 0),
    insufficientData: Number(row?.insufficient_data ?? 0),
    scoresRemoved: Number(row?.scores_removed ?? 0),
    statusChanges: Number(row?.status_changes ?? 0),
    historyRows: Number(row?.history_rows ?? 0),
    rowsWritten: Number(row?.rows_written ?? 0),
  };
}

export interface AtRiskItem {
  account: Account;
  score: number;
  /** Never insufficient_data: an account without a score is not at risk, nor safe; it is left out. */
  status: ScoredHealthStatus;
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
  /** Who is reading: an account executive lists only accounts where they are the CSM or the account executive. */
  reader: Actor;
  limit?: number;
  /** Reserved for callers that pin time (digests, tests); the list reads the latest computed scores. */
  now?: Date;
}

/** A Healthy account still makes the list when it lost at least this many points since yesterday. */
export const AT_RISK_DROP_POINTS = 10;

/**
 * Accounts At risk or Critical, or falling fast, biggest drop first, then lowest score. Churned accounts never, nor
 * accounts without a score (insufficient_data).
 */
export async function listAtRisk(db: Db | Tx, params: ListAtRiskParams): Promise<AtRiskItem[]> {
  const readableAeId = readableOwnerId(params.reader);
  const limit = Math.min(Math.max(params.limit ?? 50, 1), 500);
  const csmFilter = sql`${params.csmId ? sql`and a.csm_id = ${params.csmId}::uuid` : sql``} ${
    readableAeId ? sql`and (a.csm_id = ${readableAeId}::uuid or a.ae_id = ${readableAeId}::uuid)` : sql``
  }`;
  const rows = await queryRows<{ account_id: string; drop: number | string }>(
    db,
    sql`
select a.id as account_id, coalesce(h.score_day_ago - h.score, 0) as drop
from account_health h
join accounts a on a.id = h.account_id
join lifecycle_stages s on s.key = a.stage_key
where not s.terminal ${csmFilter}
  and (h.status in ('at_risk', 'critical') or h.status = 'healthy' and coalesce(h.score_day_ago - h.score, 0) >= ${AT_RISK_DROP_POINTS}::int)
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
    // Listed only with a score (the query above); checked again for the types, and for a recompute in between.
    if (!account || !health || health.score === null || health.status === 'insufficient_data') continue;
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
  /** Null when the status is insufficient_data. */
  score: number | null;
  status: HealthStatus;
  computedAt: Date;
  reasons: string[];
}

export interface AccountHealthView {
  accountId: string;
  /** Null when the status is insufficient_data: recomputed, with no customer signal to score. */
  score: number | null;
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
  accountId: string;
  /** Who is reading: null for an account the reader may not read (an AE reads only the accounts they sold). */
  reader: Actor;
  historyDays?: number;
  now?: Date;
}

/** Points lost from an earlier score to the current one (positive: it fell); null when either is missing. */
export function scoreDrop(earlier: number | null, current: number | null): number | null {
  return earlier === null || current === null ? null : earlier - current;
}

export async function getAccountHealth(db: Db | Tx, params: GetAccountHealthParams): Promise<AccountHealthView | null> {
  const readableAeId = readableOwnerId(params.reader);
  const { accountId } = params;
  if (!isUuid(accountId)) return null;
  const [row] = await db
    .select({ current: accountHealth })
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .where(and(eq(accountHealth.accountId, accountId), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
  if (!row) return null;
  const { current } = row;
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
    dropSinceYesterday: scoreDrop(current.scoreDayAgo, current.score),
    dropSinceLastWeek: scoreDrop(current.scoreWeekAgo, current.score),
    history,
    sentiment: sentiment ?? null,
  };
}

/** The latest health of each account the reader may read, in one statement (for loaders); the others are left out. */
export async function getHealthSummariesByAccountIds(db: Db, params: { accountIds: readonly string[]; reader: Actor }): Promise<HealthSummary[]> {
  const readableAeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  return db
    .select(healthSummaryColumns)
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .where(and(inArray(accountHealth.accountId, ids), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
}
