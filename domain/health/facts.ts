/**
 * The facts a score is said with, the reasons that may explain it, and the component details and reasons written
 * from those facts. Parts of the recompute statement.
 */
import { type SQL, sql } from 'drizzle-orm';
import { MODEL } from './model.ts';

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
  /** Onboarding milestones due and reached on time: only when the account has any due (they replace the SLA then). */
  'milestonesDue',
  'milestonesOnTime',
] as const;
type FactName = (typeof FACT_NAMES)[number];

/**
 * What a history point records besides the score and status, from a facts array (an SQL expression): which reasons
 * are said and in which order, which kind of ticket the ticket reason names, and which components had data. Their
 * numbers are not part of it: a score whose reasons read the same but for a count of days is the same point.
 */
export function recordedKinds(facts: string): SQL {
  const at = (name: FactName) => `${facts}[${FACT_NAMES.indexOf(name) + 1}]`;
  const kinds = [
    ...(['reason1', 'reason2', 'reason3', 'ticketKind'] as const).map(at),
    ...(['usageScore', 'supportScore', 'npsScore', 'engagementScore'] as const).map((name) => `(${at(name)} is null)::int::int8`),
  ];
  return sql.raw(`array[${kinds.join(', ')}]`);
}

const FACTS_VERSION = 2;

/**
 * num / den rounded half away from zero, in integers (den > 0). The averages the text shows are ratios of whole
 * counts; written as round(x::numeric) of their float8 value they come out the same (numeric keeps 15 digits, which
 * puts a ratio of small counts on the same side of a half), without a numeric conversion for every account.
 */
function roundedRatio(num: SQL, den: SQL): SQL {
  return sql`(sign(${num}) * ((2 * abs(${num}) + ${den}) / (2 * ${den})))::int8`;
}

/** One fact of the row being written (alias `q`), by name. */
export function fact(name: FactName): SQL {
  return sql.raw(`q.facts[${FACT_NAMES.indexOf(name) + 1}]`);
}

/**
 * Orders a survey answer (alias `r`) worst first: by its normalized score, then the most recent first (to the
 * millisecond). Exact in float8 (below 2^53): 0-100 times 2^42, plus 2^42 less the answer's epoch milliseconds.
 * The worst answer's key is a fact, and the NPS reason looks the answer up by it.
 */
export function surveyAnswerKey(r: string): SQL {
  const normalized = sql.raw(`case ${r}.kind when 'nps' then ${r}.score * 10.0 else (${r}.score - 1) * 25.0 end::float8`);
  const span = sql.raw('4398046511104::float8');
  return sql`(${normalized} * ${span} + ${span} - round(date_part('epoch', ${sql.raw(r)}.responded_at) * 1000))`;
}

type ReasonKey = 'usageDown' | 'adoption' | 'keyEvents' | 'tickets' | 'nps' | 'touch' | 'sla' | 'usageUp' | 'milestones';

/**
 * A fact that may explain a score: said when `when` holds, ranked by the points it cost (`impact`); both read the
 * scored row (alias `s`). `text` writes it from the facts (alias `q`).
 */
export interface ReasonCandidate {
  key: ReasonKey;
  when: SQL;
  impact: SQL;
  text: SQL;
}

/** Every fact the model can name, in tie-break order. */
export function reasonCandidates(): ReasonCandidate[] {
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
      // Said as the kept signals say the worst answer (signals-kept.ts).
      text: sql`q.nps_worst_said`,
    },
    {
      key: 'touch',
      when: sql`s.touch_days > ${MODEL.touchFreshDays}::int`,
      impact: sql`s.engagement_share * (100 - coalesce(s.touch_score, 100)) / 2`,
      text: sql`'no CSM touch in ' || ${fact('touchDays')} || ' days'`,
    },
    {
      key: 'sla',
      when: sql`s.sla_days > 0 and s.days_in_stage > s.sla_days and s.milestone_score is null`,
      impact: sql`s.engagement_share * (100 - coalesce(s.sla_score, 100)) / 2`,
      text: sql`${fact('daysInStage')} || ' days in ' || q.stage_name || ', past its ' || ${fact('slaDays')} || '-day SLA'`,
    },
    {
      key: 'usageUp',
      when: sql`s.trend_ratio >= ${1 + MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`0::float8`,
      text: sql`'active users up ' || ${fact('trendPercent')} || '% vs prior 4 weeks'`,
    },
    {
      key: 'milestones',
      when: sql`s.milestone_score < 100`,
      impact: sql`s.engagement_share * (100 - s.milestone_score) / 2`,
      text: sql`${fact('milestonesOnTime')} || ' of ' || ${fact('milestonesDue')} || ' onboarding milestones reached on time'`,
    },
  ];
}

/** How many reasons a score states, costliest first (the note on missing components comes after them). */
const REASONS_SHOWN = 3;

/**
 * Each candidate's place among the reasons, counted from the other impacts (ties go to the earlier candidate), so
 * no per-account sort or aggregate runs: null when it is not said. Expects `impact_<i>` on `s`.
 */
export function reasonRanks(candidates: ReasonCandidate[]): SQL {
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
export function factsArray(candidates: ReasonCandidate[]): SQL {
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
    milestonesDue: sql`case when s.milestone_score is not null then s.milestones_due::int8 end`,
    milestonesOnTime: sql`case when s.milestone_score is not null then s.milestones_on_time::int8 end`,
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
export function componentsJson(): SQL {
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
                            case when ${fact('milestonesDue')} is not null
                                 then ${fact('milestonesOnTime')} || ' of ' || ${fact('milestonesDue')} || ' onboarding milestones reached on time'
                                 when ${fact('slaDays')} > 0 then ${fact('daysInStage')} || ' days in ' || q.stage_name || ' (SLA ' || ${fact('slaDays')} || ' days)' end) end)
  )`;
}

/** The reasons as a jsonb array, written from the facts of `q`: the ones said, costliest first, then the note on missing components. */
export function reasonsJson(candidates: ReasonCandidate[]): SQL {
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
