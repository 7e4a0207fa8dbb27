import { beforeAll, describe, expect, it } from 'vitest';
import type { Segment, User } from '../db/schema.ts';
import { getMetrics } from '../domain/metrics.ts';
import { getRetentionSeries } from '../domain/metrics/retention-series.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { createTask } from '../domain/plays/tasks.ts';
import { actorFromUser } from '../domain/actors.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { setHealth } from './support/health.ts';

// Every expected number is worked out by hand next to the ledger below. The series runs through 2026-03-20:
// January, February, and March up to the 20th.

const database = useTestDatabase();
const admin = { userId: null, role: 'admin', label: 'Test admin' } as const;
let manager: User;
let casey: User;
let managerToken: string;
let csmToken: string;
let client: ReturnType<typeof createGraphqlClient>;

type Change = [kind: 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation', cents: number, date: string];

async function ledgerAccount(name: string, segment: Segment, changes: Change[], csmId: string | null = null) {
  const account = await createAccount(database.db, { name, segment, csmId, stageKey: 'mature_adoption', arrCents: 120_000, enteredAt: new Date('2025-01-01T00:00:00Z') });
  for (const [kind, mrrDeltaCents, effectiveDate] of changes) {
    await recordRevenueChange(database.db, { accountId: account.id, kind, mrrDeltaCents, effectiveDate, actor: admin });
  }
  return account;
}

beforeAll(async () => {
  manager = await createUser(database.db, { role: 'manager' });
  casey = await createUser(database.db, { role: 'csm', name: 'Casey CSM' });
  managerToken = await createToken(database.db, 'manager', manager);
  csmToken = await createToken(database.db, 'csm', casey);
  client = createGraphqlClient(database.db);

  const a = await ledgerAccount('A', 'smb', [['new', 1000, '2025-12-01'], ['expansion', 500, '2026-02-10']], casey.id);
  await ledgerAccount('B', 'smb', [['new', 2000, '2025-11-01'], ['contraction', -500, '2026-01-15'], ['churn', -1500, '2026-03-05']]);
  await ledgerAccount('C', 'enterprise', [['new', 3000, '2026-02-01']]);
  await ledgerAccount('D', 'enterprise', [['new', 1000, '2025-06-01'], ['churn', -1000, '2025-12-15'], ['reactivation', 700, '2026-01-20']]);
  // Its expansion falls after `through`: not counted in March.
  await ledgerAccount('E', 'mid_market', [['new', 400, '2025-01-01'], ['expansion', 100, '2026-03-25']]);

  // Casey's book for the team view: A (at risk), and one healthy account; one overdue task and one due later.
  await setHealth(database.db, a.id, { score: 50, status: 'at_risk' });
  const healthy = await createAccount(database.db, { name: 'H', csmId: casey.id, stageKey: 'onboarding', arrCents: 80_000 });
  await setHealth(database.db, healthy.id, { score: 90, status: 'healthy' });
  const now = new Date();
  const caseyActor = actorFromUser(casey);
  await createTask(database.db, { accountId: a.id, title: 'Call the sponsor', dueOn: '2020-01-01', actor: caseyActor, now: new Date('2019-12-01T00:00:00Z') });
  await createTask(database.db, { accountId: healthy.id, title: 'Plan the QBR', dueOn: '2099-01-01', actor: caseyActor, now });
});

const through = '2026-03-20';

describe('the monthly retention series', () => {
  it('gives each month NRR, GRR and the movements worked out by hand, and the waterfall adds up', async () => {
    const series = await getRetentionSeries(database.db, { months: 3, through, actor: actorFromUser(manager) });
    expect(series).toMatchObject({ from: '2026-01-01', to: through, groupBy: null });
    expect(series.groups.map((group) => group.key)).toEqual(['all']);
    const [jan, feb, mar] = series.groups[0]?.months ?? [];
    // January: cohort A 1000→1000, B 2000→1500, E 400→400 (D starts at 0 and is reactivated: not in it).
    expect(jan).toMatchObject({ month: '2026-01-01', from: '2026-01-01', to: '2026-01-31', openingMrrCents: 3400, closingMrrCents: 3600 });
    expect(jan?.revenue).toMatchObject({ cohortAccounts: 3, startMrrCents: 3400, endMrrCents: 2900, retainedMrrCents: 2900, churnedLogos: 0 });
    expect(jan?.revenue).toMatchObject({ newMrrCents: 0, expansionMrrCents: 0, contractionMrrCents: 500, churnedMrrCents: 0, reactivationMrrCents: 700 });
    expect(jan?.revenue.nrr).toBeCloseTo(2900 / 3400, 10);
    expect(jan?.revenue.grr).toBeCloseTo(2900 / 3400, 10);
    // February: cohort A 1000→1500 (kept 1000), B 1500, D 700, E 400; C is new business (3000).
    expect(feb).toMatchObject({ month: '2026-02-01', to: '2026-02-28', openingMrrCents: 3600, closingMrrCents: 7100 });
    expect(feb?.revenue).toMatchObject({ cohortAccounts: 4, startMrrCents: 3600, endMrrCents: 4100, retainedMrrCents: 3600, newMrrCents: 3000, expansionMrrCents: 500 });
    expect(feb?.revenue.nrr).toBeCloseTo(4100 / 3600, 10);
    expect(feb?.revenue.grr).toBe(1);
    // March to the 20th: B churns its 1500 (a churned logo); E's expansion of the 25th is not counted yet.
    expect(mar).toMatchObject({ month: '2026-03-01', from: '2026-03-01', to: through, openingMrrCents: 7100, closingMrrCents: 5600 });
    expect(mar?.revenue).toMatchObject({ cohortAccounts: 5, startMrrCents: 7100, endMrrCents: 5600, retainedMrrCents: 5600, churnedLogos: 1, churnedMrrCents: 1500, expansionMrrCents: 0 });
    expect(mar?.revenue.nrr).toBeCloseTo(5600 / 7100, 10);
    expect(mar?.revenue.logoChurnRate).toBeCloseTo(1 / 5, 10);
    for (const month of [jan, feb, mar]) {
      const r = month?.revenue;
      expect((month?.openingMrrCents ?? 0) + (r?.newMrrCents ?? 0) + (r?.expansionMrrCents ?? 0) + (r?.reactivationMrrCents ?? 0) - (r?.contractionMrrCents ?? 0) - (r?.churnedMrrCents ?? 0)).toBe(month?.closingMrrCents);
    }
  });

  it('agrees month by month with the metrics of the same period', async () => {
    const series = await getRetentionSeries(database.db, { months: 3, through, actor: actorFromUser(manager) });
    for (const month of series.groups[0]?.months ?? []) {
      const metrics = await getMetrics(database.db, { from: month.from, to: month.to, actor: actorFromUser(manager) });
      expect({ month: month.month, revenue: month.revenue }).toEqual({ month: month.month, revenue: metrics.groups[0]?.revenue });
    }
  });

  it('splits by segment and by CSM, each group with every month', async () => {
    const bySegment = await getRetentionSeries(database.db, { months: 3, through, groupBy: 'segment', actor: actorFromUser(manager) });
    expect(bySegment.groups.map((group) => [group.key, group.label])).toEqual([
      ['enterprise', 'Enterprise'],
      ['mid_market', 'Mid-market'],
      ['smb', 'SMB'],
    ]);
    const feb = (key: string) => bySegment.groups.find((group) => group.key === key)?.months[1];
    // February, SMB: A 1000→1500 (kept 1000) and B 1500→1500.
    expect(feb('smb')?.revenue).toMatchObject({ cohortAccounts: 2, startMrrCents: 2500, endMrrCents: 3000, retainedMrrCents: 2500, nrr: 1.2, grr: 1 });
    // February, Enterprise: D 700→700 in the cohort; C's 3000 is new business.
    expect(feb('enterprise')).toMatchObject({ openingMrrCents: 700, closingMrrCents: 3700 });
    expect(feb('enterprise')?.revenue).toMatchObject({ cohortAccounts: 1, startMrrCents: 700, endMrrCents: 700, newMrrCents: 3000 });

    const byCsm = await getRetentionSeries(database.db, { months: 3, through, groupBy: 'csm', actor: actorFromUser(manager) });
    const caseyGroup = byCsm.groups.find((group) => group.key === casey.id);
    expect(caseyGroup?.label).toBe('Casey CSM');
    expect(caseyGroup?.months.map((month) => month.revenue.nrr)).toEqual([1, 1.5, 1]);
    expect(byCsm.groups.find((group) => group.key === 'unassigned')?.months[2]?.revenue).toMatchObject({ startMrrCents: 5600, endMrrCents: 4100 });
  });

  it('fills months before any revenue with zeros, with no NRR rather than a made-up one', async () => {
    const series = await getRetentionSeries(database.db, { months: 24, through, actor: actorFromUser(manager) });
    const months = series.groups[0]?.months ?? [];
    expect(months).toHaveLength(24);
    expect(months[0]).toMatchObject({ month: '2024-04-01', to: '2024-04-30', openingMrrCents: 0, closingMrrCents: 0 });
    expect(months[0]?.revenue).toMatchObject({ cohortAccounts: 0, nrr: null, grr: null });
    // January 2025: E's new business of the 1st.
    expect(months[9]).toMatchObject({ month: '2025-01-01', openingMrrCents: 0, closingMrrCents: 400 });
    expect(months[9]?.revenue.newMrrCents).toBe(400);
  });

  it('answers managers through GraphQL, and tells a CSM and a bad request what is wrong', async () => {
    const query = 'query ($months: Int, $through: Date) { retentionSeries(months: $months, through: $through) { from to groups { key months { month openingMrrCents closingMrrCents revenue { nrr grr } } } } }';
    const answer = await client.request(query, { months: 3, through }, managerToken);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data?.retentionSeries).toMatchObject({ from: '2026-01-01', to: through, groups: [{ key: 'all', months: [{ month: '2026-01-01' }, { month: '2026-02-01', revenue: { grr: 1 } }, { month: '2026-03-01', closingMrrCents: 5600 }] }] });

    const refused = await client.request(query, { months: 3, through }, csmToken);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body.errors?.[0]?.message).toMatch(/managers and admins/);

    const tooMany = await client.request(query, { months: 37 }, managerToken);
    expect(tooMany.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(tooMany.body.errors?.[0]?.message).toMatch(/at most 36 months/);
  });
});

describe('the team and the book at a glance', () => {
  it("gives each CSM their book, ARR, at-risk share and overdue tasks", async () => {
    const answer = await client.request('{ team { csm { name } accounts arrCents atRisk atRiskArrCents atRiskShare openTasks overdueTasks } }', {}, managerToken);
    expect(answer.body.errors).toBeUndefined();
    // Casey: A (120 000, at risk) and H (80 000, healthy); two open tasks, one of them overdue.
    expect(answer.body.data?.team).toEqual([
      { csm: { name: 'Casey CSM' }, accounts: 2, arrCents: 200_000, atRisk: 1, atRiskArrCents: 120_000, atRiskShare: 0.5, openTasks: 2, overdueTasks: 1 },
    ]);
    const refused = await client.request('{ team { accounts } }', {}, csmToken);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it("counts accounts and ARR by stage and health, for the whole book or one person's", async () => {
    const query = 'query ($ownerId: ID) { accountBreakdown(ownerId: $ownerId) { stage { key } status accounts arrCents } }';
    const all = await client.request(query, {}, managerToken);
    expect(all.body.errors).toBeUndefined();
    // Onboarding: H (healthy). Mature adoption: A (at risk) and B, C, D, E (no health yet).
    expect(all.body.data?.accountBreakdown).toEqual(
      expect.arrayContaining([
        { stage: { key: 'onboarding' }, status: 'healthy', accounts: 1, arrCents: 80_000 },
        { stage: { key: 'mature_adoption' }, status: 'at_risk', accounts: 1, arrCents: 120_000 },
        { stage: { key: 'mature_adoption' }, status: null, accounts: 4, arrCents: 480_000 },
      ]),
    );
    expect(all.body.data?.accountBreakdown).toHaveLength(3);
    const own = await client.request(query, { ownerId: casey.id }, csmToken);
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data?.accountBreakdown).toHaveLength(2);
  });
});
