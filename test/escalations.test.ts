import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { outbox, users } from '../db/schema.ts';
import { queueDailyDigest } from '../domain/digest.ts';
import { queueOverdueHandoffs } from '../domain/escalations.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { createAccountWithHealth } from './support/health.ts';
import { DAY_MS } from '../domain/dates.ts';

const database = useTestDatabase();

async function reportsTo(personId: string, managerId: string) {
  await database.db.update(users).set({ managerId }).where(eq(users.id, personId));
}

async function targetsOf(kind: string) {
  const rows = await database.db.select().from(outbox).where(eq(outbox.kind, kind));
  return rows.map((row) => ({ target: row.target, payload: row.payload }));
}

describe('escalations follow reporting lines', () => {
  it("an overdue handoff goes to the CSM's manager, or to every manager when the CSM reports to nobody", async () => {
    const { db } = database;
    const ruth = await createUser(db, { role: 'manager', name: 'Ruth' });
    const omar = await createUser(db, { role: 'manager', name: 'Omar' });
    const ivy = await createUser(db, { role: 'csm', name: 'Ivy' });
    const noah = await createUser(db, { role: 'csm', name: 'Noah' });
    await reportsTo(ivy.id, ruth.id);
    const actor = { userId: null, role: 'integration', label: 'CRM' } as const;
    const closedWonAt = new Date(Date.now() - 10 * DAY_MS);
    const deal = (name: string, csmId: string) =>
      recordClosedWon(db, {
        opportunityId: `opp-${name}`,
        account: { externalId: `crm-${name}`, name, segment: 'smb', arrCents: 1_200_000 },
        csmId,
        closedWonAt,
        context: { goals: 'Go live', promises: null, stakeholders: null, risks: null },
        actor,
      });
    const managed = await deal('Managed Co', ivy.id);
    const unmanaged = await deal('Unmanaged Co', noah.id);
    if (!managed.handoff || !unmanaged.handoff) throw new Error('A new account was recorded as an existing customer: no handoff');

    expect(await queueOverdueHandoffs(db, { now: new Date() })).toEqual({ overdueHandoffs: 2 });
    const sent = await targetsOf('handoff_overdue');
    expect(sent.filter((row) => row.payload.handoffId === managed.handoff.id).map((row) => row.target)).toEqual([`user:${ruth.id}`]);
    expect(sent.filter((row) => row.payload.handoffId === unmanaged.handoff.id).map((row) => row.target).sort()).toEqual(
      [`user:${ruth.id}`, `user:${omar.id}`].sort(),
    );
  });

  it("an unacknowledged at-risk item goes to its CSM's manager only; items of CSMs without one go to every manager", async () => {
    const { db } = database;
    const [ruth] = await db.select().from(users).where(eq(users.name, 'Ruth'));
    const [ivy] = await db.select().from(users).where(eq(users.name, 'Ivy'));
    const [noah] = await db.select().from(users).where(eq(users.name, 'Noah'));
    if (!ruth || !ivy || !noah) throw new Error('people from the previous test are missing');
    const managers = await db.select().from(users).where(eq(users.role, 'manager'));
    const now = new Date('2026-11-25T09:00:00Z');
    const atRisk = (name: string, csmId: string) =>
      createAccountWithHealth(db, { name, csmId, stageKey: 'mature_adoption' }, { score: 30, status: 'critical', scoreDayAgo: 45, reasons: ['No logins'], computedAt: now });
    const ivys = await atRisk('Ivy Account', ivy.id);
    const noahs = await atRisk('Noah Account', noah.id);

    await queueDailyDigest(db, { now });
    expect(await queueDailyDigest(db, { now: new Date(now.getTime() + DAY_MS) })).toMatchObject({ escalated: 2 });
    const escalations = await targetsOf('at_risk_escalation');
    const accountsFor = (managerId: string) => escalations.find((row) => row.target === `user:${managerId}`)?.payload.accountIds;
    expect(accountsFor(ruth.id)).toEqual(expect.arrayContaining([ivys.id, noahs.id]));
    for (const manager of managers.filter((other) => other.id !== ruth.id)) expect(accountsFor(manager.id)).toEqual([noahs.id]);
  });
});
