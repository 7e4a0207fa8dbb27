import { and, asc, desc, eq, inArray, lt, lte, ne, notExists, notLike, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db, Tx } from '../db/client.ts';
import type { Actor } from './actors.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors.ts';
import { type NotificationDraft, checkNotification, webhookTargetPattern } from './notifications.ts';
import { type OutboxRow, type OutboxStatus, type SlackMessageRow, outbox, slackEvents, slackMessages } from '../db/schema.ts';

/**
 * A notification to queue: its kind decides the payload's shape and where it may go (domain/notifications.ts).
 * `dedupeKey` is unique per notification occasion (e.g. `alert:usage_drop:<account>:2026-11-25`): enqueuing the
 * same key twice is a no-op, which is what makes retries, crashes and replicas safe. `messageKey` updates the
 * message kept under that key (e.g. `handoff:<id>`) instead of posting a new one.
 */
export type EnqueueNotificationParams = NotificationDraft & { dedupeKey: string; messageKey?: string | null };

/**
 * Queues a Slack notification. Call it inside the transaction of the change that causes it, so the change and
 * its notification commit or roll back together. Returns false when the dedupe key was already queued. A
 * payload or target the contract refuses throws NotificationContractError before anything is written.
 */
export async function enqueueNotification(db: Db | Tx, params: EnqueueNotificationParams): Promise<boolean> {
  const payload = checkNotification(params);
  const inserted = await db
    .insert(outbox)
    .values({
      kind: params.kind,
      dedupeKey: params.dedupeKey,
      target: params.target,
      messageKey: params.messageKey ?? null,
      payload,
    })
    .onConflictDoNothing({ target: outbox.dedupeKey })
    .returning({ id: outbox.id });
  return inserted.length > 0;
}

/**
 * Queues many notifications in a few statements (a recompute's status changes, a digest's endpoints), with the same
 * contract checks and dedupe as enqueueNotification. Returns how many were new.
 */
export async function enqueueNotifications(db: Db | Tx, params: readonly EnqueueNotificationParams[]): Promise<number> {
  const rows = params.map((draft) => ({ kind: draft.kind, dedupeKey: draft.dedupeKey, target: draft.target, messageKey: draft.messageKey ?? null, payload: checkNotification(draft) }));
  let inserted = 0;
  for (let start = 0; start < rows.length; start += 500) {
    const written = await db.insert(outbox).values(rows.slice(start, start + 500)).onConflictDoNothing({ target: outbox.dedupeKey }).returning({ id: outbox.id });
    inserted += written.length;
  }
  return inserted;
}

/** How long a claimed row stays invisible to other workers while it is being posted. */
export const CLAIM_LEASE_MS = 60_000;

export interface ClaimParams {
  now: Date;
  limit: number;
  leaseMs?: number;
}

/**
 * Claims due notifications for delivery, at most one per target: the oldest pending row of each target, so a
 * channel's messages go out in the order they were queued even across replicas (a later row waits while an
 * earlier one is leased or backing off). `FOR UPDATE SKIP LOCKED` lets several workers claim side by side;
 * the lease (next_attempt_at in the future) keeps a claimed row away from them after this short transaction.
 */
export async function claimDueNotifications(db: Db, params: ClaimParams): Promise<OutboxRow[]> {
  const earlier = alias(outbox, 'earlier');
  return db.transaction(async (tx) => {
    const due = await tx
      .select({ id: outbox.id })
      .from(outbox)
      .where(
        and(
          eq(outbox.status, 'pending'),
          // Rows are stamped by the database clock (defaultNow) and by the worker's clock (retries): whichever
          // is ahead decides, so a little skew between the two never leaves a due row waiting.
          lte(outbox.nextAttemptAt, sql`greatest(now(), ${params.now.toISOString()}::timestamptz)`),
          notExists(
            tx
              .select({ id: earlier.id })
              .from(earlier)
              .where(and(eq(earlier.target, outbox.target), eq(earlier.status, 'pending'), lt(earlier.id, outbox.id))),
          ),
        ),
      )
      .orderBy(asc(outbox.id))
      .limit(params.limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    return tx
      .update(outbox)
      .set({ nextAttemptAt: new Date(params.now.getTime() + (params.leaseMs ?? CLAIM_LEASE_MS)), attempts: sql`${outbox.attempts} + 1` })
      .where(
        inArray(
          outbox.id,
          due.map((row) => row.id),
        ),
      )
      .returning();
  });
}

export interface DeliveredParams {
  id: number;
  channel: string;
  ts: string;
  now: Date;
  /** Kept so later notifications with this key update the same Slack message. */
  messageKeys: string[];
  /**
   * Threads this message starts (e.g. `account:<id>`): recorded only where no thread of that key exists in the
   * same channel, so an account's thread stays the bot's first post there. One kept in another channel (left by
   * an older release, when a shared card could become the thread) is replaced.
   */
  threadKeys?: string[];
  /**
   * Slack takes about one new message a second per channel: the target's other pending notifications wait
   * until `targetNextAt`, in the outbox, so no replica's worker posts the next one sooner.
   */
  target?: string;
  targetNextAt?: Date;
}

/** Records a delivered notification and where its message lives, in one transaction. */
export async function markNotificationSent(db: Db, params: DeliveredParams): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(outbox)
      .set({ status: 'sent', slackChannel: params.channel, slackTs: params.ts, sentAt: params.now, lastError: null, postingSince: null, postingThreadTs: null })
      .where(eq(outbox.id, params.id));
    if (params.target !== undefined && params.targetNextAt) {
      await tx
        .update(outbox)
        .set({ nextAttemptAt: sql`greatest(${outbox.nextAttemptAt}, ${params.targetNextAt.toISOString()}::timestamptz)` })
        .where(and(eq(outbox.target, params.target), eq(outbox.status, 'pending'), ne(outbox.id, params.id)));
    }
    for (const messageKey of params.messageKeys) {
      await tx
        .insert(slackMessages)
        .values({ messageKey, channel: params.channel, ts: params.ts, updatedAt: params.now })
        .onConflictDoUpdate({ target: slackMessages.messageKey, set: { channel: params.channel, ts: params.ts, updatedAt: params.now } });
    }
    for (const threadKey of params.threadKeys ?? []) {
      await tx
        .insert(slackMessages)
        .values({ messageKey: threadKey, channel: params.channel, ts: params.ts, updatedAt: params.now })
        .onConflictDoUpdate({
          target: slackMessages.messageKey,
          set: { channel: params.channel, ts: params.ts, updatedAt: params.now },
          setWhere: ne(slackMessages.channel, params.channel),
        });
    }
  });
}

export interface RetryParams {
  id: number;
  at: Date;
  /** Null when the row is only waiting its turn (paced), not failing. */
  error: string | null;
  /** A rate limit is Slack pacing us, not the message failing: it does not count towards parking. */
  countsAsAttempt: boolean;
}

export async function retryNotificationLater(db: Db, params: RetryParams): Promise<void> {
  await db
    .update(outbox)
    .set({
      nextAttemptAt: params.at,
      lastError: params.error,
      ...(params.countsAsAttempt ? {} : { attempts: sql`greatest(${outbox.attempts} - 1, 0)` }),
    })
    .where(eq(outbox.id, params.id));
}

export interface PostingParams {
  id: number;
  channel: string;
  threadTs: string | null;
  at: Date;
}

/**
 * Records that a new message is about to be posted, so a crash between Slack accepting it and
 * markNotificationSent leaves a trace: the next attempt searches Slack for it instead of posting twice.
 */
export async function markNotificationPosting(db: Db, params: PostingParams): Promise<void> {
  await db
    .update(outbox)
    // The earliest unanswered attempt is kept: the search for a landed post must reach back to it, however
    // many failed attempts came after it.
    .set({ postingSince: sql`coalesce(${outbox.postingSince}, ${params.at.toISOString()}::timestamptz)`, slackChannel: params.channel, postingThreadTs: params.threadTs })
    .where(eq(outbox.id, params.id));
}

/**
 * Slack answered 429: every pending notification due before `until` waits until then, not only the refused
 * one. Stored in the outbox, so every replica's worker holds back, not only the one that was told.
 */
export async function deferPendingNotifications(db: Db, params: { until: Date }): Promise<void> {
  await db
    .update(outbox)
    .set({ nextAttemptAt: params.until })
    // Webhook endpoints are not Slack: their deliveries keep their own pace.
    .where(and(eq(outbox.status, 'pending'), lt(outbox.nextAttemptAt, params.until), notLike(outbox.target, webhookTargetPattern)));
}

/** The attempt ended with an answer that proves nothing was posted (a refusal, a 429): no search is needed. */
export async function clearNotificationPosting(db: Db, id: number): Promise<void> {
  await db.update(outbox).set({ postingSince: null, postingThreadTs: null }).where(eq(outbox.id, id));
}

/** Stops retrying a notification; it stays visible (GraphQL `notifications(status: PARKED)`) with its last error. */
export async function parkNotification(db: Db, params: { id: number; error: string }): Promise<void> {
  await db.update(outbox).set({ status: 'parked', lastError: params.error }).where(eq(outbox.id, params.id));
}

/** Where the message kept under a key lives, if it was posted. */
export async function findSlackMessage(db: Db | Tx, messageKey: string): Promise<SlackMessageRow | undefined> {
  const [row] = await db.select().from(slackMessages).where(eq(slackMessages.messageKey, messageKey));
  return row;
}

export interface ListNotificationsParams {
  status?: OutboxStatus | null;
  first: number;
  actor: Actor;
}

function requireOutboxAccess(actor: Actor, action: string): void {
  // SECURITY: notifications carry account names, reasons and people's ids: managers and admins only.
  if (actor.role !== 'admin' && actor.role !== 'manager') {
    throw new ForbiddenError(`Your role (${actor.role}) cannot ${action}: managers and admins can.`);
  }
}

export function listNotifications(db: Db, params: ListNotificationsParams): Promise<OutboxRow[]> {
  requireOutboxAccess(params.actor, 'see Slack notifications');
  if (!Number.isInteger(params.first) || params.first < 1 || params.first > 200) {
    throw new InvalidInputError('`first` must be between 1 and 200.', 'first');
  }
  return db
    .select()
    .from(outbox)
    .where(params.status ? eq(outbox.status, params.status) : undefined)
    .orderBy(desc(outbox.id))
    .limit(params.first);
}

/** Sends a parked notification again from scratch (after fixing what parked it, e.g. inviting the bot). */
export async function requeueNotification(db: Db, params: { id: number; now: Date; actor: Actor }): Promise<OutboxRow> {
  requireOutboxAccess(params.actor, 'requeue Slack notifications');
  if (!Number.isSafeInteger(params.id)) throw new InvalidInputError('`id` must be a notification id from the `notifications` query.', 'id');
  const [row] = await db
    .update(outbox)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: params.now })
    .where(and(eq(outbox.id, params.id), eq(outbox.status, 'parked')))
    .returning();
  if (!row) throw new NotFoundError(`No parked notification with id ${params.id}: only parked notifications can be requeued.`, 'id');
  return row;
}

/** True the first time an Events API `event_id` is seen; Slack's retries of the same event get false. */
export async function recordSlackEvent(db: Db, eventId: string): Promise<boolean> {
  const inserted = await db.insert(slackEvents).values({ eventId }).onConflictDoNothing().returning({ eventId: slackEvents.eventId });
  return inserted.length > 0;
}

/** When the next pending notification falls due, so an idle delivery loop sleeps just long enough. */
export async function nextNotificationDueAt(db: Db): Promise<Date | null> {
  const [row] = await db
    .select({ due: sql<Date | string | null>`min(${outbox.nextAttemptAt})` })
    .from(outbox)
    .where(eq(outbox.status, 'pending'));
  return row?.due ? new Date(row.due) : null;
}
