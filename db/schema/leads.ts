import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { accounts, users } from './core.ts';
import { ruleFirings } from './health.ts';

/** How soon the customer wants what the CSM heard about. */
export const leadUrgencies = ['low', 'medium', 'high'] as const;
export type LeadUrgency = (typeof leadUrgencies)[number];
export const leadUrgency = pgEnum('lead_urgency', leadUrgencies);

/** qualified (by the CSM) → accepted | declined (by the AE) → won (a closed-won of the account) | lost (by the AE). */
export const leadStatuses = ['qualified', 'accepted', 'declined', 'won', 'lost'] as const;
export type LeadStatus = (typeof leadStatuses)[number];
export const leadStatus = pgEnum('lead_status', leadStatuses);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * An expansion lead qualified by customer success and handed to the account's AE. A lead made from a rule firing
 * (an expansion signal) keeps it, and a firing makes at most one lead; a closed-won deal closes at most one lead.
 */
export const leads = pgTable(
  'leads',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    /** The signal the lead was qualified from; null for a lead qualified by hand. */
    firingId: bigint('firing_id', { mode: 'number' }).references(() => ruleFirings.id),
    /** When the signal fired (the firing's time), or when the lead was qualified by hand. */
    signalAt: timestamptz('signal_at').notNull(),
    /** What the customer wants, in the CSM's words. */
    wants: text('wants').notNull(),
    estimatedMrrCents: bigint('estimated_mrr_cents', { mode: 'number' }).notNull(),
    urgency: leadUrgency('urgency').notNull(),
    status: leadStatus('status').notNull().default('qualified'),
    createdBy: uuid('created_by').references(() => users.id),
    createdByLabel: text('created_by_label').notNull(),
    /** The account's AE when the lead was qualified: who accepts or declines it. */
    aeId: uuid('ae_id').references(() => users.id),
    acceptedAt: timestamptz('accepted_at'),
    acceptedBy: uuid('accepted_by').references(() => users.id),
    declinedAt: timestamptz('declined_at'),
    declinedBy: uuid('declined_by').references(() => users.id),
    declineReason: text('decline_reason'),
    wonAt: timestamptz('won_at'),
    /** The CRM opportunity of the closed-won deal that closed the lead, and the MRR that deal added. */
    wonOpportunityId: text('won_opportunity_id'),
    wonMrrCents: bigint('won_mrr_cents', { mode: 'number' }),
    lostAt: timestamptz('lost_at'),
    lostBy: uuid('lost_by').references(() => users.id),
    lostReason: text('lost_reason'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
    version: integer('version').notNull().default(1),
  },
  (t) => [
    uniqueIndex('leads_firing_key').on(t.firingId),
    uniqueIndex('leads_won_opportunity_key').on(t.wonOpportunityId),
    index('leads_account_idx').on(t.accountId, t.status),
    index('leads_ae_idx').on(t.aeId, t.status),
    check('leads_estimated_mrr_nonnegative', sql`${t.estimatedMrrCents} >= 0`),
  ],
);

export type Lead = typeof leads.$inferSelect;
