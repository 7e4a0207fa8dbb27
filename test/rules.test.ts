import { and, eq, like } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Db } from '../db/client.ts';
import { accounts, handoffs, outbox, ruleFirings, stageTransitions } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { moveAccountStage } from '../domain/lifecycle/moves.ts';
import { runRules } from '../domain/rules.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { addFirstValue, addTicket, addUsage, daysBefore } from './support/signals.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');

const database = useTestDatabase();

async function firingsOf(db: Db, accountId: string, rule: string) {
  return db.select().from(ruleFirings).where(and(eq(ruleFirings.accountId, accountId), eq(ruleFirings.rule, rule)));
}

async function alertsOf(db: Db, accountId: string, rule: string) {
  return db.select().from(outbox).where(like(outbox.dedupeKey, `alert:${rule}:${accountId}:%`));
}

/** Runs the rules twice: whatever fired the first time must not fire again. */
async function runTwice(db: Db, now: Date = NOW) {
  await runRules(db, { now });
  await runRules(db, { now: new Date(now.getTime() + 3_600_000) });
}

describe('rules over signals', () => {
  it('alerts the CSM once when an onboarding account has no key action within 7 days', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const silent = await createAccount(db, { stageKey: 'onboarding', csmId: csm.id, enteredAt: daysBefore(NOW, 9) });
    const active = await createAccount(db, { stageKey: 'onboarding', csmId: csm.id, enteredAt: daysBefore(NOW, 9) });
    await addUsage(db, active.id, NOW, { fromDaysAgo: 8, toDaysAgo: 8, activeUsers: 2, seats: 10, keyEvents: 1 });

    await runTwice(db);

    const [firing, ...more] = await firingsOf(db, silent.id, 'no_first_key_action');
    expect(more).toHaveLength(0);
    expect(firing?.reason).toBe('no key action in the 9 days since onboarding started on 2026-11-16');
    const alerts = await alertsOf(db, silent.id, 'no_first_key_action');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'alert', target: `user:${csm.id}` });
    expect(alerts[0]?.payload).toEqual({ accountId: silent.id, rule: 'no_first_key_action', reason: firing?.reason });
    expect(await firingsOf(db, active.id, 'no_first_key_action')).toHaveLength(0);
  });

  it('alerts the at-risk channel once a week when usage of an account without a CSM drops past 30%', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 6, seats: 10 });
    const steady = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, steady.id, NOW, { fromDaysAgo: 41, toDaysAgo: 0, activeUsers: 8, seats: 10 });

    await runTwice(db);

    const firings = await firingsOf(db, account.id, 'usage_drop');
    expect(firings.map((firing) => [firing.occasion, firing.reason])).toEqual([['2026-W48', 'active users down 40% vs prior 4 weeks (6 a day, from 10)']]);
    const alerts = await alertsOf(db, account.id, 'usage_drop');
    expect(alerts.map((row) => [row.dedupeKey, row.target])).toEqual([[`alert:usage_drop:${account.id}:2026-W48`, 'channel:at_risk']]);
    expect(await firingsOf(db, steady.id, 'usage_drop')).toHaveLength(0);
  });

  it('alerts once when the health status worsens, saying why', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 30 });
    await recomputeHealth(db, { now: daysBefore(NOW, 1), accountIds: [account.id] });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 9 });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 3 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });

    await runTwice(db);

    const firings = await firingsOf(db, account.id, 'health_worsened');
    expect(firings.map((firing) => firing.reason)).toEqual(['health fell from Healthy (100) to Critical (28): 2 open urgent tickets, oldest 9 days']);
    expect(await alertsOf(db, account.id, 'health_worsened')).toHaveLength(1);
  });

  it('flags rising advanced-feature use as an expansion signal, once a month', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 41, toDaysAgo: 14, activeUsers: 10, seats: 10, advancedEvents: 0 });
    await addUsage(db, account.id, NOW, { fromDaysAgo: 13, toDaysAgo: 0, activeUsers: 10, seats: 10, advancedEvents: 3 });

    await runTwice(db);

    const firings = await firingsOf(db, account.id, 'expansion_signal');
    expect(firings.map((firing) => [firing.occasion, firing.reason])).toEqual([
      ['2026-11', 'advanced features taken up: 42 uses in the last 14 days, none in the 4 weeks before'],
    ]);
    expect(await alertsOf(db, account.id, 'expansion_signal')).toHaveLength(1);
  });

  it('alerts once when an account stays in a stage past its SLA', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'implementation', enteredAt: daysBefore(NOW, 60) });
    const onTime = await createAccount(db, { stageKey: 'implementation', enteredAt: daysBefore(NOW, 10) });

    await runTwice(db);

    const firings = await firingsOf(db, account.id, 'stage_sla');
    expect(firings.map((firing) => firing.reason)).toEqual(['60 days in Implementation, past its 45-day SLA']);
    expect(await alertsOf(db, account.id, 'stage_sla')).toHaveLength(1);
    expect(await firingsOf(db, onTime.id, 'stage_sla')).toHaveLength(0);
  });

  it('tells the handoffs channel once when a handoff is not confirmed or accepted within its SLA', async () => {
    const { db } = database;
    const late = await createAccount(db, { name: 'Late Handoff Co', stageKey: 'pre_onboarding' });
    const accepted = await createAccount(db, { stageKey: 'pre_onboarding' });
    const [pending] = await db
      .insert(handoffs)
      .values({ opportunityId: `opp-${late.id}`, accountId: late.id, closedWonAt: daysBefore(NOW, 5), slaDueAt: daysBefore(NOW, 2) })
      .returning();
    await db.insert(handoffs).values({
      opportunityId: `opp-${accepted.id}`,
      accountId: accepted.id,
      closedWonAt: daysBefore(NOW, 5),
      slaDueAt: daysBefore(NOW, 2),
      status: 'accepted',
    });

    await runTwice(db);

    const firings = await firingsOf(db, late.id, 'handoff_sla');
    expect(firings.map((firing) => [firing.occasion, firing.reason])).toEqual([
      [pending?.id, 'handoff of Late Handoff Co not confirmed by the account executive; it was due 2026-11-23'],
    ]);
    const alerts = await alertsOf(db, late.id, 'handoff_sla');
    expect(alerts.map((row) => row.target)).toEqual(['channel:handoffs']);
    expect(await firingsOf(db, accepted.id, 'handoff_sla')).toHaveLength(0);
  });

  it('moves an account from Implementation to Early adoption when first value is reached, recorded as a rule', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { stageKey: 'implementation', csmId: csm.id, enteredAt: daysBefore(NOW, 10) });
    await addFirstValue(db, account.id, NOW, { daysAgo: 1, description: 'first report shipped' });

    await runTwice(db);

    const [moved] = await db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(moved?.stageKey).toBe('early_adoption');
    const transitions = await db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id));
    const ruleMove = transitions.filter((transition) => transition.source === 'rule');
    expect(ruleMove).toHaveLength(1);
    expect(ruleMove[0]).toMatchObject({
      fromStage: 'implementation',
      toStage: 'early_adoption',
      actorLabel: 'Rule: first value reached',
      reason: 'first value reached: first report shipped; moved from Implementation to Early adoption',
    });
    const alerts = await alertsOf(db, account.id, 'first_value');
    expect(alerts.map((row) => row.target)).toEqual([`user:${csm.id}`]);
  });

  it('a CSM who moved the account back after the rule moved it forward keeps it in Implementation on later runs', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { stageKey: 'implementation', csmId: csm.id, enteredAt: daysBefore(NOW, 10) });
    await addFirstValue(db, account.id, NOW, { daysAgo: 3, description: 'first report shipped' });
    await runRules(db, { now: daysBefore(NOW, 2) });
    const [forward] = await db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(forward).toMatchObject({ stageKey: 'early_adoption', version: 2 });

    await moveAccountStage(db, {
      accountId: account.id,
      toStage: 'implementation',
      expectedVersion: 2,
      actor: actorFromUser(csm),
      source: 'slack',
      reason: 'The report runs only in their sandbox; not live yet.',
      occurredAt: daysBefore(NOW, 1),
    });
    await runTwice(db);

    const [after] = await db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(after).toMatchObject({ stageKey: 'implementation', version: 3 });
    const history = await db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id)).orderBy(stageTransitions.accountVersion);
    expect(history.map((row) => [row.toStage, row.source])).toEqual([
      ['implementation', 'import'],
      ['early_adoption', 'rule'],
      ['implementation', 'slack'],
    ]);
    expect(await firingsOf(db, account.id, 'first_value')).toHaveLength(1);
  });

  it('does not move an account forward that a person moved back to Implementation after first value was reached, nor record a firing', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { stageKey: 'early_adoption', csmId: csm.id, enteredAt: daysBefore(NOW, 20) });
    await addFirstValue(db, account.id, NOW, { daysAgo: 3, description: 'first report shipped' });
    await moveAccountStage(db, {
      accountId: account.id,
      toStage: 'implementation',
      expectedVersion: 1,
      actor: actorFromUser(csm),
      source: 'slack',
      reason: 'Rollout stalled after the pilot team left.',
      occurredAt: daysBefore(NOW, 2),
    });
    // A move into Implementation made before first value was reached is no decision against it: the rule still acts.
    const earlier = await createAccount(db, { stageKey: 'onboarding', csmId: csm.id, enteredAt: daysBefore(NOW, 20) });
    await moveAccountStage(db, { accountId: earlier.id, toStage: 'implementation', expectedVersion: 1, actor: actorFromUser(csm), source: 'slack', occurredAt: daysBefore(NOW, 5) });
    await addFirstValue(db, earlier.id, NOW, { daysAgo: 3, description: 'first report shipped' });

    await runTwice(db);

    const [kept] = await db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(kept?.stageKey).toBe('implementation');
    expect(await firingsOf(db, account.id, 'first_value')).toHaveLength(0);
    expect(await alertsOf(db, account.id, 'first_value')).toHaveLength(0);
    const [advanced] = await db.select().from(accounts).where(eq(accounts.id, earlier.id));
    expect(advanced?.stageKey).toBe('early_adoption');
  });
});
