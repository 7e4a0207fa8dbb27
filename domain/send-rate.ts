import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type SlackSendRateRow, slackSendRate } from '../db/schema.ts';

// How fast delivery may post to Slack across the whole workspace. Slack allows about one message a second per
// channel and, on top, a workspace-wide rate it does not publish: past it, it answers 429 with Retry-After. So
// the rate is learned from those answers, additive-increase / multiplicative-decrease as TCP does, and kept in
// one database row every replica's worker reserves its posts from: three replicas share one rate, and a 429
// told to one of them holds back all of them.
//
// - Every post reserves the next slot: slots are 1/rate apart, none before a Retry-After pause ends.
// - A 429 pauses everything until Retry-After and remembers what Slack had let through in the second before it
//   (the posts sent in that second, counted one by one), the ceiling; the rate goes just under that ceiling, or
//   is halved when the 429 came after too few posts to measure one. 429s for posts sent before that cut belong
//   to the same overload: they extend the pause but cut nothing more, so a burst of in-flight refusals does not
//   collapse the rate.
// - While posts go out back to back (the rate, not the work, is what limits them), each one raises the rate by a
//   share of itself, but never past twice what went out in the last second: with no ceiling known the rate
//   climbs steeply, from where it was last left, until Slack's first 429 measures its limit; below 90% of a
//   known ceiling it climbs as steeply but stops there; above it, it creeps up by a tenth of a message a second
//   per second. Posts that trickle in below the rate raise
//   nothing, so a quiet week does not leave a rate Slack never confirmed.

export const SEND_RATE_SCOPE = 'workspace';

export const SEND_RATE_POLICY = {
  /** Where a workspace nobody has posted to yet starts; growth takes it from there within a second or two. */
  initialPerSecond: 20,
  /** Never slower than this, however many 429s came: one message a second is always allowed to one channel. */
  minPerSecond: 1,
  /** A guard against a runaway value, far above any Slack workspace rate; Slack's answers set the real pace. */
  maxPerSecond: 1000,
  /** A 429 that measured nothing multiplies the rate by this. */
  decrease: 0.5,
  /**
   * Each post sent back to back raises the rate by this share of it, so the climb steepens as it goes: from 20 a
   * second it passes 50 within about 20 posts (half a second) instead of a second and a half of adding one a post.
   */
  growthPerPost: 0.05,
  /**
   * Fast growth stops at this share of the ceiling, and a 429 that measured the ceiling sets the rate here: just
   * under Slack's limit, with room for the jitter of posts that leave a little late and arrive together (at 95%
   * of it, a loaded machine's jitter earned a second 429, and its second of silence, in most fan-outs measured).
   */
  fastGrowthUpTo: 0.9,
  /**
   * Above it the rate creeps up by this many messages a second for each second of back-to-back posting: each
   * 429 costs a whole Retry-After of silence, so it probes for a higher limit slowly rather than often.
   */
  probePerSecond: 0.1,
  /** Posts accepted in the second before a 429 that make it evidence of the workspace's limit. */
  ceilingEvidence: 5,
  /** The window in which sends are counted, Slack's "per second". */
  windowMs: 1000,
  /**
   * How long a reserved slot is remembered: a 429 counts the second before the refused post, and its answer may
   * reach the rate after later reservations were made, so the slots of one more second are kept.
   */
  keepSlotsMs: 2000,
} as const;

export interface SendRate {
  ratePerSecond: number;
  ceilingPerSecond: number | null;
  nextSlotAt: Date;
  pausedUntil: Date | null;
  limitedAt: Date | null;
  /** Slots (epoch ms) reserved from keepSlotsMs ago on, ascending. */
  recentSlots: number[];
}

export function initialSendRate(): SendRate {
  return {
    ratePerSecond: SEND_RATE_POLICY.initialPerSecond,
    ceilingPerSecond: null,
    // No slot taken yet: the first post goes at once and, not following another, does not count as busy.
    nextSlotAt: new Date(0),
    pausedUntil: null,
    limitedAt: null,
    recentSlots: [],
  };
}

const intervalMs = (rate: number) => 1000 / rate;

/**
 * Posts sent in the second up to `at` (slots in (at - 1 s, at]). Every slot is counted where it is, so a climb,
 * whose posts crowd the end of the second, is counted as steeply as it went; slots reserved after `at` were not
 * sent by then.
 */
export function sendsInSecondTo(state: SendRate, at: Date): number {
  const end = at.getTime();
  const start = end - SEND_RATE_POLICY.windowMs;
  return state.recentSlots.filter((slot) => slot > start && slot <= end).length;
}

function grown(state: SendRate, slot: number): number {
  const { ratePerSecond: rate, ceilingPerSecond: ceiling } = state;
  const { growthPerPost, fastGrowthUpTo, probePerSecond, maxPerSecond, initialPerSecond } = SEND_RATE_POLICY;
  // Steep growth only as far as the posts keep up with it: lanes slowed by their own work (a loaded database,
  // say) still ask for slots back to back, and a rate grown far past what they sent would let them out in one
  // burst once they catch up, into a volley of 429s. So it stays within twice what went out in the last second
  // (plus the first rate, so a climb can start).
  const keptUp = initialPerSecond + 2 * sendsInSecondTo(state, new Date(slot));
  const steep = Math.max(rate, Math.min(rate * (1 + growthPerPost), keptUp));
  if (ceiling === null) return Math.min(steep, maxPerSecond);
  const near = ceiling * fastGrowthUpTo;
  if (rate < near) return Math.min(steep, near);
  // Per post, +probe/rate adds `probe` messages a second every second.
  return Math.min(rate + probePerSecond / rate, maxPerSecond);
}

export type Reservation = { granted: true; slot: Date; state: SendRate } | { granted: false; notBefore: Date };

/**
 * The next post's slot: granted when it falls within `maxWaitMs` of now (the caller waits until it, then posts),
 * otherwise not taken, and `notBefore` says when to come back (a pause, or a long queue of slots ahead).
 */
export function reserveSlot(state: SendRate, params: { now: Date; maxWaitMs: number }): Reservation {
  const now = params.now.getTime();
  const slot = Math.max(state.nextSlotAt.getTime(), state.pausedUntil?.getTime() ?? now, now);
  if (slot - now > params.maxWaitMs) return { granted: false, notBefore: new Date(slot) };
  // Back to back: this post asks for a slot no later than one interval after the last one was free.
  const busy = state.nextSlotAt.getTime() >= now - intervalMs(state.ratePerSecond);
  const ratePerSecond = busy ? grown(state, slot) : state.ratePerSecond;
  const forgetBefore = now - SEND_RATE_POLICY.keepSlotsMs;
  const recentSlots = [...state.recentSlots.filter((kept) => kept > forgetBefore), slot];
  return {
    granted: true,
    slot: new Date(slot),
    state: { ...state, recentSlots, ratePerSecond, nextSlotAt: new Date(slot + intervalMs(ratePerSecond)) },
  };
}

/** Slack answered 429 to a post sent at `sentAt`: pause everything until Retry-After; the first such answer cuts the rate. */
export function rateLimited(state: SendRate, params: { now: Date; sentAt: Date; retryAfterMs: number }): SendRate {
  const until = new Date(params.now.getTime() + params.retryAfterMs);
  const pausedUntil = state.pausedUntil && state.pausedUntil > until ? state.pausedUntil : until;
  const nextSlotAt = state.nextSlotAt > pausedUntil ? state.nextSlotAt : pausedUntil;
  if (state.limitedAt && params.sentAt < state.limitedAt) return { ...state, pausedUntil, nextSlotAt };
  // What Slack let through just before refusing: in a burst this is far closer to its limit than our own rate.
  // Counted from the slots themselves: an estimate from per-second totals assumed posts spread evenly over the
  // previous second and, in a climb, counted 45 where Slack had let 50 through, so the rate settled 10% lower
  // than it needed to. Lanes reserve slots ahead: those after this post were not sent when Slack refused it.
  // A refusal after a handful of posts (one channel's own limit, say) says nothing about the workspace's: it
  // pauses and cuts, but the ceiling stays what it was.
  // The refused post's own slot is among them (it went out at its slot or a little after): Slack let the others through.
  const allowed = Math.max(0, sendsInSecondTo(state, params.sentAt) - 1);
  const evidence = allowed >= SEND_RATE_POLICY.ceilingEvidence;
  const ceilingPerSecond = evidence ? allowed : state.ceilingPerSecond;
  return {
    ...state,
    pausedUntil,
    nextSlotAt,
    limitedAt: params.now,
    ceilingPerSecond,
    // With Slack's answer measured (the ceiling just taken), the rate goes just under it: halving it as well cost
    // the fan-out a second or more of growing back. Without that evidence, halved, and no faster than the ceiling
    // known from before.
    ratePerSecond: Math.max(
      evidence && ceilingPerSecond !== null
        ? ceilingPerSecond * SEND_RATE_POLICY.fastGrowthUpTo
        : Math.min(state.ratePerSecond * SEND_RATE_POLICY.decrease, (ceilingPerSecond ?? Number.POSITIVE_INFINITY) * SEND_RATE_POLICY.fastGrowthUpTo),
      SEND_RATE_POLICY.minPerSecond,
    ),
  };
}

function fromRow(row: SlackSendRateRow): SendRate {
  const { scope: _scope, ...state } = row;
  return state;
}

/** Reads the workspace's row for update (creating it on first use), applies `change` and writes the result. */
async function changeSendRate<T>(db: Db, change: (state: SendRate) => { state?: SendRate; result: T }): Promise<T> {
  return db.transaction(async (tx) => {
    const locked = () => tx.select().from(slackSendRate).where(eq(slackSendRate.scope, SEND_RATE_SCOPE)).for('update');
    let [row] = await locked();
    if (!row) {
      await tx.insert(slackSendRate).values({ scope: SEND_RATE_SCOPE, ...initialSendRate() }).onConflictDoNothing({ target: slackSendRate.scope });
      [row] = await locked();
    }
    if (!row) throw new Error('slack_send_rate: the workspace row vanished inside its own transaction');
    const { state, result } = change(fromRow(row));
    if (state) await tx.update(slackSendRate).set(state).where(eq(slackSendRate.scope, SEND_RATE_SCOPE));
    return result;
  });
}

export type SlotAnswer = { granted: true; slot: Date } | { granted: false; notBefore: Date };

/**
 * Reserves the next `count` workspace-wide slots in one transaction (see reserveSlot), for as many posts waiting
 * side by side: the row is every replica's, so it is locked as briefly and as rarely as possible.
 */
export function reserveSendSlots(db: Db, params: { now: Date; maxWaitMs: number; count: number }): Promise<SlotAnswer[]> {
  return changeSendRate<SlotAnswer[]>(db, (initial) => {
    let state = initial;
    const answers: SlotAnswer[] = [];
    for (let index = 0; index < params.count; index += 1) {
      const reservation = reserveSlot(state, params);
      if (!reservation.granted) {
        answers.push(reservation);
        continue;
      }
      state = reservation.state;
      answers.push({ granted: true, slot: reservation.slot });
    }
    return { state, result: answers };
  });
}

/** Reserves the next workspace-wide slot for a post (see reserveSlot). */
export async function reserveSendSlot(db: Db, params: { now: Date; maxWaitMs: number }): Promise<SlotAnswer> {
  const [answer] = await reserveSendSlots(db, { ...params, count: 1 });
  if (!answer) throw new Error('reserveSendSlots answered nothing');
  return answer;
}

/** Records Slack's 429 for every replica (see rateLimited). */
export function recordRateLimited(db: Db, params: { now: Date; sentAt: Date; retryAfterMs: number }): Promise<void> {
  return changeSendRate(db, (state) => ({ state: rateLimited(state, params), result: undefined }));
}

/** The end of the current pause, if a 429 holds every post back at `now`. */
export async function sendPausedUntil(db: Db, now: Date): Promise<Date | null> {
  const [row] = await db.select({ pausedUntil: slackSendRate.pausedUntil }).from(slackSendRate).where(eq(slackSendRate.scope, SEND_RATE_SCOPE));
  return row?.pausedUntil && row.pausedUntil > now ? row.pausedUntil : null;
}

/** The workspace's current send rate, for metrics and the benchmark. */
export async function currentSendRate(db: Db): Promise<SendRate | undefined> {
  const [row] = await db.select().from(slackSendRate).where(eq(slackSendRate.scope, SEND_RATE_SCOPE));
  return row ? fromRow(row) : undefined;
}
