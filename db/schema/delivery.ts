import { sql } from 'drizzle-orm';
import { bigint, date, doublePrecision, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { accounts, users } from './core.ts';

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
    /**
     * Set just before a new message is posted and cleared once the outcome is known. Still set when a row is
     * claimed again means the previous attempt died (or lost Slack's answer) mid-post: the message may exist,
     * so delivery looks for it before posting again.
     */
    postingSince: timestamptz('posting_since'),
    /** The thread the uncertain post went into, if it was a reply. */
    postingThreadTs: text('posting_thread_ts'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    sentAt: timestamptz('sent_at'),
  },
  (t) => [
    index('outbox_due_idx').on(t.nextAttemptAt, t.id).where(sql`${t.status} = 'pending'`),
    // Delivery keeps each target's messages in order: it only claims the oldest pending row of a target.
    index('outbox_pending_target_idx').on(t.target, t.id).where(sql`${t.status} = 'pending'`),
  ],
);

/** Where a message lives in Slack, so later changes update it with chat.update. */
export const slackMessages = pgTable('slack_messages', {
  messageKey: text('message_key').primaryKey(),
  channel: text('channel').notNull(),
  ts: text('ts').notNull(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

/**
 * How fast delivery may post to Slack across the whole workspace, learned from Slack's answers and shared by
 * every replica (domain/send-rate.ts): a 429 halves the rate and holds every post until Retry-After; posts
 * that go through let it grow again. One row per scope (today only `workspace`), written by every post.
 */
export const slackSendRate = pgTable('slack_send_rate', {
  scope: text('scope').primaryKey(),
  ratePerSecond: doublePrecision('rate_per_second').notNull(),
  /** The rate at which Slack last answered 429: growth slows down near it instead of running into it again. */
  ceilingPerSecond: doublePrecision('ceiling_per_second'),
  /** The earliest time the next post may go out (the rate's spacing, or the end of a pause). */
  nextSlotAt: timestamptz('next_slot_at').notNull(),
  /** Retry-After of the last 429: no post goes out before it, from any replica. */
  pausedUntil: timestamptz('paused_until'),
  /** When the rate was last cut: 429s for posts sent before it belong to the same overload and cut nothing more. */
  limitedAt: timestamptz('limited_at'),
  /**
   * The slots (epoch ms) reserved in the last two seconds and ahead: a 429 counts exactly how many posts went out
   * in the second before the refused one, which is what Slack let through.
   */
  recentSlots: bigint('recent_slots', { mode: 'number' }).array().notNull().default(sql`'{}'::bigint[]`),
});

export type SlackSendRateRow = typeof slackSendRate.$inferSelect;

export type OutboxRow = typeof outbox.$inferSelect;
export type SlackMessageRow = typeof slackMessages.$inferSelect;

/**
 * Slack retries an event it thinks failed (same `event_id`) and Bolt does not dedupe: the first insert wins,
 * later deliveries of the same event are dropped.
 */
export const slackEvents = pgTable('slack_events', {
  eventId: text('event_id').primaryKey(),
  receivedAt: timestamptz('received_at').notNull().defaultNow(),
});

/**
 * Follow-up state of an account on the daily at-risk digest: who acknowledged it, until when it is snoozed, and
 * when it was escalated for being listed without anyone acknowledging it.
 */
export const atRiskFollowUps = pgTable('at_risk_follow_ups', {
  accountId: uuid('account_id')
    .primaryKey()
    .references(() => accounts.id),
  firstListedOn: date('first_listed_on', { mode: 'string' }).notNull(),
  lastListedOn: date('last_listed_on', { mode: 'string' }).notNull(),
  acknowledgedAt: timestamptz('acknowledged_at'),
  acknowledgedBy: uuid('acknowledged_by').references(() => users.id),
  snoozedUntil: timestamptz('snoozed_until'),
  escalatedOn: date('escalated_on', { mode: 'string' }),
});

export type AtRiskFollowUp = typeof atRiskFollowUps.$inferSelect;
