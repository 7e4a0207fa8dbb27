import { index, integer, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { users } from './core.ts';

/**
 * pending: queued, Slack not asked yet (or asked and it failed in a way worth retrying);
 * linked: Slack knew the email and the person is linked; not_found: Slack answered `users_not_found`;
 * refused: Slack's member is already linked to someone else, or the person to another member;
 * failed: Slack kept failing, given up after a few attempts.
 */
export const slackEmailLookupStatuses = ['pending', 'linked', 'not_found', 'refused', 'failed'] as const;
export type SlackEmailLookupStatus = (typeof slackEmailLookupStatuses)[number];
export const slackEmailLookupStatus = pgEnum('slack_email_lookup_status', slackEmailLookupStatuses);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * People given with an email and no Slack id are looked up in Slack by email, out of band: ingestion queues a row
 * here, the `slack_links` job asks Slack and records the answer, so a person Slack does not know is asked once.
 */
export const slackEmailLookups = pgTable(
  'slack_email_lookups',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: slackEmailLookupStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
    /** The Slack member the email belongs to, when Slack answered one. */
    slackUserId: text('slack_user_id'),
    /** Why the person is not linked: Slack's answer or the refusal, in words. */
    lastError: text('last_error'),
    checkedAt: timestamptz('checked_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [index('slack_email_lookups_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`)],
);

export type SlackEmailLookup = typeof slackEmailLookups.$inferSelect;
