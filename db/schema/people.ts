import { sql } from 'drizzle-orm';
import { index, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { accounts, users } from './core.ts';

/** The part a person on the customer's side plays in the account. */
export const contactRoles = ['champion', 'executive_sponsor', 'admin', 'user'] as const;
export type ContactRole = (typeof contactRoles)[number];
export const contactRole = pgEnum('contact_role', contactRoles);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * People on the customer's side. One row per account and email, compared case-insensitively (the email is kept as
 * it was given): sending the same person again updates them. A contact who left keeps their row, with when and
 * who said so, so what they answered and the champion-left signal still point at them.
 */
export const contacts = pgTable(
  'contacts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    name: text('name').notNull(),
    email: text('email').notNull(),
    role: contactRole('role').notNull().default('user'),
    leftAt: timestamptz('left_at'),
    /** The person who marked the contact as left; null for a token without a person. */
    leftMarkedBy: uuid('left_marked_by').references(() => users.id),
    /** How whoever marked it is named (a person, a token): kept because a token has no user row. */
    leftMarkedByLabel: text('left_marked_by_label'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // The upsert's conflict target and the NPS/CSAT answer's link (account and lower(respondent_email)).
    uniqueIndex('contacts_account_email_key').on(t.accountId, sql`lower(${t.email})`),
    // Champions who left, for the health reason read beside every score.
    index('contacts_left_idx').on(t.accountId, t.role, t.leftAt),
  ],
);

export type Contact = typeof contacts.$inferSelect;
