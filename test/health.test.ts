import { eq, sql } from 'drizzle-orm';
import { systemReader } from '../domain/actors.ts';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../db/client.ts';
import { accountHealth, healthScores, healthSignals, signalChanges, usageChanges, usageWindowState, usageWindows } from '../db/schema.ts';
import { saidHealthRows, storedHealthOf } from './support/health.ts';
import { getAccountHealth, listAtRisk } from '../domain/health/queries.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { resetHealthSettings, updateHealthSettings } from '../domain/health/model.ts';
import { recordUsage } from '../domain/signals.ts';
import { defineStage, updateStage } from '../domain/lifecycle/stages.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { addSentiment, addSurvey, addTicket, addTouch, addUsage, daysBefore } from './support/signals.ts';
import { DAY_MS, isoDay } from '../domain/dates.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const admin = { userId: null, role: 'admin' as const, label: 'Test admin' };

const database = useTestDatabase();

async function scoreOf(accountId: string) {
  const health = await getAccountHealth(database.db, { accountId, reader: systemReader, now: NOW });
  if (!health) throw new Error(`account ${accountId} has no health`);
  return health;
}

describe('health components', () => {
  it('usage: active users against seats, the 14-day trend against the 28 days before, and key events', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10, keyEvents: 20 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 6, seats: 10, keyEvents: 12 });

    const result = await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    expect(result.accounts).toBe(1);
    const health = await scoreOf(account.id);
    // adoption 60, trend 20 (down 40%), key events 100: 0.5*60 + 0.3*20 + 0.2*100
    expect(health.components?.usage.score).toBe(56);
    expect(health.score).toBe(56);
    expect(health.status).toBe('at_risk');
    expect(health.reasons[0]).toBe('active users down 40% vs prior 4 weeks');
    expect(health.components?.usage.detail).toBe('6 of 10 seats active (14-day average), -40% vs prior 4 weeks, 2.0 key events per active user a day');
  });

  it('support: open tickets weighted by severity and age, with the oldest urgent one named', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 9 });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 3 });
    await addTicket(db, account.id, NOW, { severity: 'normal', openedDaysAgo: 20, resolvedDaysAgo: 10 });

    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const health = await scoreOf(account.id);
    // 30 x (1 + 9/30) + 30 x (1 + 3/30) = 72 points off; the resolved ticket costs nothing.
    expect(health.components?.support.score).toBe(28);
    expect(health.status).toBe('critical');
    expect(health.reasons[0]).toBe('2 open urgent tickets, oldest 9 days');
  });

  it('NPS: the latest answer of each respondent, decaying with age, and the champion named when they are a detractor', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addSurvey(db, account.id, NOW, { score: 3, daysAgo: 100, email: 'user@acme.test', role: 'user' });
    await addSurvey(db, account.id, NOW, { score: 9, daysAgo: 10, email: 'user@acme.test', role: 'user' });
    await addSurvey(db, account.id, NOW, { score: 4, daysAgo: 5, email: 'champ@acme.test', role: 'champion' });
    await addSurvey(db, account.id, NOW, { score: 0, daysAgo: 400, email: 'old@acme.test' });

    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const health = await scoreOf(account.id);
    const userWeight = 0.5 ** (10 / 90);
    const champWeight = 0.5 ** (5 / 90);
    const expected = Math.round((90 * userWeight + 40 * champWeight) / (userWeight + champWeight));
    expect(health.components?.nps.score).toBe(expected);
    expect(health.components?.nps.detail).toBe('2 respondents in the last year, recent answers weigh more');
    expect(health.reasons[0]).toBe('NPS 4 from the champion');
  });

  it('engagement: days since the last CSM touch and time in stage against its SLA', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'implementation', enteredAt: daysBefore(NOW, 60) });
    await addTouch(db, account.id, NOW, 37);

    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const health = await scoreOf(account.id);
    // touch: (60 - 37) / 46 = 50; SLA: 60 days of 45 = 67; engagement is their mean.
    expect(health.components?.engagement.score).toBe(58);
    expect(health.reasons).toEqual([
      'no CSM touch in 37 days',
      '60 days in Implementation, past its 45-day SLA',
      'no usage or support or NPS/CSAT data: scored on engagement',
    ]);
  });
});

describe('health reasons', () => {
  it('names the three costliest facts, costliest first, then the components it had no data for', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10, keyEvents: 0 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 2, seats: 10, keyEvents: 0 });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 0 });
    await addTouch(db, account.id, NOW, 37);

    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const health = await scoreOf(account.id);
    // Usage has half the weight (40 of 80): adoption costs 20 points, the trend 15 (+1), key events 10; the
    // urgent ticket 7.5 (+1) and the late touch 6.25 are true but cost less, so they are not said.
    expect(health.reasons).toEqual([
      'only 2 of 10 seats active',
      'active users down 80% vs prior 4 weeks',
      '0.0 key events per active user a day, target 2',
      'no NPS/CSAT data: scored on usage, support, engagement',
    ]);
  });
});

describe('health score', () => {
  it('leaves out a component with no data, shares its weight among the others, and says so', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 10, seats: 10, keyEvents: 20 });
    await addSurvey(db, account.id, NOW, { score: 0, daysAgo: 0 });

    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const health = await scoreOf(account.id);
    // usage 100 at weight 40, NPS 0 at weight 20; support and engagement have no data.
    expect(health.score).toBe(67);
    expect(health.components?.usage.weight).toBe(66.7);
    expect(health.components?.nps.weight).toBe(33.3);
    expect(health.components?.support).toMatchObject({ score: null, weight: 0 });
    expect(health.components?.engagement).toMatchObject({ score: null, weight: 0 });
    expect(health.reasons).toContain('NPS 0 from a respondent');
    expect(health.reasons.at(-1)).toBe('no support or engagement data: scored on usage, NPS/CSAT');
  });

  it('an account left with no data at all says not enough data instead of a stale score, keeps its history, and is scored again on a new signal', async () => {
    const { db } = database;
    // A stage without an SLA, no tickets, no touches: usage is all there is, and it ages out of the 6-week window.
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 70, toDaysAgo: 50, activeUsers: 8, seats: 10, keyEvents: 20 });
    const early = daysBefore(NOW, 40);
    expect(await recomputeHealth(db, { now: early, accountIds: [account.id] })).toMatchObject({ accounts: 1, scoresRemoved: 0, historyRows: 1 });
    const before = await scoreOf(account.id);

    const gone = await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    expect(gone).toMatchObject({ accounts: 0, insufficientData: 1, scoresRemoved: 1, statusChanges: 1, historyRows: 1, rowsWritten: 1 });
    const insufficient = await scoreOf(account.id);
    expect(insufficient).toMatchObject({ status: 'insufficient_data', score: null, dropSinceYesterday: null, dropSinceLastWeek: null });
    expect(insufficient.reasons).toEqual(['not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches']);
    const history = await db.select().from(healthScores).where(eq(healthScores.accountId, account.id)).orderBy(healthScores.computedAt);
    expect(history.map((point) => [point.score, point.status])).toEqual([
      [before.score, before.status],
      [null, 'insufficient_data'],
    ]);
    // Nothing new to say the next time.
    expect(await recomputeHealth(db, { now: new Date(NOW.getTime() + 3_600_000), accountIds: [account.id] })).toMatchObject({
      accounts: 0,
      scoresRemoved: 0,
      historyRows: 0,
      rowsWritten: 0,
    });

    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 2 });
    const later = new Date(NOW.getTime() + 2 * 3_600_000);
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ accounts: 1, insufficientData: 0, scoresRemoved: 0, historyRows: 1 });
    const again = await scoreOf(account.id);
    expect(again.reasons.at(-1)).toBe('no usage or NPS/CSAT or engagement data: scored on support');
    expect(again.history.map((point) => point.score)).toEqual([again.score, null, before.score]);
  });

  it('uses the admin-edited thresholds and weights of the account segment', async () => {
    const { db } = database;
    const smb = await createAccount(db, { stageKey: 'mature_adoption', segment: 'smb' });
    const enterprise = await createAccount(db, { stageKey: 'mature_adoption', segment: 'enterprise' });
    for (const account of [smb, enterprise]) {
      await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 10, seats: 10, keyEvents: 20 });
      await addSurvey(db, account.id, NOW, { score: 0, daysAgo: 0 });
    }
    await updateHealthSettings(db, {
      scope: 'enterprise',
      weights: { usage: 80, support: 20, nps: 20, engagement: 20 },
      healthyMin: 80,
      atRiskMin: 50,
      actor: admin,
    });
    await updateHealthSettings(db, {
      scope: 'smb',
      weights: { usage: 40, support: 20, nps: 20, engagement: 20 },
      healthyMin: 60,
      atRiskMin: 30,
      actor: admin,
    });
    await recomputeHealth(db, { now: NOW, accountIds: [smb.id, enterprise.id] });

    expect(await scoreOf(smb.id)).toMatchObject({ score: 67, status: 'healthy' });
    // usage 100 x 80 + NPS 0 x 20, over 100: 80 meets the enterprise bar of 80.
    expect(await scoreOf(enterprise.id)).toMatchObject({ score: 80, status: 'healthy' });
  });

  it('refuses thresholds that leave no room for At risk, and refuses non-admins', async () => {
    const { db } = database;
    await expect(
      updateHealthSettings(db, { scope: 'default', weights: { usage: 40, support: 20, nps: 20, engagement: 20 }, healthyMin: 50, atRiskMin: 60, actor: admin }),
    ).rejects.toThrow(/atRiskMin \(60\) must be below healthyMin \(50\)/);
    await expect(
      updateHealthSettings(db, {
        scope: 'default',
        weights: { usage: 40, support: 20, nps: 20, engagement: 20 },
        healthyMin: 70,
        atRiskMin: 40,
        actor: { userId: null, role: 'manager', label: 'A manager' },
      }),
    ).rejects.toThrow(/Only admins can change health weights/);
  });

  it('classifies Healthy at 70, At risk from 40 to 69 and Critical below 40 by default', async () => {
    const { db } = database;
    // One open urgent ticket of age a costs 30 x (1 + a/30) points: 30 at age 0, 60 at 30 days.
    const cases = [
      { age: 0, score: 70, status: 'healthy' },
      { age: 1, score: 69, status: 'at_risk' },
      { age: 20, score: 50, status: 'at_risk' },
      { age: 30, score: 40, status: 'at_risk' },
    ] as const;
    for (const item of cases) {
      const account = await createAccount(db, { stageKey: 'mature_adoption' });
      await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: item.age });
      await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
      expect(await scoreOf(account.id)).toMatchObject({ score: item.score, status: item.status });
    }
    const critical = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, critical.id, NOW, { severity: 'urgent', openedDaysAgo: 30 });
    await addTicket(db, critical.id, NOW, { severity: 'low', openedDaysAgo: 0 });
    await recomputeHealth(db, { now: NOW, accountIds: [critical.id] });
    expect(await scoreOf(critical.id)).toMatchObject({ score: 37, status: 'critical' });
  });

  it('shows CSM sentiment beside the score without changing it', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 30, resolvedDaysAgo: 20 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    await addSentiment(db, account.id, NOW, 'negative');
    await recomputeHealth(db, { now: new Date(NOW.getTime() + 60_000), accountIds: [account.id] });
    const health = await scoreOf(account.id);
    expect(health.score).toBe(100);
    expect(health.sentiment?.sentiment).toBe('negative');
  });
});

describe('health history', () => {
  it('keeps every change, so the trend and the drop since yesterday and last week can be shown', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 30, resolvedDaysAgo: 20 });

    const first = await recomputeHealth(db, { now: daysBefore(NOW, 8), accountIds: [account.id] });
    expect(first).toMatchObject({ accounts: 1, statusChanges: 0, historyRows: 1 });
    const unchanged = await recomputeHealth(db, { now: new Date(daysBefore(NOW, 8).getTime() + 3_600_000), accountIds: [account.id] });
    expect(unchanged.historyRows).toBe(0);

    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 5 });
    const worse = await recomputeHealth(db, { now: daysBefore(NOW, 2), accountIds: [account.id] });
    expect(worse).toMatchObject({ accounts: 1, statusChanges: 1, historyRows: 1 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });

    const health = await scoreOf(account.id);
    expect(health.score).toBe(65);
    expect(health.scoreDayAgo).toBe(67);
    expect(health.scoreWeekAgo).toBe(100);
    expect(health.dropSinceYesterday).toBe(2);
    expect(health.dropSinceLastWeek).toBe(35);
    expect(health.history.map((point) => point.score)).toEqual([65, 67, 100]);
    const rows = await db.select().from(healthScores).where(eq(healthScores.accountId, account.id));
    expect(rows.every((row) => row.modelVersion === 1)).toBe(true);
  });

  it('recomputes one account without touching the others, and all accounts in one call', async () => {
    const { db } = database;
    const one = await createAccount(db, { stageKey: 'mature_adoption' });
    const other = await createAccount(db, { stageKey: 'mature_adoption' });
    for (const account of [one, other]) await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 1 });
    await recomputeHealth(db, { now: NOW, accountIds: [one.id] });
    const [otherHealth] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, other.id));
    expect(otherHealth).toBeUndefined();

    const all = await recomputeHealth(db, { now: new Date(NOW.getTime() + DAY_MS) });
    expect(all.accounts).toBeGreaterThanOrEqual(2);
    const [afterAll] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, other.id));
    expect(afterAll?.score).toBeGreaterThan(0);
  });
});

describe('unchanged health', () => {
  it('leaves an unchanged score alone: computedAt stays at the last change while the day- and week-old scores move on', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 30 });
    const start = daysBefore(NOW, 10);
    const at = (days: number) => new Date(start.getTime() + days * DAY_MS);

    expect(await recomputeHealth(db, { now: start, accountIds: [account.id] })).toMatchObject({ historyRows: 1, rowsWritten: 1 });
    expect(await recomputeHealth(db, { now: at(0.1), accountIds: [account.id] })).toMatchObject({ accounts: 1, historyRows: 0, rowsWritten: 0 });
    expect(await scoreOf(account.id)).toMatchObject({ score: 100, computedAt: start, scoreDayAgo: null, scoreWeekAgo: null });

    // Two days on, the score of a day ago is known: the row is rewritten for it, but the score was not recomputed anew.
    expect(await recomputeHealth(db, { now: at(2), accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    expect(await scoreOf(account.id)).toMatchObject({ score: 100, computedAt: start, scoreDayAgo: 100, scoreWeekAgo: null });
    expect(await recomputeHealth(db, { now: at(3), accountIds: [account.id] })).toMatchObject({ rowsWritten: 0 });
    expect(await recomputeHealth(db, { now: at(8), accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    expect(await scoreOf(account.id)).toMatchObject({ computedAt: start, scoreDayAgo: 100, scoreWeekAgo: 100 });

    // A change moves computedAt, and it is the time of the newest history point.
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 1 });
    expect(await recomputeHealth(db, { now: NOW, accountIds: [account.id] })).toMatchObject({ historyRows: 1, rowsWritten: 1, statusChanges: 1 });
    const health = await scoreOf(account.id);
    expect(health).toMatchObject({ score: 69, status: 'at_risk', computedAt: NOW, scoreDayAgo: 100, scoreWeekAgo: 100 });
    expect(health.history[0]?.computedAt).toEqual(health.computedAt);
  });

  it('runs inside a caller\'s transaction and leaves its settings as they were', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 3 });
    const workMem = await db.transaction(async (tx) => {
      await tx.execute(sql`set local work_mem = '5MB'`);
      await recomputeHealth(tx, { now: NOW, accountIds: [account.id] });
      const [row] = await queryRows<{ work_mem: string }>(tx, sql`select current_setting('work_mem') as work_mem`);
      return row?.work_mem;
    });
    expect(workMem).toBe('5MB');
    expect((await scoreOf(account.id)).score).toBe(97);
  });
});

describe('what a score says, compared without writing it out', () => {
  const HOUR_MS = 3_600_000;

  it('renaming a stage rewrites the reasons and details that name it; the score did not move, so history does not', async () => {
    const { db } = database;
    await defineStage(db, { key: 'pilot_review', name: 'Pilot review', position: 650, ownerRole: 'csm', slaDays: 10, actor: admin });
    const account = await createAccount(db, { stageKey: 'pilot_review', enteredAt: daysBefore(NOW, 15) });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    expect((await scoreOf(account.id)).reasons).toContain('15 days in Pilot review, past its 10-day SLA');

    await updateStage(db, { key: 'pilot_review', name: 'Pilot sign-off', actor: admin });
    const later = new Date(NOW.getTime() + 60_000);
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    const health = await scoreOf(account.id);
    expect(health.reasons).toContain('15 days in Pilot sign-off, past its 10-day SLA');
    // Its stage SLA is all it has, which is no customer signal: not enough data for a score, in the stage's new name.
    expect(health.components?.engagement.detail).toBe(
      'no CSM touch recorded; time in stage alone is not scored (15 days in Pilot sign-off, SLA 10 days): not enough data for a score',
    );
    expect(health.computedAt).toEqual(NOW);
    expect(health.history).toHaveLength(1);
  });

  it('day counts moving on rewrite what the score says without a history point; a score that moves adds one', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    // A touch past the 60 days that make it stale: its part of the score stays 0 as the days go on.
    await addTouch(db, account.id, NOW, 70);
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 90, resolvedDaysAgo: 80 });
    const start = daysBefore(NOW, 3);
    await recomputeHealth(db, { now: start, accountIds: [account.id] });
    const first = await scoreOf(account.id);
    expect(first).toMatchObject({ score: 50, reasons: ['no CSM touch in 67 days', 'no usage or NPS/CSAT data: scored on support, engagement'] });

    // A day on: the same score for the same reason, one day longer, said anew without a history point.
    const dayOn = new Date(start.getTime() + DAY_MS);
    expect(await recomputeHealth(db, { now: dayOn, accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    const second = await scoreOf(account.id);
    expect(second).toMatchObject({ score: 50, computedAt: start, reasons: ['no CSM touch in 68 days', 'no usage or NPS/CSAT data: scored on support, engagement'] });
    expect(second.components?.engagement.detail).toBe('last CSM touch 68 days ago');
    expect(second.history.map((point) => point.reasons[0])).toEqual(['no CSM touch in 67 days']);

    // An urgent ticket moves the score and is one more reason said: a history point.
    const later = new Date(dayOn.getTime() + 3_600_000);
    await addTicket(db, account.id, later, { severity: 'urgent', openedDaysAgo: 2 });
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 1, rowsWritten: 1 });
    const third = await scoreOf(account.id);
    expect(third.computedAt).toEqual(later);
    expect(third.reasons.slice(0, 2)).toEqual(['no CSM touch in 68 days', '1 open urgent ticket, oldest 2 days']);
    expect(third.history[0]?.reasons).toEqual(third.reasons);
  });

  it('a component losing its data is a history point even when the score stays the same', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    // Support 100 and NPS 100 from one answer that is about to leave the year the model looks back on.
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 90, resolvedDaysAgo: 80 });
    await addSurvey(db, account.id, NOW, { score: 10, daysAgo: 364 });
    const start = NOW;
    await recomputeHealth(db, { now: start, accountIds: [account.id] });
    expect((await scoreOf(account.id)).reasons).toEqual(['no usage or engagement data: scored on support, NPS/CSAT']);

    const later = new Date(start.getTime() + 2 * DAY_MS);
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 1, rowsWritten: 1 });
    const health = await scoreOf(account.id);
    expect(health).toMatchObject({ score: 100, computedAt: later, reasons: ['no usage or NPS/CSAT or engagement data: scored on support'] });
    expect(health.history.map((point) => point.score)).toEqual([100, 100]);
  });

  it('names the respondent of the worst answer anew when an equal, more recent answer comes from someone else', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addSurvey(db, account.id, NOW, { score: 3, daysAgo: 20, email: 'user@acme.test', role: 'user' });
    await addSurvey(db, account.id, NOW, { score: 3, daysAgo: 10, email: 'champ@acme.test', role: 'champion' });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const before = await scoreOf(account.id);
    expect(before.reasons[0]).toBe('NPS 3 from the champion');

    // The user answers 3 again: the same score, the same respondents, only the most recent worst answer is theirs.
    const later = new Date(NOW.getTime() + HOUR_MS);
    await addSurvey(db, account.id, later, { score: 3, daysAgo: 0, email: 'user@acme.test', role: 'user' });
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    const after = await scoreOf(account.id);
    expect(after).toMatchObject({ score: before.score, components: before.components, computedAt: NOW });
    expect(after.reasons[0]).toBe('NPS 3 from the user');
  });

  it('a new weight for a component the account has no data for changes nothing it shows: no history point', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption', segment: 'mid_market' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 10, seats: 10, keyEvents: 20 });
    await addSurvey(db, account.id, NOW, { score: 5, daysAgo: 0 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const before = await scoreOf(account.id);

    try {
      // Support has no data here: its weight is left out, so the weights shown stay 66.7% and 33.3%.
      await updateHealthSettings(db, { scope: 'mid_market', weights: { usage: 40, support: 55, nps: 20, engagement: 20 }, healthyMin: 70, atRiskMin: 40, actor: admin });
      const later = new Date(NOW.getTime() + 60_000);
      expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 0 });
      expect(await scoreOf(account.id)).toMatchObject({ score: before.score, components: before.components, reasons: before.reasons, computedAt: NOW });

      // A weight it does use is shown anew, and is a change.
      await updateHealthSettings(db, { scope: 'mid_market', weights: { usage: 60, support: 55, nps: 20, engagement: 20 }, healthyMin: 70, atRiskMin: 40, actor: admin });
      expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 1 });
      expect((await scoreOf(account.id)).components?.usage.weight).toBe(75);
    } finally {
      await resetHealthSettings(db, 'mid_market');
    }
  });

  it('a score stored without its facts (before they were kept) is stored again with them, a history point only when it moved: computedAt kept', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 30 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    await db.update(accountHealth).set({ facts: null }).where(eq(accountHealth.accountId, account.id));

    const later = new Date(NOW.getTime() + 60_000);
    expect(await recomputeHealth(db, { now: later, accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    const [row] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, account.id));
    expect(row?.computedAt).toEqual(NOW);
    expect(row?.facts).not.toBeNull();
    // Stored again with its facts, the next recompute finds nothing to write.
    expect(await recomputeHealth(db, { now: new Date(later.getTime() + 60_000), accountIds: [account.id] })).toMatchObject({ rowsWritten: 0 });
  });

  it('day- and week-old scores follow history through several changes in a day, and are written only when they move', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    const start = daysBefore(NOW, 9);
    const at = (hours: number) => new Date(start.getTime() + hours * HOUR_MS);
    // One respondent and nothing else: the score is their latest answer, x10.
    const answer = async (hours: number, score: number) => {
      await addSurvey(db, account.id, at(hours), { score, daysAgo: 0, email: 'only@acme.test' });
      return recomputeHealth(db, { now: at(hours), accountIds: [account.id] });
    };
    await answer(0, 9);
    await answer(6, 5);
    await answer(12, 7);
    expect(await scoreOf(account.id)).toMatchObject({ score: 70, scoreDayAgo: null, scoreWeekAgo: null });

    // A day after the second answer: 50 was in effect a day ago, though the score has changed since.
    expect(await recomputeHealth(db, { now: at(30), accountIds: [account.id] })).toMatchObject({ historyRows: 0, rowsWritten: 1 });
    expect(await scoreOf(account.id)).toMatchObject({ score: 70, scoreDayAgo: 50, computedAt: at(12) });
    // An hour on, still 50 a day ago: nothing to write.
    expect(await recomputeHealth(db, { now: at(31), accountIds: [account.id] })).toMatchObject({ rowsWritten: 0 });
    // Past a day after the third answer: 70.
    expect(await recomputeHealth(db, { now: at(37), accountIds: [account.id] })).toMatchObject({ rowsWritten: 1 });
    expect(await scoreOf(account.id)).toMatchObject({ scoreDayAgo: 70, scoreWeekAgo: null });

    // A week after the first answer: 90 a week ago; a week after the second, 50.
    await recomputeHealth(db, { now: at(7 * 24 + 1), accountIds: [account.id] });
    expect(await scoreOf(account.id)).toMatchObject({ scoreDayAgo: 70, scoreWeekAgo: 90 });
    await recomputeHealth(db, { now: at(7 * 24 + 7), accountIds: [account.id] });
    expect(await scoreOf(account.id)).toMatchObject({ scoreDayAgo: 70, scoreWeekAgo: 50, dropSinceLastWeek: -20 });

    // Asked about an earlier moment again, the values come from history, not from what was kept for later ones.
    await recomputeHealth(db, { now: at(8), accountIds: [account.id] });
    expect(await scoreOf(account.id)).toMatchObject({ scoreDayAgo: null, scoreWeekAgo: null });
  });
});

describe('usage windows kept between recomputes', () => {
  const HOUR_MS = 3_600_000;
  const at = (hours: number) => new Date(NOW.getTime() + hours * HOUR_MS);
  async function kept(db: TestDatabase['db']) {
    const [state] = await db.select().from(usageWindowState);
    return state ?? null;
  }
  async function healthOf(db: TestDatabase['db']) {
    const rows = await saidHealthRows(db);
    return new Map(rows.map((row) => [row.accountId, row]));
  }
  async function windowsOf(db: TestDatabase['db'], generation: number | undefined) {
    const rows = await db.select().from(usageWindows).where(eq(usageWindows.generation, generation ?? -1));
    return new Map(rows.map((row) => [row.accountId, row]));
  }

  it('aggregates usage once a day, and again only after usage was written, by ingestion or any other writer', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 8, seats: 10, keyEvents: 16 });

    await recomputeHealth(db, { now: NOW });
    const built = await kept(db);
    expect(built).toMatchObject({ asOf: '2026-11-25' });
    expect((await scoreOf(account.id)).components?.usage.detail).toMatch(/^8 of 10 seats active/);

    // An hour later, nothing new: the same windows answer.
    await recomputeHealth(db, { now: at(1) });
    expect((await kept(db))?.generation).toBe(built?.generation);

    // The last 14 days re-sent with fewer active users: a refresh of the account reads them at once...
    const resent = Array.from({ length: 14 }, (_, ago) => ({ accountId: account.id, day: isoDay(daysBefore(NOW, ago)), activeUsers: 2, seats: 10, keyEvents: 4 }));
    await recordUsage(db, { actor: admin, rows: resent });
    await recomputeHealth(db, { now: at(2), accountIds: [account.id] });
    const refreshed = await scoreOf(account.id);
    expect(refreshed.components?.usage.detail).toMatch(/^2 of 10 seats active \(14-day average\), -75% vs prior 4 weeks/);

    // ...and the next recompute of every account aggregates that account's window anew, in the kept generation
    // (the other accounts' windows are kept as they are), and keeps the score the refresh wrote.
    const keptBefore = await windowsOf(db, built?.generation);
    const all = await recomputeHealth(db, { now: at(2) });
    const rebuilt = await kept(db);
    expect(rebuilt?.generation).toBe(built?.generation);
    const keptAfter = await windowsOf(db, built?.generation);
    expect(keptAfter.get(account.id)).toMatchObject({ sumRecentUsers: 28, recentDays: 14 });
    expect(keptBefore.get(account.id)).toMatchObject({ sumRecentUsers: 112, recentDays: 14 });
    for (const [id, row] of keptBefore) if (id !== account.id) expect(keptAfter.get(id)).toEqual(row);
    expect(all.accounts).toBeGreaterThan(1);
    const recomputed = await scoreOf(account.id);
    expect(recomputed.score).toBe(refreshed.score);
    expect(recomputed.computedAt).toEqual(refreshed.computedAt);

    // Any writer counts, not only ingestion: a plain insert for another account is seen by the next recompute.
    const other = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, other.id, NOW, { fromDaysAgo: 3, toDaysAgo: 0, activeUsers: 5, seats: 5 });
    await recomputeHealth(db, { now: at(3) });
    expect((await kept(db))?.generation).toBe(rebuilt?.generation);
    expect((await windowsOf(db, rebuilt?.generation)).get(other.id)).toMatchObject({ sumRecentUsers: 20, recentDays: 4, seats: 5 });
    expect((await scoreOf(other.id)).components?.usage.detail).toMatch(/^5 of 5 seats active/);
    // Read once: nothing is left to aggregate anew.
    expect(await db.select().from(usageChanges)).toEqual([]);
  });

  it('drops the kept window of an account whose usage in the window was deleted, and keeps the others', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 3, toDaysAgo: 0, activeUsers: 3, seats: 6 });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 2 });
    await recomputeHealth(db, { now: at(3) });
    const state = await kept(db);
    expect((await windowsOf(db, state?.generation)).get(account.id)).toMatchObject({ sumRecentUsers: 12, recentDays: 4 });
    const others = [...(await windowsOf(db, state?.generation))].filter(([id]) => id !== account.id);

    await db.execute(sql`delete from usage_daily where account_id = ${account.id}`);
    await recomputeHealth(db, { now: at(4) });
    expect((await kept(db))?.generation).toBe(state?.generation);
    const after = await windowsOf(db, state?.generation);
    expect(after.has(account.id)).toBe(false);
    for (const [id, row] of others) expect(after.get(id)).toEqual(row);
    expect((await scoreOf(account.id)).components?.usage.score).toBeNull();
  });

  it('rolls the kept windows on by a day to the same sums and scores as aggregating them anew', async () => {
    const { db } = database;
    const nextDay = new Date(NOW.getTime() + DAY_MS);
    // As of the next day, NOW - 41 days leaves the window, NOW - 13 days moves to the prior weeks, NOW + 1 day enters.
    const mostSeatsLeave = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, mostSeatsLeave.id, NOW, { fromDaysAgo: 40, toDaysAgo: -1, activeUsers: 6, seats: 10, keyEvents: 12 });
    await addUsage(db, mostSeatsLeave.id, NOW, { fromDaysAgo: 41, toDaysAgo: 41, activeUsers: 9, seats: 12 });
    const allLeave = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, allLeave.id, NOW, { fromDaysAgo: 41, toDaysAgo: 41, activeUsers: 5, seats: 5 });
    await addTouch(db, allLeave.id, NOW, 3);
    const enters = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, enters.id, NOW, { fromDaysAgo: -1, toDaysAgo: -1, activeUsers: 3, seats: 4 });
    // The same seats every day: the day that leaves takes none of them away.
    const sameSeats = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, sameSeats.id, NOW, { fromDaysAgo: 41, toDaysAgo: -1, activeUsers: 5, seats: 7 });
    const moves = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, moves.id, NOW, { fromDaysAgo: 20, toDaysAgo: -1, activeUsers: 4, seats: 8, keyEvents: 3 });
    await addUsage(db, moves.id, NOW, { fromDaysAgo: 13, toDaysAgo: 13, activeUsers: 8, seats: 8, keyEvents: 20 });

    await recomputeHealth(db, { now: NOW });
    expect(await kept(db)).toMatchObject({ asOf: '2026-11-25' });
    await recomputeHealth(db, { now: nextDay });
    const rolled = await kept(db);
    expect(rolled).toMatchObject({ asOf: '2026-11-26' });
    const sums = async (generation: number | undefined) =>
      new Map([...(await windowsOf(db, generation))].map(([id, { generation: _generation, ...row }]) => [id, row]));
    const rolledSums = await sums(rolled?.generation);
    expect(rolledSums.get(moves.id)).toMatchObject({ sumRecentUsers: 4 * 14, recentDays: 14, sumPriorUsers: 4 * 7 + 8, priorDays: 8, sumRecentKeyEvents: 3 * 14 });
    expect(rolledSums.get(mostSeatsLeave.id)).toMatchObject({ seats: 10, recentDays: 14, priorDays: 28 });
    expect(rolledSums.get(sameSeats.id)).toMatchObject({ seats: 7, seatsDay: '2026-11-26', recentDays: 14, priorDays: 28 });
    expect(rolledSums.get(enters.id)).toMatchObject({ sumRecentUsers: 3, recentDays: 1, priorDays: 0 });
    expect(rolledSums.has(allLeave.id)).toBe(false);
    const health = await healthOf(db);

    await db.delete(usageWindowState);
    const fresh = await recomputeHealth(db, { now: nextDay });
    expect(fresh).toMatchObject({ historyRows: 0, rowsWritten: 0 });
    expect(await sums((await kept(db))?.generation)).toEqual(rolledSums);
    expect(await healthOf(db)).toEqual(health);
  });

  it('scores every account the same from kept windows as from usage_daily itself', async () => {
    const { db } = database;
    await recomputeHealth(db, { now: at(4) });
    const before = await saidHealthRows(db);
    // Dropping the state makes the next recompute aggregate from usage_daily; it must find nothing to change.
    await db.delete(usageWindowState);
    const fresh = await recomputeHealth(db, { now: at(4) });
    expect(fresh.historyRows).toBe(0);
    expect(fresh.rowsWritten).toBe(0);
    const after = await saidHealthRows(db);
    expect(after).toEqual(expect.arrayContaining(before));
    expect(after).toHaveLength(before.length);
  });

  it('aggregates anew as of another day, and after usage_daily was emptied', async () => {
    const { db } = database;
    await recomputeHealth(db, { now: at(5) });
    await recomputeHealth(db, { now: new Date(NOW.getTime() + DAY_MS) });
    expect(await kept(db)).toMatchObject({ asOf: '2026-11-26' });

    // Its own database: emptying usage_daily here would take every other test's usage with it.
    const own = await createTestDatabase();
    try {
      const account = await createAccount(own.db, { stageKey: 'mature_adoption' });
      await addUsage(own.db, account.id, NOW, { fromDaysAgo: 5, toDaysAgo: 0, activeUsers: 4, seats: 8 });
      await addTicket(own.db, account.id, NOW, { severity: 'low', openedDaysAgo: 1 });
      await recomputeHealth(own.db, { now: NOW });
      expect(await kept(own.db)).not.toBeNull();
      await own.db.execute(sql`truncate usage_daily`);
      expect(await kept(own.db)).toBeNull();
      await recomputeHealth(own.db, { now: NOW });
      const health = await storedHealthOf(own.db, account.id);
      expect(health?.components?.usage.score).toBeNull();
    } finally {
      await own.destroy();
    }
  });
});

describe('signals kept between recomputes', () => {
  const HOUR_MS = 3_600_000;
  const at = (hours: number) => new Date(NOW.getTime() + hours * HOUR_MS);
  const healthRows = (db: TestDatabase['db']) => saidHealthRows(db);

  it('scores every account the same from kept signals as from the signal tables, as tickets age and answers leave the year', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 5 });
    // 30 days old 6 hours after NOW: from then on it costs its points twice.
    await addTicket(db, account.id, NOW, { severity: 'normal', openedDaysAgo: 29.75 });
    await addTicket(db, account.id, NOW, { severity: 'high', openedDaysAgo: 12, resolvedDaysAgo: -0.25 });
    await addSurvey(db, account.id, NOW, { score: 2, daysAgo: 364.8, email: 'leaving@acme.test', role: 'user' });
    await addSurvey(db, account.id, NOW, { score: 8, daysAgo: 30, email: 'staying@acme.test', role: 'champion' });
    await addSurvey(db, account.id, NOW, { score: 6, daysAgo: 3, email: 'recent@acme.test', role: 'user' });
    await addTouch(db, account.id, NOW, 20);

    await recomputeHealth(db, { now: NOW });
    expect((await db.select().from(healthSignals).where(eq(healthSignals.accountId, account.id)))[0]).toMatchObject({ openCount: 3, urgentCount: 1, highCount: 1 });
    // Hours later: the ticket resolved, the 30 days passed and the old answer left the year in between.
    for (const hours of [2, 5, 7]) {
      await recomputeHealth(db, { now: at(hours) });
      const kept = await healthRows(db);
      await db.delete(healthSignals);
      const fresh = await recomputeHealth(db, { now: at(hours) });
      expect(fresh).toMatchObject({ historyRows: 0, rowsWritten: 0 });
      expect(await healthRows(db)).toEqual(expect.arrayContaining(kept));
    }
    expect((await scoreOf(account.id)).components?.nps.detail).toBe('2 respondents in the last year, recent answers weigh more');
  });

  it('aggregates anew the signals of the accounts written, by any writer, and keeps the others', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTouch(db, account.id, NOW, 2);
    await recomputeHealth(db, { now: at(8) });
    const others = (await db.select().from(healthSignals)).filter((row) => row.accountId !== account.id);
    expect((await scoreOf(account.id)).components?.support.score).toBeNull();

    // A plain insert, not through the ingestion functions: the trigger records it all the same.
    await db.execute(sql`insert into tickets (account_id, severity, subject, opened_at) values (${account.id}, 'urgent', 'Down', ${daysBefore(NOW, 2).toISOString()})`);
    expect(await db.select().from(signalChanges)).toEqual([expect.objectContaining({ accountId: account.id })]);
    await recomputeHealth(db, { now: at(9) });
    const health = await scoreOf(account.id);
    expect(health.reasons[0]).toBe('1 open urgent ticket, oldest 2 days');
    expect(await db.select().from(signalChanges)).toEqual([]);
    const kept = await db.select().from(healthSignals);
    for (const row of others) expect(kept).toContainEqual(row);
  });
});

describe('at-risk list', () => {
  it('lists a CSM\'s at-risk, critical and fast-falling accounts, biggest drop first, with reasons and renewal date', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const make = (name: string) => createAccount(db, { name, stageKey: 'mature_adoption', csmId: csm.id, contractEnd: '2027-02-01' });
    const falling = await make('Falling Healthy');
    const atRisk = await make('At Risk');
    const critical = await make('Critical');
    const fine = await make('Fine');
    for (const account of [falling, fine]) await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 35 });
    await addTicket(db, atRisk.id, NOW, { severity: 'urgent', openedDaysAgo: 5 });
    await addTicket(db, critical.id, NOW, { severity: 'urgent', openedDaysAgo: 9 });
    await addTicket(db, critical.id, NOW, { severity: 'urgent', openedDaysAgo: 3 });
    const ids = [falling.id, atRisk.id, critical.id, fine.id];
    await recomputeHealth(db, { now: daysBefore(NOW, 2), accountIds: ids });
    // A quarter of a day old at NOW: 30.25 points off, 70 and still Healthy, but 30 down since yesterday.
    await addTicket(db, falling.id, NOW, { severity: 'urgent', openedDaysAgo: 1 / 4 });
    await recomputeHealth(db, { now: NOW, accountIds: ids });

    const list = await listAtRisk(db, { csmId: csm.id, reader: systemReader, now: NOW });
    expect(list.map((item) => [item.account.name, item.score, item.status, item.drop])).toEqual([
      ['Falling Healthy', 70, 'healthy', 30],
      ['Critical', 28, 'critical', 4],
      ['At Risk', 65, 'at_risk', 2],
    ]);
    expect(list[1]?.reasons[0]).toBe('2 open urgent tickets, oldest 9 days');
    expect(list[1]?.csm?.id).toBe(csm.id);
    expect(list[1]?.renewalDate).toBe('2027-02-01');
    expect(await listAtRisk(db, { csmId: csm.id, reader: systemReader, limit: 1 })).toHaveLength(1);
  });
});
