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
// - A 429 pauses everything until Retry-After and remembers what Slack had let through in the second before it,
//   the ceiling; the rate goes just under that ceiling, or is halved when the 429 came after too few posts to
//   measure one. 429s for posts sent before that cut belong to the same overload: they extend the pause but cut
//   nothing more, so a burst of in-flight refusals does not collapse the rate.
// - While posts go out back to back (the rate, not the work, is what limits them), each one raises the rate:
//   by one message a second per post (doubling every second) up to 90% of the ceiling, then by a tenth of a
//   message a second per second, creeping up on the ceiling. Posts that trickle in below the rate raise nothing, so a quiet
//   week does not leave a rate Slack never confirmed.

export const SEND_RATE_SCOPE = 'workspace';

export const SEND_RATE_POLICY = {
  /** Where a workspace nobody has posted to yet starts; growth takes it from there within a second or two. */
  initialPerSecond: 20,
  /** Never slower than this, however many 429s came: one message a second is always allowed to one channel. */
  minPerSecond: 1,
  /** A guard against a runaway value, far above any Slack workspace rate; Slack's answers set the real pace. */
  maxPerSecond: 1000,
  /** A 429 multiplies the rate by this. */
  decrease: 0.5,
  /** Fast growth stops at this share of the ceiling. */
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
} as const;

export interface SendRate {
  ratePerSecond: number;
  ceilingPerSecond: number | null;
  nextSlotAt: Date;
  pausedUntil: Date | null;
  limitedAt: Date | null;
  windowStartedAt: Date | null;
  windowSends: number;
  previousWindowSends: number;
}

export function initialSendRate(): SendRate {
  return {
    ratePerSecond: SEND_RATE_POLICY.initialPerSecond,
    ceilingPerSecond: null,
    // No slot taken yet: the first post goes at once and, not following another, does not count as busy.
    nextSlotAt: new Date(0),
    pausedUntil: null,
    limitedAt: null,
    windowStartedAt: null,
    windowSends: 0,
    previousWindowSends: 0,
  };
}

const intervalMs = (rate: number) => 1000 / rate;

/** Rolls the send-count window to `now` (a window left unused for two seconds counts as empty). */
function rollWindow(state: SendRate, now: number): Pick<SendRate, 'windowStartedAt' | 'windowSends' | 'previousWindowSends'> {
  const started = state.windowStartedAt?.getTime();
  const { windowMs } = SEND_RATE_POLICY;
  if (started === undefined || now - started >= 2 * windowMs) return { windowStartedAt: new Date(now), windowSends: 0, previousWindowSends: 0 };
  if (now - started >= windowMs) return { windowStartedAt: new Date(started + windowMs), windowSends: 0, previousWindowSends: state.windowSends };
  return { windowStartedAt: state.windowStartedAt, windowSends: state.windowSends, previousWindowSends: state.previousWindowSends };
}

/** Slots reserved after `at`: they are one interval apart, up to nextSlotAt, the first one still free. */
function slotsReservedAfter(state: SendRate, at: Date): number {
  return Math.max(0, Math.ceil((state.nextSlotAt.getTime() - at.getTime()) / intervalMs(state.ratePerSecond)) - 1);
}

/** Sends in the second before `now`, estimated from the current and the previous window. */
export function sendsInLastSecond(state: SendRate, now: Date): number {
  const window = rollWindow(state, now.getTime());
  const into = Math.max(0, now.getTime() - (window.windowStartedAt?.getTime() ?? now.getTime()));
  return window.windowSends + window.previousWindowSends * Math.max(0, 1 - into / SEND_RATE_POLICY.windowMs);
}

function grown(state: SendRate): number {
  const { ratePerSecond: rate, ceilingPerSecond: ceiling } = state;
  // Per post: +1 doubles the rate every second; +probe/rate adds `probe` messages a second every second.
  const step = ceiling === null || rate < ceiling * SEND_RATE_POLICY.fastGrowthUpTo ? 1 : SEND_RATE_POLICY.probePerSecond / rate;
  return Math.min(rate + step, SEND_RATE_POLICY.maxPerSecond);
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
  const ratePerSecond = busy ? grown(state) : state.ratePerSecond;
  const window = rollWindow(state, slot);
  return {
    granted: true,
    slot: new Date(slot),
    state: { ...state, ...window, windowSends: window.windowSends + 1, ratePerSecond, nextSlotAt: new Date(slot + intervalMs(ratePerSecond)) },
  };
}

/** Slack answered 429 to a post sent at `sentAt`: pause everything until Retry-After; the first such answer cuts the rate. */
export function rateLimited(state: SendRate, params: { now: Date; sentAt: Date; retryAfterMs: number }): SendRate {
  const until = new Date(params.now.getTime() + params.retryAfterMs);
  const pausedUntil = state.pausedUntil && state.pausedUntil > until ? state.pausedUntil : until;
  const nextSlotAt = state.nextSlotAt > pausedUntil ? state.nextSlotAt : pausedUntil;
  if (state.limitedAt && params.sentAt < state.limitedAt) return { ...state, pausedUntil, nextSlotAt };
  // What Slack let through just before refusing: in a burst this is far closer to its limit than our own rate.
  // The windows count slots as they are reserved, and lanes reserve theirs ahead: the slots after this post were
  // not sent when Slack refused it, and counting them put the ceiling above Slack's limit (51.6 for 50 a second
  // in bench/slack.bench.ts), so the rate settled where jitter alone earned a second 429.
  // A refusal after a handful of posts (one channel's own limit, say) says nothing about the workspace's: it
  // pauses and cuts, but the ceiling stays what it was.
  const allowed = sendsInLastSecond(state, params.sentAt) - 1 - slotsReservedAfter(state, params.sentAt);
  const evidence = allowed >= SEND_RATE_POLICY.ceilingEvidence;
  const ceilingPerSecond = evidence ? Math.min(state.ratePerSecond, allowed) : state.ceilingPerSecond;
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
