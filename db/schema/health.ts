import { bigint, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { accounts } from './core.ts';

export const healthStatuses = ['healthy', 'at_risk', 'critical'] as const;
export type HealthStatus = (typeof healthStatuses)[number];
export const healthStatus = pgEnum('health_status', healthStatuses);

export const healthComponentNames = ['usage', 'support', 'nps', 'engagement'] as const;
export type HealthComponentName = (typeof healthComponentNames)[number];

/** One component of a score as computed: null score means no data, and its weight went to the others. */
export interface HealthComponent {
  score: number | null;
  weight: number;
  detail: string;
}
export type HealthComponents = Record<HealthComponentName, HealthComponent>;

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Every computation, kept for trends and "why did it move". Append-only. */
export const healthScores = pgTable(
  'health_scores',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    score: integer('score').notNull(),
    status: healthStatus('status').notNull(),
    components: jsonb('components').$type<HealthComponents>().notNull(),
    reasons: jsonb('reasons').$type<string[]>().notNull(),
    modelVersion: integer('model_version').notNull(),
    computedAt: timestamptz('computed_at').notNull().defaultNow(),
  },
  (t) => [index('health_scores_account_time_idx').on(t.accountId, t.computedAt)],
);

/** The latest score of each account, for listing, filtering and ordering without scanning history. */
export const accountHealth = pgTable(
  'account_health',
  {
    accountId: uuid('account_id')
      .primaryKey()
      .references(() => accounts.id),
    score: integer('score').notNull(),
    status: healthStatus('status').notNull(),
    /** Score about a day and a week before `computedAt`, for "drop since yesterday / last week". */
    scoreDayAgo: integer('score_day_ago'),
    scoreWeekAgo: integer('score_week_ago'),
    reasons: jsonb('reasons').$type<string[]>().notNull(),
    computedAt: timestamptz('computed_at').notNull(),
    modelVersion: integer('model_version').notNull(),
    note: text('note'),
  },
  (t) => [index('account_health_status_idx').on(t.status, t.score), index('account_health_score_idx').on(t.score)],
);

export type HealthScore = typeof healthScores.$inferSelect;
export type AccountHealth = typeof accountHealth.$inferSelect;
