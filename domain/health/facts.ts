/**
 * The facts a score is said with and the reasons that may explain it: parts of the recompute statement. The words
 * are said from the facts when read (words.ts).
 */
import { type SQL, sql } from 'drizzle-orm';
import { MODEL } from './model.ts';

/**
 * What a score says, as numbers: the component details and the reasons are said from these alone (and from the stage
 * name and the survey answer as said, kept beside them in stage_name and nps_worst_said), so a recompute compares
 * and writes numbers, and words.ts puts them into words when they are read. Stored in account_health.facts and
 * health_scores.facts, in this order. Which reasons and components they name decides whether a change is a new
 * history point (recordedKinds). Changing what a fact holds or where, or how words.ts says it, must bump
 * FACTS_VERSION (the first fact): every score is then compared anew, and words.ts says only facts of its version.
 */
export const FACT_NAMES = [
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
  /** Each component's share of the score as shown, in tenths of a percent (0 without data). */
  'usageWeight',
  'supportWeight',
  'npsWeight',
  'engagementWeight',
  /** The survey reason, when said: which answer is the worst (see surveyAnswerKey). */
  'npsWorst',
  /** Onboarding milestones due and reached on time: only when the account has any due (they replace the SLA then). */
  'milestonesDue',
  'milestonesOnTime',
] as const;
export type FactName = (typeof FACT_NAMES)[number];

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

export const FACTS_VERSION = 3;

/**
 * The first facts version that holds the reasons said, the ticket kind and the component scores where recordedKinds
 * reads them: stored facts from it on are compared by kinds across a version bump. Moving those facts must raise it
 * to the new FACTS_VERSION.
 */
const RECORDED_KINDS_SINCE = 2;

/** Whether stored facts (an SQL expression) name their kinds as recordedKinds reads them, so kinds can be compared. */
export function kindsComparable(facts: string): SQL {
  return sql.raw(`coalesce(${facts}[1] >= ${RECORDED_KINDS_SINCE}, false)`);
}

/**
 * A component's score (0-100, null without data) in a row of account_health or health_scores (alias `h`): from its
 * facts, or from the components stored in words before facts were kept. Component scores sit where recordedKinds
 * reads them, in every version from RECORDED_KINDS_SINCE on.
 */
export function storedComponentScore(h: string, component: 'usage' | 'support' | 'nps' | 'engagement'): SQL {
  const name: FactName = `${component}Score` as const;
  return sql.raw(
    `case when ${h}.facts is not null then ${h}.facts[${FACT_NAMES.indexOf(name) + 1}]::numeric
          when jsonb_typeof(${h}.components -> '${component}' -> 'score') = 'number' then (${h}.components -> '${component}' ->> 'score')::numeric end`,
  );
}

/**
 * num / den rounded half away from zero, in integers (den > 0). The averages the words show are ratios of whole
 * counts; written as round(x::numeric) of their float8 value they come out the same (numeric keeps 15 digits, which
 * puts a ratio of small counts on the same side of a half), without a numeric conversion for every account.
 */
function roundedRatio(num: SQL, den: SQL): SQL {
  return sql`(sign(${num}) * ((2 * abs(${num}) + ${den}) / (2 * ${den})))::int8`;
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

/**
 * Every fact the model can name, in tie-break order: a reason fact (reason1..3) holds its index here, and words.ts
 * says it by this key.
 */
export const REASON_KEYS = ['usageDown', 'adoption', 'keyEvents', 'tickets', 'nps', 'touch', 'sla', 'usageUp', 'milestones'] as const;
export type ReasonKey = (typeof REASON_KEYS)[number];

/** A fact that may explain a score: said when `when` holds, ranked by the points it cost (`impact`); both read the scored row (alias `s`). */
export interface ReasonCandidate {
  key: ReasonKey;
  when: SQL;
  impact: SQL;
}

/** Every fact the model can name, in REASON_KEYS order. */
export function reasonCandidates(): ReasonCandidate[] {
  const parts = MODEL.usageParts;
  const candidates: Record<ReasonKey, Omit<ReasonCandidate, 'key'>> = {
    usageDown: {
      when: sql`s.trend_ratio <= ${1 - MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`s.usage_share * ${parts.trend}::float8 * (100 - coalesce(s.trend, 100)) + 1`,
    },
    adoption: {
      when: sql`s.adoption < 50`,
      impact: sql`s.usage_share * ${parts.adoption}::float8 * (100 - coalesce(s.adoption, 100))`,
    },
    keyEvents: {
      when: sql`s.key_events < 50`,
      impact: sql`s.usage_share * ${parts.keyEvents}::float8 * (100 - coalesce(s.key_events, 100))`,
    },
    tickets: {
      when: sql`(s.urgent_count > 0 or s.high_count > 0 or s.support_score < 70)`,
      impact: sql`s.support_share * (100 - coalesce(s.support_score, 100)) + 1`,
    },
    nps: {
      when: sql`s.nps_worst <= 60`,
      impact: sql`s.nps_share * (100 - coalesce(s.nps_score, 100)) + 1`,
    },
    touch: {
      when: sql`s.touch_days > ${MODEL.touchFreshDays}::int`,
      impact: sql`s.engagement_share * (100 - coalesce(s.touch_score, 100)) / 2`,
    },
    sla: {
      when: sql`s.sla_days > 0 and s.days_in_stage > s.sla_days and s.milestone_score is null`,
      impact: sql`s.engagement_share * (100 - coalesce(s.sla_score, 100)) / 2`,
    },
    usageUp: {
      when: sql`s.trend_ratio >= ${1 + MODEL.usageTrendReasonPercent / 100}::float8`,
      impact: sql`0::float8`,
    },
    milestones: {
      when: sql`s.milestone_score < 100`,
      impact: sql`s.engagement_share * (100 - s.milestone_score) / 2`,
    },
  };
  return REASON_KEYS.map((key) => ({ key, ...candidates[key] }));
}

/** How many reasons a score states, costliest first (the note on missing components comes after them). */
export const REASONS_SHOWN = 3;

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
    // As shown: round((100 * share)::numeric, 1), in tenths.
    ...(Object.fromEntries(
      (['usage', 'support', 'nps', 'engagement'] as const).map((name) => [`${name}Weight`, sql.raw(`(10 * round((100 * s.${name}_share)::numeric, 1))::int8`)]),
    ) as Record<'usageWeight' | 'supportWeight' | 'npsWeight' | 'engagementWeight', SQL>),
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

/**
 * The words a row (alias `s`, ranked) keeps beside its facts, where the facts say them: the stage's name with its SLA,
 * the worst survey answer as said when the NPS reason is.
 */
export function wordsKept(candidates: ReasonCandidate[]): SQL {
  const npsRank = sql.raw(`s.rank_${candidates.findIndex((candidate) => candidate.key === 'nps')}`);
  return sql`case when s.sla_days > 0 then s.stage_name end as stage_name,
         case when ${npsRank} < ${sql.raw(String(REASONS_SHOWN))} then s.nps_worst_said end as nps_worst_said`;
}
