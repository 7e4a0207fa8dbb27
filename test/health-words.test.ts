import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { type HealthSummary, accountHealth, healthScores } from '../db/schema.ts';
import { systemReader } from '../domain/actors.ts';
import { healthCalibration } from '../domain/health/calibration.ts';
import { FACTS_VERSION } from '../domain/health/facts.ts';
import { getAccountHealth, getHealthSummariesByAccountIds } from '../domain/health/queries.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { healthComponents, healthReasons } from '../domain/health/words.ts';
import { isoDay } from '../domain/dates.ts';
import { fullListingSelection, listAccounts } from '../domain/accounts/listing.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount } from './support/factories.ts';
import { addHealthHistory, setHealth } from './support/health.ts';
import { addTicket, addTouch, addUsage, daysBefore } from './support/signals.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const admin = { userId: null, role: 'admin' as const, label: 'Test admin' };

const database = useTestDatabase();

describe('health said from its facts', () => {
  it('a recompute stores numbers, not words, in the current row and its history; readers still get the words', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10, keyEvents: 20 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 6, seats: 10, keyEvents: 12 });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 9 });
    await addTouch(db, account.id, NOW, 40);
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });

    const [stored] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, account.id));
    expect(stored).toMatchObject({ reasons: null, components: null });
    expect(stored?.facts?.[0]).toBe(FACTS_VERSION);
    const history = await db.select().from(healthScores).where(eq(healthScores.accountId, account.id));
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ reasons: null, components: null, facts: stored?.facts });

    const health = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    expect(health?.reasons).toEqual([
      'active users down 40% vs prior 4 weeks',
      '1 open urgent ticket, oldest 9 days',
      'no CSM touch in 40 days',
      'no NPS/CSAT data: scored on usage, support, engagement',
    ]);
    expect(health?.history.map((point) => point.reasons)).toEqual([health?.reasons]);
    // 40 of the 80 points of weight left without NPS data.
    expect(health?.components?.usage).toEqual({ score: 56, weight: 50, detail: '6 of 10 seats active (14-day average), -40% vs prior 4 weeks, 2.0 key events per active user a day' });
    expect(health?.components?.support.detail).toBe('1 open ticket, oldest 9 days');
    const [summary] = await getHealthSummariesByAccountIds(db, { accountIds: [account.id], reader: systemReader });
    expect(summary).toMatchObject({ reasons: health?.reasons, components: health?.components });
    // A listing that reads only the reasons, only the components, or every column says the same words.
    const selections: (keyof HealthSummary)[][] = [['score', 'reasons'], ['components'], [...(fullListingSelection.health || [])]];
    for (const columns of selections) {
      const page = await listAccounts(db, { reader: systemReader, first: 5, now: NOW, select: { ...fullListingSelection, health: columns } });
      const listed = page.rows.find((row) => row.account.id === account.id)?.health;
      if (columns.includes('reasons')) expect(listed?.reasons).toEqual(health?.reasons);
      if (columns.includes('components')) expect(listed?.components).toEqual(health?.components);
      expect(listed).not.toHaveProperty('facts');
    }
  });

  it('a score stored in words, before facts of this version were kept, reads as it was stored until a recompute stores its facts', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    const components = {
      usage: { score: 70, weight: 40, detail: 'stored usage words' },
      support: { score: 90, weight: 20, detail: 'stored support words' },
      nps: { score: null, weight: 0, detail: 'stored nps words' },
      engagement: { score: 50, weight: 40, detail: 'stored engagement words' },
    };
    // Facts of an earlier version are not said: their words are the stored ones.
    await setHealth(db, account.id, { score: 66, status: 'at_risk', reasons: ['said before facts were kept'], components, facts: [FACTS_VERSION - 1, 70] });
    await addHealthHistory(db, account.id, [{ at: daysBefore(NOW, 3), score: 66, status: 'at_risk', reasons: ['said before facts were kept'], components }]);
    const before = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    expect(before).toMatchObject({ reasons: ['said before facts were kept'], components });
    expect(before?.history.map((point) => point.reasons)).toEqual([['said before facts were kept']]);

    await addTicket(db, account.id, NOW, { severity: 'high', openedDaysAgo: 4 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    const after = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    expect(after?.reasons).toEqual(['1 open high-severity ticket, oldest 4 days', 'no usage or NPS/CSAT or engagement data: scored on support']);
    // The older point keeps its stored words beside the new one said from facts.
    expect(after?.history.map((point) => point.reasons)).toEqual([after?.reasons, ['said before facts were kept']]);
  });

  it('says nothing from facts of another version, and puts facts of this one into the words the API shows', () => {
    const stored = { stageName: null, npsWorstSaid: null, reasons: ['kept'], components: null };
    expect(healthReasons({ ...stored, facts: null })).toEqual(['kept']);
    expect(healthReasons({ ...stored, facts: [FACTS_VERSION + 1] })).toEqual(['kept']);
    // Nothing known about the account: the note alone, and each component left out.
    const nothing = [FACTS_VERSION, ...Array.from({ length: 30 }, () => null)];
    expect(healthReasons({ ...stored, facts: nothing })).toEqual(['not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches']);
    expect(healthComponents({ ...stored, facts: nothing })?.engagement).toEqual({ score: null, weight: 0, detail: 'no CSM touch and no stage SLA: not enough data for a score' });
  });

  it('calibrates on the low components of history written as facts', async () => {
    const { db } = database;
    const day = daysBefore(NOW, 10);
    const range = { reader: admin, from: isoDay(day), to: isoDay(day), sample: 'daily' as const };
    const lowUsageDays = async () => (await healthCalibration(db, range)).components.find((row) => row.component === 'usage')?.accountDays ?? 0;
    const before = await lowUsageDays();
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, day, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 1, seats: 20, keyEvents: 0 });
    await recomputeHealth(db, { now: day, accountIds: [account.id] });
    const [point] = await db.select().from(healthScores).where(eq(healthScores.accountId, account.id));
    expect(point?.components).toBeNull();
    expect(await lowUsageDays()).toBe(before + 1);
  });
});
