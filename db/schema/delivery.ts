import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgEnum, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const outboxStatuses = ['pending', 'sent', 'parked'] as const;
export type OutboxStatus = (typeof outboxStatuses)[number];
export const outboxStatus = pgEnum('outbox_status', outboxStatuses);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Transactional outbox: a domain change and the Slack notifications it causes commit together; the delivery
 * worker drains this table. `dedupe_key` makes each notification unique (per account, channel and day for
 * digests and alerts), so a retry, a crash or a second replica never posts twice.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    kind: text('kind').notNull(),
    dedupeKey: text('dedupe_key').notNull().unique(),
    /** A Slack channel id (C…), or a user id (U…) for a direct message. */
    target: text('target').notNull(),
    /** When set, the notification updates the Slack message kept under this key instead of posting anew. */
    messageKey: text('message_key'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: outboxStatus('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    slackChannel: text('slack_channel'),
    slackTs: text('slack_ts'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    sentAt: timestamptz('sent_at'),
  },
  (t) => [index('outbox_due_idx').on(t.nextAttemptAt, t.id).where(sql`${t.status} = 'pending'`)],
);

/** Where a message lives in Slack, so later changes update it with chat.update. */
export const slackMessages = pgTable('slack_messages', {
  messageKey: text('message_key').primaryKey(),
  channel: text('channel').notNull(),
  ts: text('ts').notNull(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export type OutboxRow = typeof outbox.$inferSelect;
export type SlackMessageRow = typeof slackMessages.$inferSelect;
