import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { OutboxRow } from '../db/schema.ts';
import { isUuid } from '../domain/validation.ts';
import {
  claimDueNotifications,
  clearNotificationPosting,
  deferPendingNotifications,
  findSlackMessage,
  markNotificationPosting,
  markNotificationSent,
  nextNotificationDueAt,
  parkNotification,
  retryNotificationLater,
} from '../domain/outbox.ts';
import { notificationTargetForms, parseNotificationTarget } from '../domain/notifications.ts';
import { type SlotAnswer, recordRateLimited, reserveSendSlots, sendPausedUntil } from '../domain/send-rate.ts';
import { getUsersByIds } from '../domain/users.ts';
import type { SlackMessage } from './views/account-card.ts';
import type { WebhookSender } from './webhooks.ts';
import { deliveryAttempts, deliveryFailures } from '../metrics.ts';

/** What a notification looks like in Slack, rendered from the database as it is at delivery time. */
export interface RenderedNotification {
  message: SlackMessage;
  /**
   * The account thread (`account:<id>`) this notification belongs in. An account's thread lives only in the
   * handoff channel and is the bot's own first post about the account there: a notification posted there is a
   * reply in it, or starts it when there is none yet. Anywhere else the key is ignored, so no message outside
   * the handoff channel (a card someone shared in a DM, say) can become the thread or pull notes into it.
   */
  threadKey?: string;
  /** A thread this message starts when posted in the handoff channel with none there yet (a handoff message). */
  startsThread?: string;
}

export type NotificationRenderer = (row: OutboxRow) => Promise<RenderedNotification>;

/** A notification that can never be delivered as it is (unknown target, unlinked person, unknown kind): park it. */
export class UndeliverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableError';
  }
}

export interface DeliveryChannels {
  handoffs?: string | undefined;
  atRisk?: string | undefined;
}

export interface DeliveryWorkerOptions {
  db: Db;
  /** Create it with `rejectRateLimitedCalls: true` and `retryConfig: { retries: 0 }`: the outbox owns retries. */
  client: WebClient;
  logger: Logger;
  channels: DeliveryChannels;
  render: NotificationRenderer;
  /** Rows claimed per round; each round holds at most one row per target. */
  batchSize?: number;
  /** Rows posted at the same time (to different targets). */
  concurrency?: number;
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Longest idle wait of the continuous loop between drains (it wakes earlier when a retry falls due). */
  pollMs?: number;
  /**
   * Slack allows about one message a second per channel. Posting faster only earns 429s, so a channel's next
   * new message waits this long after its previous one (per worker; across replicas the 429s still pace them).
   */
  perTargetIntervalMs?: number;
  clock?: () => Date;
  /** Waits until the clock has moved on by `ms` (a test with a simulated clock moves it instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Longest a claimed row waits in this process for its workspace-wide slot (domain/send-rate.ts); a longer
   * wait (a long Retry-After, a long queue of slots) puts the row back in the outbox until then.
   */
  maxSlotWaitMs?: number;
  /** Sends the outbox's webhook rows (target `webhook:<endpoint>`); without it they wait. */
  webhooks?: WebhookSender;
}

export interface DrainResult {
  sent: number;
  retried: number;
  parked: number;
}

type Settled = keyof DrainResult | 'paced';

export interface DeliveryWorker {
  drainOnce(): Promise<DrainResult>;
  start(): void;
  stop(): Promise<void>;
  /** Ends the loop's idle wait now: something was just queued. A no-op when the loop is not running. */
  wake(): void;
}

type Outcome =
  | { kind: 'sent' }
  | { kind: 'paced'; until: Date }
  | { kind: 'rate_limited'; retryAfterMs: number; error: string; sentAt?: Date }
  | { kind: 'transient'; error: string }
  | { kind: 'permanent'; error: string };

// Platform errors Slack documents as temporary; every other `ok: false` answer is about the message or the
// channel and would fail the same way again.
const TRANSIENT_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

const PLATFORM_HINTS: Record<string, string> = {
  channel_not_found: 'the channel does not exist or the bot cannot see it; check the channel id in the configuration',
  not_in_channel: 'the bot is not a member of the channel; invite @Lifeline to it',
  is_archived: 'the channel is archived',
  invalid_blocks: 'the message broke a Block Kit limit (a bug in Lifeline: report it)',
  invalid_auth: 'the bot token is not valid',
  account_inactive: 'the bot token belongs to a deactivated app or workspace',
  user_not_found: 'the Slack user no longer exists',
};

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function slackErrorDetails(error: unknown): { code: string | undefined; platformError?: string; retryAfter?: number; statusCode?: number; messages: string[] } {
  if (typeof error !== 'object' || error === null || !('code' in error)) return { code: undefined, messages: [] };
  const code = str(error.code);
  const messages: string[] = [];
  let platformError: string | undefined;
  if ('data' in error && typeof error.data === 'object' && error.data !== null) {
    if ('error' in error.data) platformError = str(error.data.error);
    const metadata = 'response_metadata' in error.data ? error.data.response_metadata : undefined;
    if (typeof metadata === 'object' && metadata !== null && 'messages' in metadata && Array.isArray(metadata.messages)) {
      for (const message of metadata.messages) if (typeof message === 'string') messages.push(message);
    }
  }
  const retryAfter = 'retryAfter' in error && typeof error.retryAfter === 'number' ? error.retryAfter : undefined;
  const statusCode = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
  return {
    code,
    messages,
    ...(platformError !== undefined ? { platformError } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    ...(statusCode !== undefined ? { statusCode } : {}),
  };
}

/** Decides what a failure means for the notification: wait as told, retry with backoff, or park. */
export function classifyDeliveryError(error: unknown): Exclude<Outcome, { kind: 'sent' }> {
  if (error instanceof UndeliverableError) return { kind: 'permanent', error: error.message };
  const details = slackErrorDetails(error);
  switch (details.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = Math.max(details.retryAfter ?? 1, 1);
      return { kind: 'rate_limited', retryAfterMs: seconds * 1000, error: `Slack rate limited the call; retrying after ${seconds}s` };
    }
    case ErrorCode.PlatformError: {
      const platformError = details.platformError ?? 'unknown_error';
      const detail = [PLATFORM_HINTS[platformError], ...details.messages].filter((part) => part !== undefined).join('; ');
      const text = `Slack refused the message: ${platformError}${detail ? ` (${detail})` : ''}`;
      return TRANSIENT_PLATFORM_ERRORS.has(platformError) ? { kind: 'transient', error: text } : { kind: 'permanent', error: text };
    }
    case ErrorCode.HTTPError: {
      const status = details.statusCode ?? 0;
      const text = `Slack answered HTTP ${status}`;
      return status >= 500 || status === 408 ? { kind: 'transient', error: text } : { kind: 'permanent', error: text };
    }
    case ErrorCode.RequestError:
      return { kind: 'transient', error: `Could not reach Slack: ${error instanceof Error ? error.message : String(error)}` };
    default:
      // Our own failure (a database hiccup, a rendering bug): retried, and parked with the error if it persists.
      return { kind: 'transient', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

/** Every new message carries its outbox id in Slack message metadata, so an uncertain post can be found later. */
const METADATA_EVENT = 'lifeline_notification';

/** How far before the recorded start of an uncertain post to search, for clock skew between us and Slack. */
const RECONCILE_SKEW_S = 120;

function outboxIdIn(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const metadata: unknown = Reflect.get(message, 'metadata');
  if (typeof metadata !== 'object' || metadata === null || Reflect.get(metadata, 'event_type') !== METADATA_EVENT) return undefined;
  const payload: unknown = Reflect.get(metadata, 'event_payload');
  if (typeof payload !== 'object' || payload === null) return undefined;
  const id: unknown = Reflect.get(payload, 'outbox_id');
  return typeof id === 'string' ? id : undefined;
}

/**
 * The channel had a message less than a second ago, or the workspace's next slot is far off (a pause after a
 * 429): this one waits for its slot in the outbox, without calling Slack.
 */
class Paced extends Error {
  constructor(readonly until: Date) {
    super('waiting for the channel’s next slot');
  }
}

export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { db, client, logger, channels, render } = options;
  const batchSize = options.batchSize ?? 50;
  const concurrency = options.concurrency ?? 8;
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoff ?? { baseMs: 5_000, maxMs: 10 * 60_000 };
  const clock = options.clock ?? (() => new Date());
  const perTargetIntervalMs = options.perTargetIntervalMs ?? 1000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxSlotWaitMs = options.maxSlotWaitMs ?? 5_000;
  const lastPostAt = new Map<string, number>();
  /** Retry-After of a 429 this worker has heard and not yet written to the database, for its other lanes. */
  let localPauseUntil = 0;

  /** Lanes waiting for a slot: one reservation in the database serves every lane waiting at that moment. */
  const slotRequests: { resolve: (answer: SlotAnswer) => void; reject: (error: unknown) => void }[] = [];
  let reserving = false;

  async function reserveForWaitingLanes(): Promise<void> {
    reserving = true;
    try {
      while (slotRequests.length > 0) {
        const batch = slotRequests.splice(0);
        try {
          const answers = await reserveSendSlots(db, { now: clock(), maxWaitMs: maxSlotWaitMs, count: batch.length });
          for (const [index, request] of batch.entries()) {
            const answer = answers[index];
            if (answer) request.resolve(answer);
            else request.reject(new Error('no slot answer for a waiting lane'));
          }
        } catch (error) {
          for (const request of batch) request.reject(error);
        }
      }
    } finally {
      reserving = false;
    }
  }

  function reserveSlotForLane(): Promise<SlotAnswer> {
    return new Promise((resolve, reject) => {
      slotRequests.push({ resolve, reject });
      if (!reserving) void reserveForWaitingLanes();
    });
  }

  /**
   * Waits for this call's workspace-wide slot (domain/send-rate.ts), shared with every replica, and returns when
   * it may go out. Throws Paced when the slot is further off than this process should hold the row.
   */
  async function takeSendSlot(): Promise<Date> {
    for (;;) {
      const reservation = await reserveSlotForLane();
      if (!reservation.granted) throw new Paced(reservation.notBefore);
      const wait = reservation.slot.getTime() - clock().getTime();
      if (wait > 0) {
        await sleep(wait);
        // A 429 answered to another replica while this lane waited holds this post back too.
        const paused = await sendPausedUntil(db, clock());
        if (paused && paused.getTime() - clock().getTime() > maxSlotWaitMs) throw new Paced(paused);
        if (paused) continue;
      }
      // Checked with no await between it and the call: a 429 another lane of this worker has just heard, and
      // not yet written down, holds this post back as well.
      const pausedFor = localPauseUntil - clock().getTime();
      if (pausedFor <= 0) return clock();
      if (pausedFor > maxSlotWaitMs) throw new Paced(new Date(localPauseUntil));
      await sleep(pausedFor);
    }
  }

  async function resolveTarget(target: string): Promise<string> {
    const parsed = parseNotificationTarget(target);
    switch (parsed?.form) {
      case 'handoffs':
      case 'at_risk': {
        const channel = parsed.form === 'handoffs' ? channels.handoffs : channels.atRisk;
        const variable = parsed.form === 'handoffs' ? 'SLACK_HANDOFF_CHANNEL' : 'SLACK_AT_RISK_CHANNEL';
        if (!channel) throw new UndeliverableError(`No channel is configured for ${target}: set ${variable} to a channel id and requeue.`);
        return channel;
      }
      case 'user': {
        const [user] = isUuid(parsed.userId) ? await getUsersByIds(db, [parsed.userId]) : [];
        if (!user) throw new UndeliverableError(`The recipient ${parsed.userId} is not a Lifeline user.`);
        // Posting to a member id lands in the bot's DM with them, without a conversations.open round trip.
        if (!user.slackUserId) throw new UndeliverableError(`${user.name} is not linked to Slack: set their Slack user id, then requeue.`);
        return user.slackUserId;
      }
      case 'slack':
        return parsed.id;
      case 'webhook':
        throw new UndeliverableError(`${target} is a webhook endpoint, not a Slack conversation.`);
      case undefined:
        throw new UndeliverableError(`Unknown target "${target}": expected ${notificationTargetForms}.`);
    }
  }

  interface Posted {
    /** A new message (not an update of a kept one): it counts against the channel's one a second. */
    isNew: boolean;
    channel: string;
    ts: string;
    keys: string[];
    threadKeys: string[];
  }

  /** When the current attempt's Slack call went out, so a 429 can tell which overload it belongs to. */
  interface Attempt {
    sentAt?: Date;
  }

  async function post(row: OutboxRow, rendered: RenderedNotification, attempt: Attempt): Promise<Posted> {
    const { text, blocks } = rendered.message;
    const keys = row.messageKey ? [row.messageKey] : [];
    // SECURITY: only the handoff channel holds account threads, so where a note goes is decided by its target
    // alone; nothing a Slack user does elsewhere can redirect it.
    const holdsThreads = (channel: string) => channels.handoffs !== undefined && channel === channels.handoffs;
    const startsIn = (channel: string) => (holdsThreads(channel) && rendered.startsThread ? [rendered.startsThread] : []);

    if (row.messageKey) {
      const existing = await findSlackMessage(db, row.messageKey);
      if (existing) {
        try {
          attempt.sentAt = await takeSendSlot();
          await client.chat.update({ channel: existing.channel, ts: existing.ts, text, blocks });
          return { isNew: false, channel: existing.channel, ts: existing.ts, keys, threadKeys: startsIn(existing.channel) };
        } catch (error) {
          // Someone deleted the message: post it again rather than lose the update.
          if (slackErrorDetails(error).platformError !== 'message_not_found') throw error;
        }
      }
    }

    const channel = await resolveTarget(row.target);
    const kept = holdsThreads(channel) && rendered.threadKey ? await findSlackMessage(db, rendered.threadKey) : undefined;
    // A thread recorded elsewhere (by an older release) is not followed; this post replaces it as the thread.
    const thread = kept && kept.channel === channel ? kept : undefined;
    const threadKeys = [...startsIn(channel), ...(holdsThreads(channel) && rendered.threadKey && !thread ? [rendered.threadKey] : [])];
    if (row.postingSince) {
      // The previous attempt died between asking Slack to post and recording the answer: it may have landed.
      const found = await findUncertainPost(row, row.postingThreadTs ?? thread?.ts ?? null);
      if (found) return { ...found, isNew: true, keys, threadKeys };
    }
    // Only new messages count against a channel's ~1/s; updates (chat.update) have their own, looser tier.
    const last = lastPostAt.get(channel);
    const now = clock().getTime();
    if (last !== undefined && now >= last && now - last < perTargetIntervalMs) throw new Paced(new Date(last + perTargetIntervalMs));
    // Held until now, before the workspace slot is waited for, so no other lane of this worker takes the channel.
    lastPostAt.set(channel, now);
    await markNotificationPosting(db, { id: row.id, channel, threadTs: thread?.ts ?? null, at: clock() });
    const previous = last;
    const sentAt = await takeSendSlot().catch(async (error: unknown) => {
      if (error instanceof Paced) {
        // Nothing was sent: the channel's last post is still the one before, and no search is needed later.
        if (previous === undefined) lastPostAt.delete(channel);
        else lastPostAt.set(channel, previous);
        if (!row.postingSince) await clearNotificationPosting(db, row.id);
      }
      throw error;
    });
    attempt.sentAt = sentAt;
    lastPostAt.set(channel, sentAt.getTime());
    const result = await client.chat.postMessage({
      channel,
      text,
      blocks,
      unfurl_links: false,
      unfurl_media: false,
      metadata: { event_type: METADATA_EVENT, event_payload: { outbox_id: String(row.id) } },
      ...(thread ? { thread_ts: thread.ts } : {}),
    });
    // Slack counts a channel's second from when the post reached it, which our send time can precede by the
    // whole round trip: the next post to the channel waits a full interval from the answer.
    lastPostAt.set(channel, Math.max(clock().getTime(), sentAt.getTime()));
    const ts = str(result.ts);
    if (!ts) throw new Error('chat.postMessage answered ok without a ts');
    return { isNew: true, channel: str(result.channel) ?? channel, ts, keys, threadKeys };
  }

  /** Looks in Slack for the message an interrupted attempt may have posted, by the outbox id in its metadata. */
  async function findUncertainPost(row: OutboxRow, threadTs: string | null): Promise<{ channel: string; ts: string } | undefined> {
    let channel = row.slackChannel ?? (await resolveTarget(row.target));
    const oldest = String(Math.floor((row.postingSince?.getTime() ?? 0) / 1000) - RECONCILE_SKEW_S);
    let messages: unknown[];
    try {
      // A DM was posted to the member id; its history lives under the DM's own channel id.
      if (/^[UW]/.test(channel)) {
        const opened = await client.conversations.open({ users: channel });
        channel = str(opened.channel?.id) ?? channel;
      }
      const answer = threadTs
        ? await client.conversations.replies({ channel, ts: threadTs, oldest, include_all_metadata: true, limit: 200 })
        : await client.conversations.history({ channel, oldest, include_all_metadata: true, limit: 200 });
      messages = answer.messages ?? [];
    } catch (error) {
      // Slack down or throttling: search again at the next attempt; posting blind now could double the message.
      if (classifyDeliveryError(error).kind !== 'permanent') throw error;
      // Without history access (a missing *:history scope) a duplicate is possible but a lost message is worse.
      logger.warn({ err: error, notification: row.id, channel }, 'could not check Slack for an interrupted post; posting again');
      return undefined;
    }
    const match = messages.find((message) => outboxIdIn(message) === String(row.id));
    const ts = typeof match === 'object' && match !== null ? str(Reflect.get(match, 'ts')) : undefined;
    if (ts) logger.info({ notification: row.id, channel, ts }, 'an interrupted post had reached Slack: recorded, not posted again');
    return ts ? { channel, ts } : undefined;
  }

  async function deliverOne(row: OutboxRow): Promise<Outcome> {
    const attempt: Attempt = {};
    try {
      if (parseNotificationTarget(row.target)?.form === 'webhook') {
        if (!options.webhooks) return { kind: 'transient', error: 'This process sends no webhooks.' };
        const outcome = await options.webhooks(row);
        return outcome.kind === 'sent' ? { kind: 'sent' } : outcome;
      }
      const rendered = await render(row);
      const posted = await post(row, rendered, attempt);
      const now = clock();
      await markNotificationSent(db, {
        id: row.id,
        channel: posted.channel,
        ts: posted.ts,
        now,
        messageKeys: posted.keys,
        threadKeys: posted.threadKeys,
        // The target's next message waits its second in the outbox, so no other replica posts it sooner.
        ...(posted.isNew && perTargetIntervalMs > 0 ? { target: row.target, targetNextAt: new Date(now.getTime() + perTargetIntervalMs) } : {}),
      });
      return { kind: 'sent' };
    } catch (error) {
      if (error instanceof Paced) return { kind: 'paced', until: error.until };
      const outcome = classifyDeliveryError(error);
      if (outcome.kind === 'rate_limited') localPauseUntil = Math.max(localPauseUntil, clock().getTime() + outcome.retryAfterMs);
      return outcome.kind === 'rate_limited' && attempt.sentAt ? { ...outcome, sentAt: attempt.sentAt } : outcome;
    }
  }

  async function settle(row: OutboxRow, outcome: Outcome): Promise<Settled> {
    const now = clock();
    switch (outcome.kind) {
      case 'sent':
        return 'sent';
      case 'paced':
        // Not an attempt and not an error: the row just waits for its channel's next slot.
        await retryNotificationLater(db, { id: row.id, at: outcome.until, error: row.lastError, countsAsAttempt: false });
        return 'paced';
      case 'rate_limited': {
        const until = new Date(now.getTime() + outcome.retryAfterMs);
        // The 429 proves this attempt posted nothing; an earlier interrupted one may have, so its trace stays.
        if (!row.postingSince) await clearNotificationPosting(db, row.id);
        await retryNotificationLater(db, { id: row.id, at: until, error: outcome.error, countsAsAttempt: false });
        // Slack's limits hold across the workspace: posting other notifications before Retry-After only earns
        // more 429s. The workspace's send rate (in the database, so every replica's worker reads it) pauses
        // every post until then, rows already claimed by any worker included, and slows down after it; pending
        // rows are put back until then too, so no worker claims them only to wait.
        await recordRateLimited(db, { now, sentAt: outcome.sentAt ?? now, retryAfterMs: outcome.retryAfterMs });
        // Written down: from here the database's pause holds every lane, this worker's too.
        if (localPauseUntil <= until.getTime()) localPauseUntil = 0;
        await deferPendingNotifications(db, { until });
        return 'retried';
      }
      case 'transient': {
        if (row.attempts >= maxAttempts) {
          const error = `Gave up after ${row.attempts} attempts: ${outcome.error}`;
          await parkNotification(db, { id: row.id, error });
          logger.warn({ notification: row.id, kind: row.kind, target: row.target, error }, 'notification parked');
          return 'parked';
        }
        // Exponential backoff with jitter, so a Slack outage does not end in a synchronised stampede.
        const delay = Math.min(backoff.baseMs * 2 ** (row.attempts - 1), backoff.maxMs) * (0.8 + Math.random() * 0.4);
        await retryNotificationLater(db, { id: row.id, at: new Date(now.getTime() + delay), error: outcome.error, countsAsAttempt: true });
        return 'retried';
      }
      case 'permanent':
        if (!row.postingSince) await clearNotificationPosting(db, row.id);
        await parkNotification(db, { id: row.id, error: outcome.error });
        logger.warn({ notification: row.id, kind: row.kind, target: row.target, error: outcome.error }, 'notification parked');
        return 'parked';
    }
  }

  async function drainOnce(): Promise<DrainResult> {
    const result: DrainResult = { sent: 0, retried: 0, parked: 0 };
    // Each round claims at most one row per target; keep going until nothing is due, so one drain also
    // delivers a target's second and third messages, in order.
    for (let round = 0; round < 10_000; round += 1) {
      const rows = await claimDueNotifications(db, { now: clock(), limit: batchSize });
      if (rows.length === 0) break;
      let next = 0;
      const lanes = Array.from({ length: Math.min(concurrency, rows.length) }, async () => {
        while (next < rows.length) {
          const row = rows[next++];
          if (!row) break;
          const settled = await settle(row, await deliverOne(row));
          if (settled !== 'paced') {
            result[settled] += 1;
            const target = parseNotificationTarget(row.target)?.form === 'webhook' ? 'webhook' : 'slack';
            deliveryAttempts.inc({ target, outcome: settled });
            if (settled !== 'sent') deliveryFailures.inc({ target });
          }
        }
      });
      await Promise.all(lanes);
    }
    return result;
  }

  let running: Promise<void> | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;

  return {
    drainOnce,
    start() {
      if (running) return;
      stopped = false;
      running = (async () => {
        while (!stopped) {
          try {
            await drainOnce();
          } catch (error) {
            // The loop must outlive a database blip; rows stay pending and the next round retries them.
            logger.error({ err: error }, 'outbox drain failed');
          }
          if (stopped) break;
          // A failed look-up only means sleeping the full poll interval; the next drain reports real trouble.
          const due = await nextNotificationDueAt(db).catch(() => null);
          const untilDue = due ? Math.max(due.getTime() - clock().getTime(), 10) : Number.POSITIVE_INFINITY;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(options.pollMs ?? 1000, untilDue));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      })();
    },
    wake() {
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await running;
      running = undefined;
    },
  };
}
