import { sql } from 'drizzle-orm';
import { bigint, date, index, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { churnReasons } from './churn-reasons.ts';
import { users } from './core.ts';
import { renewals } from './signals.ts';

/** How a renewal ended: renewed (flat or with uplift), renewed with a downsell, or churned. */
export const renewalOutcomeKinds = ['renewed', 'downsell', 'churned'] as const;
export type RenewalOutcomeKind = (typeof renewalOutcomeKinds)[number];
export const renewalOutcomeKind = pgEnum('renewal_outcome_kind', renewalOutcomeKinds);

/** The owner's forecast of an open renewal. */
export const renewalCallKinds = ['commit', 'likely', 'at_risk', 'churning'] as const;
export type RenewalCallKind = (typeof renewalCallKinds)[number];
export const renewalCallKind = pgEnum('renewal_call_kind', renewalCallKinds);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every outcome recorded for a renewal, corrections included: a correction supersedes the current row and adds its
 * own, so the history shows what was recorded, by whom, and what replaced it. At most one row per renewal is
 * current (superseded_at is null).
 */
export const renewalOutcomes = pgTable(
  'renewal_outcomes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    renewalId: uuid('renewal_id')
      .notNull()
      .references(() => renewals.id),
    outcome: renewalOutcomeKind('outcome').notNull(),
    /** The account's contract end and ARR before the first outcome of this renewal: what was up for renewal. */
    previousContractEnd: date('previous_contract_end', { mode: 'string' }).notNull(),
    previousArrCents: bigint('previous_arr_cents', { mode: 'number' }).notNull(),
    newContractEnd: date('new_contract_end', { mode: 'string' }),
    /** ARR after the renewal; 0 for a churn. */
    newArrCents: bigint('new_arr_cents', { mode: 'number' }).notNull(),
    /** The MRR movement this outcome put in the ledger (0 when none); a correction amends that one ledger row. */
    mrrDeltaCents: bigint('mrr_delta_cents', { mode: 'number' }).notNull(),
    churnReasonKey: text('churn_reason_key').references(() => churnReasons.key),
    note: text('note'),
    recordedBy: uuid('recorded_by').references(() => users.id),
    recordedByLabel: text('recorded_by_label').notNull(),
    recordedAt: timestamptz('recorded_at').notNull().defaultNow(),
    /** Set on the row a correction replaced. */
    supersededAt: timestamptz('superseded_at'),
    /** The outcome this one corrected, when it is a correction. */
    correctsId: uuid('corrects_id'),
  },
  (t) => [
    uniqueIndex('renewal_outcomes_current_key').on(t.renewalId).where(sql`${t.supersededAt} is null`),
    index('renewal_outcomes_renewal_idx').on(t.renewalId, t.recordedAt),
  ],
);

/** Forecast calls on a renewal, newest last; the current call is the latest. Append-only. */
export const renewalCalls = pgTable(
  'renewal_calls',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    renewalId: uuid('renewal_id')
      .notNull()
      .references(() => renewals.id),
    call: renewalCallKind('call').notNull(),
    note: text('note'),
    calledBy: uuid('called_by').references(() => users.id),
    calledByLabel: text('called_by_label').notNull(),
    calledAt: timestamptz('called_at').notNull().defaultNow(),
  },
  (t) => [index('renewal_calls_renewal_idx').on(t.renewalId, t.calledAt)],
);

export type RenewalOutcome = typeof renewalOutcomes.$inferSelect;
export type RenewalCall = typeof renewalCalls.$inferSelect;
