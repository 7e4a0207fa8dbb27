import { describe, expect, it } from 'vitest';
import { SEND_RATE_POLICY, type SendRate, currentSendRate, initialSendRate, rateLimited, recordRateLimited, reserveSendSlot, reserveSendSlots, reserveSlot } from '../domain/send-rate.ts';
import { useTestDatabase } from './support/database.ts';

const T0 = new Date('2030-01-01T09:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** Reserves `count` back-to-back slots, each taken as soon as it is free; returns the state and the slots. */
function sendBackToBack(state: SendRate, count: number, from = 0): { state: SendRate; slots: number[] } {
  let current = state;
  const slots: number[] = [];
  let now = from;
  for (let index = 0; index < count; index += 1) {
    const reservation = reserveSlot(current, { now: at(now), maxWaitMs: 5_000 });
    if (!reservation.granted) throw new Error('not granted');
    current = reservation.state;
    now = reservation.slot.getTime() - T0.getTime();
    slots.push(now);
  }
  return { state: current, slots };
}

describe('the workspace send rate', () => {
  it('spaces posts 1/rate apart and grows while posts go out back to back', () => {
    const { state, slots } = sendBackToBack(initialSendRate(), 20);
    expect(slots[1]).toBe(1000 / SEND_RATE_POLICY.initialPerSecond);
    for (const [index, slot] of slots.entries()) if (index > 0) expect(slot).toBeGreaterThan(slots[index - 1] ?? 0);
    expect(state.ratePerSecond).toBeGreaterThan(SEND_RATE_POLICY.initialPerSecond);
  });

  it('posts that trickle in below the rate do not raise it', () => {
    let state = initialSendRate();
    for (let index = 0; index < 10; index += 1) {
      const reservation = reserveSlot(state, { now: at(index * 10_000), maxWaitMs: 5_000 });
      if (!reservation.granted) throw new Error('not granted');
      expect(reservation.slot).toEqual(at(index * 10_000));
      state = reservation.state;
    }
    expect(state.ratePerSecond).toBe(SEND_RATE_POLICY.initialPerSecond);
  });

  it('a 429 pauses every slot until Retry-After and cuts the rate once per overload, to just under what Slack let through', () => {
    const busy = sendBackToBack(initialSendRate(), 15);
    const sentAt = at(busy.slots.at(-1) ?? 0);
    const rate = busy.state.ratePerSecond;
    const limited = rateLimited(busy.state, { now: sentAt, sentAt, retryAfterMs: 2_000 });
    const ceiling = limited.ceilingPerSecond ?? Number.NaN;
    // Slack's answer measured a ceiling: the rate goes just under it, not halved on top.
    expect(limited.ratePerSecond).toBe(ceiling * SEND_RATE_POLICY.fastGrowthUpTo);
    expect(limited.pausedUntil).toEqual(new Date(sentAt.getTime() + 2_000));
    expect(limited.ceilingPerSecond).toBeGreaterThanOrEqual(SEND_RATE_POLICY.ceilingEvidence);
    expect(limited.ceilingPerSecond).toBeLessThanOrEqual(rate);

    // Another post of the same burst, sent before the cut, answered 429 a moment later: the pause may grow, the rate is not cut again.
    const again = rateLimited(limited, { now: at((busy.slots.at(-1) ?? 0) + 5), sentAt: at((busy.slots.at(-2) ?? 0) + 1), retryAfterMs: 3_000 });
    expect(again.ratePerSecond).toBe(limited.ratePerSecond);
    expect(again.pausedUntil?.getTime()).toBeGreaterThanOrEqual(limited.pausedUntil?.getTime() ?? 0);

    // Nothing is granted before the pause ends; a wait longer than the caller holds a row is refused with its end.
    expect(reserveSlot(again, { now: sentAt, maxWaitMs: 1_000 })).toEqual({ granted: false, notBefore: again.pausedUntil });
    const next = reserveSlot(again, { now: sentAt, maxWaitMs: 5_000 });
    expect(next.granted && next.slot.getTime()).toBeGreaterThanOrEqual(again.pausedUntil?.getTime() ?? Number.POSITIVE_INFINITY);
  });

  it('takes the ceiling from the posts sent before the refused one, not from slots other posts reserved after it', () => {
    const busy = sendBackToBack(initialSendRate(), 40);
    const refused = busy.slots[29] ?? 0;
    const sentBefore = busy.slots.filter((slot) => slot > refused - 1_000 && slot < refused).length;
    const limited = rateLimited(busy.state, { now: at(refused + 20), sentAt: at(refused), retryAfterMs: 1_000 });
    expect(limited.ceilingPerSecond).toBeLessThanOrEqual(sentBefore + 1);
    expect(limited.ceilingPerSecond).toBeGreaterThanOrEqual(sentBefore * 0.8);
  });

  it('counts every post of a steep climb in the second before a 429, so the ceiling is what Slack let through', () => {
    // Twenty quiet posts spread over a second, then a climb whose posts crowd the end of the next second: an
    // estimate that spreads the earlier second's posts evenly would count fewer than were sent.
    let state = initialSendRate();
    const slots: number[] = [];
    for (let index = 0; index < 20; index += 1) {
      const reservation = reserveSlot(state, { now: at(index * 50), maxWaitMs: 5_000 });
      if (!reservation.granted) throw new Error('not granted');
      state = reservation.state;
      slots.push(reservation.slot.getTime() - T0.getTime());
    }
    const climb = sendBackToBack(state, 60, 1_000);
    slots.push(...climb.slots);
    const refused = climb.slots.at(-1) ?? 0;
    const sentBefore = slots.filter((slot) => slot > refused - 1_000 && slot < refused).length;
    expect(sentBefore).toBeGreaterThan(SEND_RATE_POLICY.initialPerSecond);
    const limited = rateLimited(climb.state, { now: at(refused + 30), sentAt: at(refused), retryAfterMs: 1_000 });
    expect(limited.ceilingPerSecond).toBe(sentBefore);
    expect(limited.ratePerSecond).toBeCloseTo(sentBefore * SEND_RATE_POLICY.fastGrowthUpTo);
  });

  it('climbs steeply while no ceiling is known: from the first rate past 50 a second within a second of back-to-back posts', () => {
    const { state, slots } = sendBackToBack(initialSendRate(), 25);
    expect(state.ratePerSecond).toBeGreaterThan(50);
    expect(slots.at(-1)).toBeLessThan(1_000);
  });

  it('does not grow past twice what went out in the last second, however back to back the slots are asked for', () => {
    // Lanes slowed by their own work: the rate is already far above the few posts that went out.
    const behind: SendRate = { ...initialSendRate(), ratePerSecond: 80, nextSlotAt: at(0), recentSlots: [at(-500).getTime(), at(-200).getTime()] };
    const { state } = sendBackToBack(behind, 10);
    expect(state.ratePerSecond).toBe(80);
  });

  it('with a ceiling known, climbs steeply only up to just under it, then creeps up on it', () => {
    const learned: SendRate = { ...initialSendRate(), ratePerSecond: 10, ceilingPerSecond: 50 };
    const near = 50 * SEND_RATE_POLICY.fastGrowthUpTo;
    const climbed = sendBackToBack(learned, 40);
    expect(climbed.state.ratePerSecond).toBeGreaterThanOrEqual(near);
    // A further second of posts at that rate adds about a tenth of a message a second, not a message per post.
    const crept = sendBackToBack(climbed.state, Math.round(near), (climbed.slots.at(-1) ?? 0) + 1000 / climbed.state.ratePerSecond);
    expect(crept.state.ratePerSecond - climbed.state.ratePerSecond).toBeCloseTo(SEND_RATE_POLICY.probePerSecond, 1);
    expect(crept.state.ratePerSecond).toBeLessThan(50);
  });

  it('forgets slots older than it needs to count a second before a late 429', () => {
    const early = sendBackToBack(initialSendRate(), 10);
    const later = reserveSlot(early.state, { now: at(10_000), maxWaitMs: 5_000 });
    if (!later.granted) throw new Error('not granted');
    expect(later.state.recentSlots).toEqual([at(10_000).getTime()]);
  });

  it('halves the rate when a 429 comes after too few posts to measure what Slack allows', () => {
    const few = sendBackToBack(initialSendRate(), 3);
    const sentAt = at(few.slots.at(-1) ?? 0);
    const limited = rateLimited(few.state, { now: sentAt, sentAt, retryAfterMs: 1_000 });
    expect(limited.ceilingPerSecond).toBeNull();
    expect(limited.ratePerSecond).toBe(few.state.ratePerSecond * SEND_RATE_POLICY.decrease);
  });

  it('never falls below one message a second, however many overloads in a row', () => {
    let state = initialSendRate();
    for (let index = 0; index < 20; index += 1) state = rateLimited(state, { now: at(index * 10_000), sentAt: at(index * 10_000 + 1), retryAfterMs: 1_000 });
    expect(state.ratePerSecond).toBe(SEND_RATE_POLICY.minPerSecond);
  });
});

describe('the workspace send rate in the database', () => {
  const database = useTestDatabase();

  it('is one row every worker reserves from, and a 429 recorded by one holds back the slots of all', async () => {
    const first = await reserveSendSlot(database.db, { now: T0, maxWaitMs: 5_000 });
    const second = await reserveSendSlot(database.db, { now: T0, maxWaitMs: 5_000 });
    expect(first).toEqual({ granted: true, slot: T0 });
    expect(second).toEqual({ granted: true, slot: at(1000 / SEND_RATE_POLICY.initialPerSecond) });
    const before = (await currentSendRate(database.db))?.ratePerSecond ?? Number.NaN;
    await recordRateLimited(database.db, { now: at(100), sentAt: at(50), retryAfterMs: 30_000 });
    expect(await reserveSendSlot(database.db, { now: at(200), maxWaitMs: 5_000 })).toEqual({ granted: false, notBefore: at(30_100) });
    expect((await currentSendRate(database.db))?.ratePerSecond).toBe(before * SEND_RATE_POLICY.decrease);
  });

  it('keeps the slots it reserved, so a 429 recorded later counts what went out in the second before the refused post', async () => {
    // An hour after the test above: its slots are forgotten, its pause long over.
    const granted: Date[] = [];
    for (let index = 0; index < 12; index += 1) {
      const answers = await reserveSendSlots(database.db, { now: at(3_600_000 + index * 40), maxWaitMs: 5_000, count: 2 });
      for (const answer of answers) if (answer.granted) granted.push(answer.slot);
    }
    expect((await currentSendRate(database.db))?.recentSlots).toEqual(granted.map((slot) => slot.getTime()));
    const refused = granted.at(-1) ?? T0;
    await recordRateLimited(database.db, { now: new Date(refused.getTime() + 10), sentAt: refused, retryAfterMs: 1_000 });
    const sentBefore = granted.filter((slot) => slot > new Date(refused.getTime() - 1_000) && slot < refused).length;
    expect(sentBefore).toBeGreaterThanOrEqual(SEND_RATE_POLICY.ceilingEvidence);
    expect((await currentSendRate(database.db))?.ceilingPerSecond).toBe(sentBefore);
  });
});
