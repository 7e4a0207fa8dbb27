import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { type Segment, type User, accounts } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { acceptHandoff, confirmHandoff, scheduleKickoff } from '../domain/handoffs/handoffs.ts';
import { moveAccountStage } from '../domain/lifecycle/moves.ts';
import { type MetricsGroup, getMetrics } from '../domain/metrics.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { recordFirstValue } from '../domain/signals.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { addTouch } from './support/signals.ts';

// Every expected number below is worked out by hand in the comments next to the data.

const database = useTestDatabase();
let manager: User;
const admin = { userId: null, role: 'admin', label: 'Test admin' } as const;

let casey: User;

async function ledgerAccount(
  name: string,
  segment: Segment,
  changes: [kind: 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation', cents: number, date: string][],
  csmId: string | null = null,
) {
  const account = await createAccount(database.db, { name, segment, csmId, stageKey: 'mature_adoption', enteredAt: new Date('2024-01-01T00:00:00Z') });
  for (const [kind, mrrDeltaCents, effectiveDate] of changes) {
    await recordRevenueChange(database.db, { accountId: account.id, kind, mrrDeltaCents, effectiveDate, actor: admin });
  }
  return account;
}

async function move(accountId: string, toStage: string, expectedVersion: number, at: string) {
  // Some fixture moves go backward, and every backward move needs a reason.
  await moveAccountStage(database.db, { accountId, toStage, expectedVersion, actor: admin, source: 'api', occurredAt: new Date(at), reason: 'Metrics fixture' });
}

beforeAll(async () => {
  manager = await createUser(database.db, { role: 'manager' });
  casey = await createUser(database.db, { role: 'csm', name: 'Casey CSM' });

  // Revenue, period 2026-01-01 … 2026-03-31.
  await ledgerAccount('A', 'smb', [['new', 1000, '2025-06-01'], ['expansion', 500, '2026-02-01']], casey.id); // start 1000, end 1500, kept 1000
  await ledgerAccount('B', 'smb', [['new', 2000, '2025-07-01'], ['contraction', -500, '2026-01-15']]); // start 2000, end 1500, kept 1500
  await ledgerAccount('C', 'enterprise', [['new', 3000, '2025-01-01'], ['churn', -3000, '2026-03-01']]); // start 3000, end 0: churned logo
  await ledgerAccount('D', 'enterprise', [['new', 4000, '2026-02-10']]); // new in the period: not in the cohort
  // Churned before the period, reactivated during it: start 0, so not in the cohort either.
  await ledgerAccount('E', 'enterprise', [['new', 1000, '2024-01-01'], ['churn', -1000, '2025-06-01'], ['reactivation', 1200, '2026-02-15']]);
  // In the cohort, churned and came back within the period: start 1000, end 800, kept 800, not a churned logo.
  await ledgerAccount('F', 'mid_market', [['new', 1000, '2025-01-01'], ['churn', -1000, '2026-01-10'], ['reactivation', 800, '2026-03-10']]);
  await ledgerAccount('G', 'mid_market', [['new', 500, '2025-01-01'], ['expansion', 999, '2026-04-05']]); // after the period: ignored

  // Stage history. Onboarding SLA 14 days, Implementation 45.
  const p = await createAccount(database.db, { name: 'P', stageKey: 'onboarding', enteredAt: new Date('2025-12-25T00:00:00Z') });
  await move(p.id, 'implementation', 1, '2026-01-04T00:00:00Z'); // onboarding stay 10 d, forward
  await move(p.id, 'onboarding', 2, '2026-01-14T00:00:00Z'); // implementation stay 10 d, backward
  await move(p.id, 'implementation', 3, '2026-02-13T00:00:00Z'); // onboarding stay 30 d (due 01-28: breach); implementation due 03-30: breach
  const q = await createAccount(database.db, { name: 'Q', stageKey: 'onboarding', enteredAt: new Date('2026-01-01T00:00:00Z') });
  await move(q.id, 'implementation', 1, '2026-01-21T00:00:00Z'); // onboarding stay 20 d (due 01-15: breach); implementation due 03-07: breach
  await createAccount(database.db, { name: 'R', stageKey: 'onboarding', enteredAt: new Date('2026-03-25T00:00:00Z') }); // due 04-08: outside

  // Handoffs, period 2026-06-01 … 2026-06-30, judged as of 2026-07-01.
  const ae = await createUser(database.db, { role: 'ae' });
  const csm = await createUser(database.db, { role: 'csm' });
  const crm = { userId: null, role: 'integration', label: 'crm' } as const;
  const close = (n: number, at: string) =>
    recordClosedWon(database.db, {
      opportunityId: `metrics-${n}`,
      account: { externalId: `metrics-${n}`, name: `H${n}`, segment: 'smb', arrCents: 100 },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(at),
      context: {},
      actor: crm,
    });
  const schedule = async (handoffId: string, scheduledAt: string, kickoffAt: string) => {
    await confirmHandoff(database.db, { handoffId, actor: actorFromUser(ae) });
    await acceptHandoff(database.db, { handoffId, actor: actorFromUser(csm) });
    await scheduleKickoff(database.db, { handoffId, actor: actorFromUser(csm), kickoffAt: new Date(kickoffAt), now: new Date(scheduledAt) });
  };
  const h1 = await close(1, '2026-06-01T00:00:00Z');
  if (!h1.handoff) throw new Error('A new account was recorded as an existing customer: no handoff');
  await schedule(h1.handoff.id, '2026-06-02T00:00:00Z', '2026-06-03T00:00:00Z'); // scheduled before due 06-04; 48 h to kickoff
  const h2 = await close(2, '2026-06-10T00:00:00Z');
  if (!h2.handoff) throw new Error('A new account was recorded as an existing customer: no handoff');
  await schedule(h2.handoff.id, '2026-06-15T00:00:00Z', '2026-06-16T00:00:00Z'); // scheduled after due 06-13; 144 h
  await close(3, '2026-06-20T00:00:00Z'); // still pending, due 06-23 has passed: decided, missed
  await close(4, '2026-06-30T12:00:00Z'); // pending, due 07-03: not decided yet
  await recordFirstValue(database.db, { accountId: h1.account.id, reachedAt: new Date('2026-06-11T00:00:00Z'), actor: admin }); // 10 days
  await recordFirstValue(database.db, { accountId: h2.account.id, reachedAt: new Date('2026-06-30T00:00:00Z'), actor: admin }); // 20 days
});

function only(groups: MetricsGroup[], key: string): MetricsGroup {
  const group = groups.find((candidate) => candidate.key === key);
  if (!group) throw new Error(`no group ${key} in ${groups.map((candidate) => candidate.key).join(', ')}`);
  return group;
}

describe('revenue retention', () => {
  it('NRR and GRR over the cohort with MRR at the start, excluding new and reactivated logos', async () => {
    const metrics = await getMetrics(database.db, { from: '2026-01-01', to: '2026-03-31', actor: actorFromUser(manager) });
    const revenue = only(metrics.groups, 'all').revenue;
    // Cohort A, B, C, F, G: start 1000+2000+3000+1000+500 = 7500; end 1500+1500+0+800+500 = 4300; kept 1000+1500+0+800+500 = 3800.
    expect(revenue).toMatchObject({
      cohortAccounts: 5,
      startMrrCents: 7500,
      endMrrCents: 4300,
      retainedMrrCents: 3800,
      churnedLogos: 1,
      newMrrCents: 4000,
      expansionMrrCents: 500,
      contractionMrrCents: 500,
      churnedMrrCents: 4000,
      reactivationMrrCents: 2000,
    });
    expect(revenue.nrr).toBeCloseTo(4300 / 7500, 10);
    expect(revenue.grr).toBeCloseTo(3800 / 7500, 10);
    expect(revenue.logoChurnRate).toBeCloseTo(1 / 5, 10);
  });

  it('grouped by segment, GRR stays at or under 100% even where NRR reaches it', async () => {
    const metrics = await getMetrics(database.db, { from: '2026-01-01', to: '2026-03-31', groupBy: 'segment', actor: actorFromUser(manager) });
    expect(metrics.groups.map((group) => group.key)).toEqual(['enterprise', 'mid_market', 'smb']);
    const smb = only(metrics.groups, 'smb').revenue; // A + B: start 3000, end 3000, kept 2500
    expect(smb.nrr).toBeCloseTo(1, 10);
    expect(smb.grr).toBeCloseTo(2500 / 3000, 10);
    const enterprise = only(metrics.groups, 'enterprise').revenue; // cohort is C only: D is new, E reactivated
    expect(enterprise).toMatchObject({ cohortAccounts: 1, startMrrCents: 3000, endMrrCents: 0, churnedLogos: 1, newMrrCents: 4000, reactivationMrrCents: 1200 });
    expect(enterprise.nrr).toBe(0);
    const midMarket = only(metrics.groups, 'mid_market').revenue; // F + G: start 1500, end 1300, kept 1300
    expect(midMarket.nrr).toBeCloseTo(1300 / 1500, 10);
    expect(midMarket.grr).toBeCloseTo(1300 / 1500, 10);
    expect(midMarket.churnedLogos).toBe(0);
  });

  it('a period with no revenue before it has no cohort, so NRR and GRR are null rather than a division by zero', async () => {
    const metrics = await getMetrics(database.db, { from: '2023-01-01', to: '2023-12-31', actor: actorFromUser(manager) });
    expect(only(metrics.groups, 'all').revenue).toMatchObject({ cohortAccounts: 0, nrr: null, grr: null, logoChurnRate: null });
  });
});

describe('stage funnel', () => {
  it('counts entries, advances, backward moves, time in stage and SLA breaches', async () => {
    const metrics = await getMetrics(database.db, { from: '2026-01-01', to: '2026-03-31', actor: actorFromUser(manager) });
    const funnel = only(metrics.groups, 'all').funnel;
    const onboarding = funnel.find((row) => row.stage.key === 'onboarding');
    // Entered: P back on 01-14, Q on 01-01, R on 03-25. Stays ended: 10, 30, 20 days, all forward.
    // p90 of [10, 20, 30] interpolates at rank 1.8: 20 + 0.8 × 10 = 28. Breaches: P's second stay, Q.
    expect(onboarding).toMatchObject({ entered: 3, advanced: 3, movedBack: 0, medianDaysInStage: 20, slaBreaches: 2 });
    expect(onboarding?.p90DaysInStage).toBeCloseTo(28, 10);
    const implementation = funnel.find((row) => row.stage.key === 'implementation');
    // Entered: P twice, Q once. P's first stay (10 days) ended backward. Breaches: P's second stay and Q, due in the period.
    expect(implementation).toMatchObject({ entered: 3, advanced: 0, movedBack: 1, medianDaysInStage: 10, p90DaysInStage: 10, slaBreaches: 2 });
    expect(funnel.map((row) => row.stage.key)).toEqual(['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption', 'churned']);
  });
});

describe('handoff SLA and time to first value', () => {
  it('median hours closed-won to kickoff, share scheduled within SLA, median days to first value', async () => {
    const metrics = await getMetrics(database.db, {
      from: '2026-06-01',
      to: '2026-06-30',
      actor: actorFromUser(manager),
      asOf: new Date('2026-07-01T00:00:00Z'),
    });
    const group = only(metrics.groups, 'all');
    // Kickoffs after 48 h and 144 h: median 96. Decided: H1, H2 (scheduled), H3 (past due); within: H1 only.
    expect(group.handoffSla).toMatchObject({ handoffs: 4, medianHoursToKickoff: 96, decided: 3, withinSla: 1 });
    expect(group.handoffSla.shareWithinSla).toBeCloseTo(1 / 3, 10);
    // First value after 10 and 20 days: median 15; 2 of the 4 accounts reached it.
    expect(group.timeToFirstValue).toEqual({ accounts: 4, reached: 2, medianDays: 15 });
  });
});

describe('accounts by health', () => {
  it('counts accounts without customer signal apart from the scored ones, and leaves them out of the average score', async () => {
    const { db } = database;
    const asOf = new Date('2026-07-01T00:00:00Z');
    const [a] = await db.select().from(accounts).where(eq(accounts.name, 'A'));
    if (!a) throw new Error('no account A');
    await addTouch(db, a.id, asOf, 1); // A's only signal: a touch yesterday, Healthy 100; the others have none
    const before = only((await getMetrics(db, { from: '2026-06-01', to: '2026-06-30', actor: actorFromUser(manager) })).groups, 'all').health;
    expect(before).toMatchObject({ healthy: 0, insufficientData: 0, averageScore: null });
    expect(before.notComputed).toBe(before.accounts);

    await recomputeHealth(db, { now: asOf });
    const api = createGraphqlClient(db);
    const response = await api.request(
      '{ metrics(from: "2026-06-01", to: "2026-06-30") { groups { key health { accounts healthy atRisk critical insufficientData notComputed averageScore } } } }',
      {},
      await createToken(db, 'manager', manager),
    );
    expect(response.body.errors).toBeUndefined();
    const [all] = (response.body.data?.metrics as { groups: { key: string; health: Record<string, number | null> }[] }).groups;
    expect(all?.health).toEqual({ accounts: before.accounts, healthy: 1, atRisk: 0, critical: 0, insufficientData: before.accounts - 1, notComputed: 0, averageScore: 100 });
  });
});

describe('metrics through GraphQL', () => {
  it('a manager reads NRR grouped by CSM; a bad period names the field', async () => {
    const api = createGraphqlClient(database.db);
    const token = await createToken(database.db, 'manager', manager);
    const response = await api.request(
      '{ metrics(from: "2026-01-01", to: "2026-03-31", groupBy: csm) { groupBy groups { key label revenue { nrr grr cohortAccounts } } } }',
      {},
      token,
    );
    expect(response.body.errors).toBeUndefined();
    const data = response.body.data as {
      metrics: { groupBy: string; groups: { key: string; label: string; revenue: { nrr: number | null; cohortAccounts: number } }[] };
    };
    expect(data.metrics.groupBy).toBe('csm');
    // Casey has A only: 1500 / 1000. Everyone else's cohort: start 6500, end 2800.
    expect(data.metrics.groups.find((group) => group.key === casey.id)).toEqual({ key: casey.id, label: 'Casey CSM', revenue: { nrr: 1.5, grr: 1, cohortAccounts: 1 } });
    const unassigned = data.metrics.groups.find((group) => group.key === 'unassigned');
    expect(unassigned).toMatchObject({ label: 'No CSM', revenue: { cohortAccounts: 4 } });
    expect(unassigned?.revenue.nrr).toBeCloseTo(2800 / 6500, 10);
    const backwards = await api.request('{ metrics(from: "2026-03-31", to: "2026-01-01") { from } }', {}, token);
    expect(backwards.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'to' } });
    expect(backwards.body.errors?.[0]?.message).toMatch(/must end on or after its first day/);
  });
});
