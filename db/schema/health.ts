import { type AnyPgColumn, bigint, customType, boolean, check, date, doublePrecision, index, integer, jsonb, numeric, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { accounts, users } from './core.ts';

/**
 * Healthy, At risk and Critical are scores against the thresholds. `insufficient_data` is an account recomputed
 * with no customer signal (no usage in the window, no tickets, survey answers or CSM touches): it has no score and is
 * neither worse nor better than another status, so SQL must not compare statuses by the type's order.
 * It was added with ALTER TYPE ... ADD VALUE, and drizzle's migrator applies every pending migration in one
 * transaction, where PostgreSQL refuses a value added in that same transaction: no migration may use the value
 * itself (compare `status::text` instead), or a database upgraded across both would fail to migrate.
 */
export const healthStatuses = ['healthy', 'at_risk', 'critical', 'insufficient_data'] as const;
export type HealthStatus = (typeof healthStatuses)[number];
/** The statuses that come with a score. */
export type ScoredHealthStatus = Exclude<HealthStatus, 'insufficient_data'>;
export const healthStatus = pgEnum('health_status', healthStatuses);

export const healthComponentNames = ['usage', 'support', 'nps', 'engagement'] as const;
export type HealthComponentName = (typeof healthComponentNames)[number];

/** One component of a score as computed: null score means no data, and its weight went to the others. */
export interface HealthComponent {
  score: number | null;
  /** Its share of the score in percent, after re-weighting (0 when it had no data). */
  weight: number;
  detail: string;
}
export type HealthComponents = Record<HealthComponentName, HealthComponent>;

/**
 * A score's facts (domain/health/facts.ts): an int8[] whose null elements mean "not said", so they read as null, not
 * as 0 (drizzle's bigint array maps every element through Number).
 */
const isFactValue = (item: unknown): item is number | null => item === null || typeof item === 'number';

const factsColumn = customType<{ data: readonly (number | null)[]; driverData: string | readonly (string | number | bigint | null)[] }>({
  dataType: () => 'bigint[]',
  fromDriver: (value) => {
    // Read as JSON (db/account-rows.ts), the array already holds numbers and nulls: used as it is, not copied.
    if (typeof value !== 'string' && value.every(isFactValue)) return value;
    const items = typeof value === 'string' ? value.replace(/^\{|\}$/g, '').split(',').filter((item) => item !== '') : value;
    return items.map((item) => (item === null || item === 'NULL' ? null : Number(item)));
  },
});

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A score exactly when the status is one of a score (as text: see healthStatuses on using the value in a migration). */
const scoreUnlessInsufficientData = (score: AnyPgColumn, status: AnyPgColumn) => sql`(${score} is null) = (${status}::text = 'insufficient_data')`;

/** Every computation, kept for trends and "why did it move". Append-only. */
export const healthScores = pgTable(
  'health_scores',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    /** Null exactly when the status is insufficient_data. */
    score: integer('score'),
    status: healthStatus('status').notNull(),
    /**
     * The components and reasons as words, in points recorded before the facts were kept (see account_health.facts);
     * null since: they are said from the facts when read (domain/health/words.ts).
     */
    components: jsonb('components').$type<HealthComponents>(),
    reasons: jsonb('reasons').$type<string[]>(),
    modelVersion: integer('model_version').notNull(),
    computedAt: timestamptz('computed_at').notNull().defaultNow(),
    /** The numbers the point is said with, and the words the numbers cannot hold: as account_health's. */
    facts: factsColumn('facts'),
    stageName: text('stage_name'),
    npsWorstSaid: text('nps_worst_said'),
  },
  (t) => [
    index('health_scores_account_time_idx').on(t.accountId, t.computedAt),
    check('health_scores_score_unless_insufficient_data', scoreUnlessInsufficientData(t.score, t.status)),
  ],
);

/**
 * The keys the account listing orders by health (domain/accounts/listing.ts), written once for the listing and the
 * indexes that serve it, ascending. An account without the value (no score, no week-old score, or no health row
 * yet) has the key HEALTH_KEY_MISSING, larger than any real one (scores are 0-100), so it comes last.
 */
export const HEALTH_KEY_MISSING = 1000;
export const healthListingKeys = {
  /** Lowest score first. */
  health: (score: AnyPgColumn) => sql`(coalesce(${score}, ${sql.raw(String(HEALTH_KEY_MISSING))})::float8)`,
  /** Biggest drop over the last week first; no week-old score means no known drop. */
  healthDrop: (scoreWeekAgo: AnyPgColumn, score: AnyPgColumn) => sql`((-coalesce(${scoreWeekAgo} - ${score}, -${sql.raw(String(HEALTH_KEY_MISSING))}))::float8)`,
};

/** The latest score of each account, for listing, filtering and ordering without scanning history. */
export const accountHealth = pgTable(
  'account_health',
  {
    accountId: uuid('account_id')
      .primaryKey()
      .references(() => accounts.id),
    /** Null exactly when the status is insufficient_data: the account was recomputed and had no customer signal. */
    score: integer('score'),
    status: healthStatus('status').notNull(),
    /** Score in effect a day and a week before the latest recompute, for "drop since yesterday / last week". */
    scoreDayAgo: integer('score_day_ago'),
    scoreWeekAgo: integer('score_week_ago'),
    /**
     * The reasons and components as words, for a row stored before the facts of the current version (below): null
     * once a recompute stored those, and the words are said from them when read (domain/health/words.ts).
     */
    reasons: jsonb('reasons').$type<string[]>(),
    /**
     * When the current score was computed: its last change, the time of the newest history point. A recompute that
     * finds the same health leaves the row alone; when health was last recomputed is the health job's run time.
     */
    computedAt: timestamptz('computed_at').notNull(),
    modelVersion: integer('model_version').notNull(),
    note: text('note'),
    components: jsonb('components').$type<HealthComponents>(),
    /**
     * The numbers the components and reasons are said with (domain/health/facts.ts lists them): a recompute compares
     * and writes numbers, and readers put them into words (domain/health/words.ts). Null before the first recompute
     * that stored them.
     */
    facts: factsColumn('facts'),
    /** What the words need that numbers cannot hold: the stage's name (said with its SLA) and the worst survey answer as said. */
    stageName: text('stage_name'),
    npsWorstSaid: text('nps_worst_said'),
    /**
     * The history points `scoreDayAgo` / `scoreWeekAgo` hold between: each stays the score in effect for any moment
     * from `…From` (null: since the first point) until `…Until` (null: until the next change), so a recompute looks
     * history up only when the moment a day or a week ago has left that span. All null: not known yet.
     */
    scoreDayAgoFrom: timestamptz('score_day_ago_from'),
    scoreDayAgoUntil: timestamptz('score_day_ago_until'),
    scoreWeekAgoFrom: timestamptz('score_week_ago_from'),
    scoreWeekAgoUntil: timestamptz('score_week_ago_until'),
  },
  (t) => [
    index('account_health_status_idx').on(t.status, t.score),
    index('account_health_score_idx').on(t.score),
    // The listing's health orders, over every account and within one status (healthListingKeys).
    index('account_health_health_order_idx').on(healthListingKeys.health(t.score), t.accountId),
    index('account_health_status_health_order_idx').on(t.status, healthListingKeys.health(t.score), t.accountId),
    index('account_health_drop_order_idx').on(healthListingKeys.healthDrop(t.scoreWeekAgo, t.score), t.accountId),
    index('account_health_status_drop_order_idx').on(t.status, healthListingKeys.healthDrop(t.scoreWeekAgo, t.score), t.accountId),
    check('account_health_score_unless_insufficient_data', scoreUnlessInsufficientData(t.score, t.status)),
  ],
);

/** The columns an account's components and reasons are said from (domain/health/words.ts). */
export const healthWordsColumns = {
  facts: accountHealth.facts,
  stageName: accountHealth.stageName,
  npsWorstSaid: accountHealth.npsWorstSaid,
  reasons: accountHealth.reasons,
  components: accountHealth.components,
};
/** What the words of a score are said from: its facts, or the words stored before facts were kept. */
export type HealthWordsSource = Pick<AccountHealth, keyof typeof healthWordsColumns>;

/**
 * What readers of an account's health read: the score, its status, trend, and what its reasons and components are
 * said from. The rest of the row is the recompute's own bookkeeping (history spans), read only by
 * domain/health/recompute.ts.
 */
export const healthSummaryColumns = {
  accountId: accountHealth.accountId,
  score: accountHealth.score,
  status: accountHealth.status,
  scoreDayAgo: accountHealth.scoreDayAgo,
  scoreWeekAgo: accountHealth.scoreWeekAgo,
  computedAt: accountHealth.computedAt,
  modelVersion: accountHealth.modelVersion,
  note: accountHealth.note,
  ...healthWordsColumns,
};
/** An account's latest health as read (healthSummaryColumns). */
export type StoredHealthSummary = Pick<AccountHealth, keyof typeof healthSummaryColumns>;
/** An account's latest health as readers see it: its reasons and components in words. */
export type HealthSummary = Omit<StoredHealthSummary, keyof typeof healthWordsColumns> & {
  reasons: string[];
  components: HealthComponents | null;
};

/** Component weights of the model; they need not sum to 100, the score divides by the weights present. */
export type HealthWeights = Record<HealthComponentName, number>;

/**
 * Admin-edited model settings: one row for `default`, and optionally one per segment that overrides it.
 * Missing rows fall back to the defaults in domain/health/model.ts.
 */
export const healthSettings = pgTable('health_settings', {
  /** `default` or a segment key (`smb`, `mid_market`, `enterprise`). */
  scope: text('scope').primaryKey(),
  weights: jsonb('weights').$type<HealthWeights>().notNull(),
  /** Healthy at or above this score. */
  healthyMin: integer('healthy_min').notNull(),
  /** At risk at or above this score (and below `healthy_min`); Critical below it. */
  atRiskMin: integer('at_risk_min').notNull(),
  updatedBy: uuid('updated_by').references(() => users.id),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

/**
 * Every rule firing, once per rule, account and occasion (a week, a renewal checkpoint, a handoff): the unique
 * key is what makes a rule fire once even when the job runs again or on two replicas.
 */
export const ruleFirings = pgTable(
  'rule_firings',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    rule: text('rule').notNull(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    occasion: text('occasion').notNull(),
    reason: text('reason').notNull(),
    firedAt: timestamptz('fired_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('rule_firings_rule_account_occasion_key').on(t.rule, t.accountId, t.occasion),
    index('rule_firings_account_idx').on(t.accountId, t.firedAt),
  ],
);

/**
 * Every change to usage_daily, by account: a trigger on usage_daily appends one row per statement and account written,
 * with the first and last day written, from whatever writes it (ingestion, COPY, a fixture). A recompute of every
 * account aggregates usage anew for the accounts named here whose days fall in its window, and removes the rows it
 * has read; rows committed after its snapshot stay for the next one. No key: rows are only appended and read or
 * deleted whole, and a key would cost every usage write a sequence step and an index entry per account.
 */
export const usageChanges = pgTable('usage_changes', {
  accountId: uuid('account_id').notNull(),
  firstDay: date('first_day', { mode: 'string' }).notNull(),
  lastDay: date('last_day', { mode: 'string' }).notNull(),
});

/**
 * Each account's usage over the health model's window (the recent 14 days and the 28 before) as of one day: the
 * usage component and the sums behind it, kept so the hourly recomputes of a day aggregate usage_daily once.
 * Rows belong to a generation; usage_window_state names the one in effect. A cache: dropping it loses nothing.
 */
export const usageWindows = pgTable(
  'usage_windows',
  {
    generation: bigint('generation', { mode: 'number' }).notNull(),
    accountId: uuid('account_id').notNull(),
    seats: doublePrecision('seats').notNull(),
    /** The latest day of the window with that many seats: rolled on, the most seats leave with it only on that day. */
    seatsDay: date('seats_day', { mode: 'string' }).notNull(),
    sumRecentUsers: bigint('sum_recent_users', { mode: 'number' }).notNull(),
    recentDays: bigint('recent_days', { mode: 'number' }).notNull(),
    sumPriorUsers: bigint('sum_prior_users', { mode: 'number' }).notNull(),
    priorDays: bigint('prior_days', { mode: 'number' }).notNull(),
    sumRecentKeyEvents: bigint('sum_recent_key_events', { mode: 'number' }).notNull(),
    /** The usage parts, 0-100 (trend null without prior weeks), and the usage component they make. */
    adoption: doublePrecision('adoption').notNull(),
    trend: doublePrecision('trend'),
    trendRatio: doublePrecision('trend_ratio'),
    keyEvents: doublePrecision('key_events').notNull(),
    usageScore: doublePrecision('usage_score').notNull(),
  },
  (t) => [primaryKey({ columns: [t.generation, t.accountId] })],
);

/**
 * The usage windows in effect: their generation, the day they are as of and the model they were derived with. They
 * answer a recompute as of that day, by that model, for every account without usage_changes in the window.
 */
export const usageWindowState = pgTable(
  'usage_window_state',
  {
    id: boolean('id').primaryKey().default(true),
    generation: bigint('generation', { mode: 'number' }).notNull(),
    asOf: date('as_of', { mode: 'string' }).notNull(),
    /** A hash of the model constants they were derived with. */
    model: bigint('model', { mode: 'bigint' }).notNull(),
  },
  (t) => [check('usage_window_state_single_row', sql`${t.id}`)],
);

/**
 * Every change to tickets, survey_responses and csm_touches, by account: a trigger on each appends one row per
 * statement and account written, whoever writes it. A recompute of every account aggregates those accounts' signals
 * anew (health_signals) and removes the rows it has read; rows committed after its snapshot stay for the next one.
 * No key, as usage_changes.
 */
export const signalChanges = pgTable('signal_changes', {
  accountId: uuid('account_id').notNull(),
});

/**
 * Each account's tickets, latest survey answers and CSM touches, aggregated in forms that do not depend on the moment
 * of a recompute, so the hourly recomputes read them instead of the signal tables (domain/health/signals-kept.ts): they
 * hold for any moment from `validFrom` until `validUntil` (the first moment one of the account's signals enters or
 * leaves what is counted: a ticket opened, resolved or 30 days old, an answer given or a year old, a touch made),
 * unless the account's signals are written (signal_changes). A cache: dropping it loses nothing.
 */
export const healthSignals = pgTable('health_signals', {
  accountId: uuid('account_id').primaryKey(),
  /** A hash of the model constants they were derived with. */
  model: bigint('model', { mode: 'bigint' }).notNull(),
  validFrom: timestamptz('valid_from').notNull(),
  validUntil: timestamptz('valid_until'),
  /** Tickets opened by then; open ones, urgent and high among them, and when the earliest of each was opened. */
  ticketRows: bigint('ticket_rows', { mode: 'number' }).notNull(),
  openCount: bigint('open_count', { mode: 'number' }).notNull(),
  urgentCount: bigint('urgent_count', { mode: 'number' }).notNull(),
  highCount: bigint('high_count', { mode: 'number' }).notNull(),
  openFirst: timestamptz('open_first'),
  urgentFirst: timestamptz('urgent_first'),
  highFirst: timestamptz('high_first'),
  /**
   * The open tickets' penalty: in full (twice the severity's points) for those at least 30 days old, and for the
   * younger ones the sum of their points and of points times the epoch (seconds) they were opened at, so the penalty
   * at any moment is exact arithmetic on these.
   */
  penaltyFull: doublePrecision('penalty_full').notNull(),
  penaltyYoung: doublePrecision('penalty_young').notNull(),
  penaltyYoungEpoch: numeric('penalty_young_epoch').notNull(),
  /**
   * The latest answer of each respondent in the last year: how many, the worst (normalized, and its key), and their
   * decayed average as weighted and weight sums, each answer weighted against the latest one (their ratio is the
   * decayed average at any moment).
   */
  npsResponses: bigint('nps_responses', { mode: 'number' }).notNull(),
  npsWorst: doublePrecision('nps_worst'),
  npsWorstKey: doublePrecision('nps_worst_key'),
  npsWeighted: doublePrecision('nps_weighted'),
  npsWeight: doublePrecision('nps_weight'),
  /** How the worst answer is said in a reason ("NPS 4 from the champion"), so a reason needs no lookup. */
  npsWorstSaid: text('nps_worst_said'),
  /** The latest CSM touch. */
  touchLast: timestamptz('touch_last'),
});

export type HealthScore = typeof healthScores.$inferSelect;
export type HealthSettingsRow = typeof healthSettings.$inferSelect;
export type RuleFiring = typeof ruleFirings.$inferSelect;
export type AccountHealth = typeof accountHealth.$inferSelect;
