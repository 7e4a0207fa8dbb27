import { boolean, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Why customers leave or shrink: an admin-edited list. A reason is retired, never deleted, so every churn and
 * contraction that named it keeps its meaning. Kept apart from the renewal tables because the ledger and the stage
 * history (core, signals) refer to it.
 */
export const churnReasons = pgTable('churn_reasons', {
  key: text('key').primaryKey(),
  label: text('label').notNull(),
  appliesToChurn: boolean('applies_to_churn').notNull().default(true),
  appliesToContraction: boolean('applies_to_contraction').notNull().default(true),
  /** Order in lists and selects. */
  position: integer('position').notNull().default(100),
  retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export type ChurnReason = typeof churnReasons.$inferSelect;
