/**
 * A score's components and reasons in words, said from the facts a recompute stored (facts.ts lists them), wherever
 * they are read: the API, the bot, the digest, rules and webhooks. Rows stored before facts of this version were
 * kept read as the words they stored.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type HealthComponent, type HealthComponents, type HealthWordsSource, healthComponentNames } from '../../db/schema.ts';
import { FACTS_VERSION, FACT_NAMES, type FactName, REASONS_SHOWN, REASON_KEYS, type ReasonKey } from './facts.ts';
import { MODEL } from './model.ts';

type Fact = number | null;
type Facts = Record<FactName, Fact>;

/** A phrase of facts and words: null when any fact in it is null (as SQL's `||` was). */
function said(...parts: (string | number | null)[]): string | null {
  return parts.some((part) => part === null) ? null : parts.join('');
}

/** A count of tenths as a decimal with one digit ("3.0", "12.5"). */
function tenths(value: Fact): string | null {
  if (value === null) return null;
  const sign = value < 0 ? '-' : '';
  const whole = Math.abs(value);
  return `${sign}${Math.trunc(whole / 10)}.${whole % 10}`;
}

/** A whole number with its sign ("+12", "-5", "+0"). */
function signed(value: Fact): string | null {
  return value === null ? null : `${value < 0 ? '-' : '+'}${Math.abs(value)}`;
}

const plural = (count: Fact) => (count === 1 ? '' : 's');

/** A stored facts array read by name: each fact a getter over the array, so reading a row's facts copies nothing. */
class StoredFacts {
  readonly values: readonly (number | null)[];
  constructor(values: readonly (number | null)[]) {
    this.values = values;
  }
}
for (const [index, name] of FACT_NAMES.entries()) {
  Object.defineProperty(StoredFacts.prototype, name, {
    get(this: StoredFacts): Fact {
      return this.values[index] ?? null;
    },
  });
}

function factsOf(stored: readonly (number | null)[]): Facts {
  // StoredFacts has a getter for every name of FACT_NAMES (above).
  return new StoredFacts(stored) as unknown as Facts;
}

/** Whether a row's words are said from its facts: stored by a recompute of this facts version. */
function currentFacts(source: Pick<HealthWordsSource, 'facts'>): Facts | null {
  return source.facts && source.facts[0] === FACTS_VERSION ? factsOf(source.facts) : null;
}

/** Whether no component had data: no customer signal, so no score (insufficient_data). */
function noCustomerSignal(f: Facts): boolean {
  return f.usageScore === null && f.supportScore === null && f.npsScore === null && f.engagementScore === null;
}

type Words = Pick<HealthWordsSource, 'stageName' | 'npsWorstSaid'>;

function reasonWords(key: ReasonKey, f: Facts, words: Words): string | null {
  switch (key) {
    case 'usageDown':
      // round(100 * (1 - r)) is exactly -round(100 * (r - 1)): float negation and numeric rounding are symmetric.
      return said('active users down ', f.trendPercent === null ? null : -f.trendPercent, '% vs prior 4 weeks');
    case 'adoption':
      return said('only ', f.recentActive, ' of ', f.seats, ' seats active');
    case 'keyEvents':
      return said(tenths(f.keyEventsTenths), ' key events per active user a day, target ', Math.round(MODEL.keyEventsPerUserDayTarget));
    case 'tickets': {
      const tail = said(', oldest ', f.ticketOldestDays, ' days');
      if (f.ticketKind === 1) return said(f.ticketCount, ' open urgent ticket', plural(f.ticketCount), tail);
      if (f.ticketKind === 2) return said(f.ticketCount, ' open high-severity ticket', plural(f.ticketCount), tail);
      return said(f.ticketCount, ' open tickets', tail);
    }
    case 'nps':
      // Said as the kept signals say the worst answer (signals-kept.ts).
      return words.npsWorstSaid;
    case 'touch':
      return said('no CSM touch in ', f.touchDays, ' days');
    case 'sla':
      return said(f.daysInStage, ' days in ', words.stageName, ', past its ', f.slaDays, '-day SLA');
    case 'usageUp':
      return said('active users up ', f.trendPercent, '% vs prior 4 weeks');
    case 'milestones':
      return said(f.milestonesOnTime, ' of ', f.milestonesDue, ' onboarding milestones reached on time');
  }
}

const componentLabels = { usage: 'usage', support: 'support', nps: 'NPS/CSAT', engagement: 'engagement' } as const;

/** The note on components without data, said after the reasons. */
function coverageNote(f: Facts): string | null {
  if (noCustomerSignal(f)) return 'not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches';
  const scores = { usage: f.usageScore, support: f.supportScore, nps: f.npsScore, engagement: f.engagementScore };
  const missing = healthComponentNames.filter((name) => scores[name] === null).map((name) => componentLabels[name]);
  if (missing.length === 0) return null;
  const present = healthComponentNames.filter((name) => scores[name] !== null).map((name) => componentLabels[name]);
  return `no ${missing.join(' or ')} data: scored on ${present.join(', ')}`;
}

/** A score's reasons: the ones said, costliest first, then the note on missing components. */
export function healthReasons(source: Pick<HealthWordsSource, 'facts' | 'stageName' | 'npsWorstSaid' | 'reasons'>): string[] {
  const f = currentFacts(source);
  if (!f) return source.reasons ?? [];
  const reasons: string[] = [];
  for (const place of (['reason1', 'reason2', 'reason3'] as const).slice(0, REASONS_SHOWN)) {
    const index = f[place];
    const key = index === null ? undefined : REASON_KEYS[index];
    const words = key ? reasonWords(key, f, source) : null;
    if (words !== null) reasons.push(words);
  }
  const note = coverageNote(f);
  if (note !== null) reasons.push(note);
  return reasons;
}

/** A score's components: each one's score, its share of the score as shown, and what it was scored on. */
export function healthComponents(source: Pick<HealthWordsSource, 'facts' | 'stageName' | 'components'>): HealthComponents | null {
  const f = currentFacts(source);
  if (!f) return source.components ?? null;
  // What became of a component without data: its weight went to the others, or there were none to score.
  const leftOut = noCustomerSignal(f) ? ': not enough data for a score' : ': left out, its weight shared by the others';
  const usage =
    f.usageScore === null
      ? `no usage data in the last 6 weeks${leftOut}`
      : said(
          said(f.recentActive, ' of ', f.seats, ' seats active (14-day average)'),
          f.trendPercent === null ? ', no earlier weeks to compare' : said(', ', signed(f.trendPercent), '% vs prior 4 weeks'),
          ', ',
          tenths(f.keyEventsTenths),
          ' key events per active user a day',
        );
  const support =
    f.supportScore === null
      ? `no tickets on record${leftOut}`
      : f.openTickets === 0
        ? 'no open tickets'
        : said(f.openTickets, ' open ticket', plural(f.openTickets), ', oldest ', f.openOldestDays, ' days');
  const nps =
    f.npsScore === null
      ? `no NPS or CSAT answer in the last year${leftOut}`
      : said(f.npsRespondents, ' respondent', plural(f.npsRespondents), ' in the last year, recent answers weigh more');
  const slaSaid = f.slaDays !== null && f.slaDays > 0;
  let engagement: string | null;
  if (f.engagementScore === null) {
    engagement = said(
      slaSaid
        ? said('no CSM touch recorded; time in stage alone is not scored (', f.daysInStage, ' days in ', source.stageName, ', SLA ', f.slaDays, ' days)')
        : 'no CSM touch and no stage SLA',
      leftOut,
    );
  } else {
    const touch = f.touchDays === null ? 'no CSM touch recorded' : `last CSM touch ${f.touchDays} days ago`;
    const pace =
      f.milestonesDue !== null
        ? said(f.milestonesOnTime, ' of ', f.milestonesDue, ' onboarding milestones reached on time')
        : slaSaid
          ? said(f.daysInStage, ' days in ', source.stageName, ' (SLA ', f.slaDays, ' days)')
          : null;
    engagement = [touch, pace].filter((part) => part !== null).join('; ');
  }
  // In the order PostgreSQL's jsonb kept them, so what is sent reads as it did when the words were stored.
  // Facts of this version always hold a weight and the facts of each detail.
  const component = (score: Fact, weight: Fact, detail: string | null): HealthComponent => ({ score, detail: detail ?? '', weight: (weight ?? 0) / 10 });
  return {
    nps: component(f.npsScore, f.npsWeight, nps),
    usage: component(f.usageScore, f.usageWeight, usage),
    support: component(f.supportScore, f.supportWeight, support),
    engagement: component(f.engagementScore, f.engagementWeight, engagement),
  };
}

/** A score's reasons and components in words. */
export function healthWords(source: HealthWordsSource): { reasons: string[]; components: HealthComponents | null } {
  return { reasons: healthReasons(source), components: healthComponents(source) };
}

/**
 * What the words of a row of account_health or health_scores (alias `h`) are said from, as one jsonb value for a raw
 * statement (healthWordsOf reads it back).
 */
export function healthWordsJson(h: string): SQL {
  return sql.raw(
    `jsonb_build_object('facts', ${h}.facts, 'stageName', ${h}.stage_name, 'npsWorstSaid', ${h}.nps_worst_said, 'reasons', ${h}.reasons, 'components', ${h}.components)`,
  );
}

/** A healthWordsJson value as a raw statement returns it (parsed, or as text by driver). */
export function healthWordsOf(value: HealthWordsSource | string): HealthWordsSource {
  return typeof value === 'string' ? (JSON.parse(value) as HealthWordsSource) : value;
}

/** A sentence followed by the score's first reason, when it has one ("…: 2 open urgent tickets, oldest 9 days"). */
export function withFirstReason(sentence: string, source: HealthWordsSource): string {
  const [first] = healthReasons(source);
  return first === undefined ? sentence : `${sentence}: ${first}`;
}
