import { and, eq, like } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Db } from '../db/client.ts';
import { outbox, renewals } from '../db/schema.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { addTicket } from './support/signals.ts';
import { DAY_MS, isoDay } from '../domain/dates.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');
const later = (days: number) => new Date(NOW.getTime() + days * DAY_MS);

const database = useTestDatabase();

async function checkpointsOf(db: Db, accountId: string) {
  const rows = await db.select().from(outbox).where(and(eq(outbox.kind, 'renewal_checkpoint'), like(outbox.dedupeKey, `renewal_checkpoint:${accountId}:%`))).orderBy(outbox.id);
  return rows.map((row) => row.payload);
}

describe('renewals', () => {
  it('reminds the CSM at 180, 90 and 30 days before contract end, once each, and opens the window at 90', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { name: 'Renewing Co', stageKey: 'mature_adoption', csmId: csm.id, contractEnd: isoDay(later(170)) });
    const farOff = await createAccount(db, { stageKey: 'mature_adoption', contractEnd: isoDay(later(200)) });

    await runRenewals(db, { now: NOW });
    await runRenewals(db, { now: later(1) });
    let [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
    expect(renewal?.status).toBe('upcoming');
    expect(renewal?.windowOpensOn).toBe(isoDay(later(80)));
    // 200 days out is beyond the first checkpoint: nothing to track yet.
    expect(await db.select().from(renewals).where(eq(renewals.accountId, farOff.id))).toHaveLength(0);

    const inWindow = await runRenewals(db, { now: later(85) });
    expect(inWindow.opened).toBeGreaterThanOrEqual(1);
    [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
    expect(renewal?.status).toBe('open');
    await runRenewals(db, { now: later(145) });
    await runRenewals(db, { now: later(146) });

    const checkpoints = await checkpointsOf(db, account.id);
    expect(checkpoints.map((payload) => [payload.daysLeft, payload.reason])).toEqual([
      [170, `renewal of Renewing Co on ${isoDay(later(170))}, 170 days left (180-day checkpoint)`],
      [85, `renewal of Renewing Co on ${isoDay(later(170))}, 85 days left (90-day checkpoint)`],
      [25, `renewal of Renewing Co on ${isoDay(later(170))}, 25 days left (30-day checkpoint)`],
    ]);
    const targets = await db.select({ target: outbox.target }).from(outbox).where(like(outbox.dedupeKey, `renewal_checkpoint:${account.id}:%`));
    expect(new Set(targets.map((row) => row.target))).toEqual(new Set([`user:${csm.id}`]));
  });

  it('opens a renewal found inside the window at once, with only the checkpoint that applies', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption', contractEnd: isoDay(later(60)) });
    const result = await runRenewals(db, { now: NOW });
    expect(result.created).toBeGreaterThanOrEqual(1);
    const [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
    expect(renewal?.status).toBe('open');
    expect((await checkpointsOf(db, account.id)).map((payload) => payload.daysLeft)).toEqual([60]);
  });

  it('honours a wider renewal window', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption', contractEnd: isoDay(later(110)) });
    await runRenewals(db, { now: NOW, windowDays: 120 });
    const [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
    expect(renewal).toMatchObject({ status: 'open', windowOpensOn: isoDay(later(-10)) });
  });

  it('escalates to the at-risk channel when health is low inside the window, once per status', async () => {
    const { db } = database;
    const account = await createAccount(db, { name: 'Shaky Co', stageKey: 'mature_adoption', contractEnd: isoDay(later(40)) });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 5 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });

    const first = await runRenewals(db, { now: NOW });
    await runRenewals(db, { now: later(1) });
    expect(first.escalations).toBeGreaterThanOrEqual(1);

    const alerts = await db.select().from(outbox).where(like(outbox.dedupeKey, `alert:renewal_at_risk:${account.id}:%`));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.target).toBe('channel:at_risk');
    expect(alerts[0]?.payload.reason).toBe(`renewal of Shaky Co on ${isoDay(later(40))}, 40 days left, and health is At risk (65): 1 open urgent ticket, oldest 5 days`);
  });
});
