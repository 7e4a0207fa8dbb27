import { beforeAll, describe, expect, it } from 'vitest';
import type { HealthComponents, HealthStatus, User } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { healthCalibration } from '../domain/health/calibration.ts';
import { moveAccountStage } from '../domain/lifecycle/moves.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { addHealthHistory } from './support/health.ts';

// Six accounts sampled weekly on 2026-01-05, 01-12, 01-19 and 01-26 (the end of each UTC day decides the status),
// with a 14-day horizon: a sampled day is followed by a churn or contraction on a day in (day, day + 14].
//
//   A  healthy from Jan 1 (usage 80, support 90, engagement 39: low); a critical point at exactly Jan 27 00:00 UTC,
//      the end of Jan 26, is not counted → 4 healthy days, nothing follows.
//   B  healthy Jan 1 (usage 80, support 90, engagement 40: not low); critical from Jan 10 (usage 20: low, support
//      50); churn in the ledger effective Jan 20. Jan 5 healthy (Jan 20 is past Jan 19); Jan 12 and 19 critical and
//      followed by the churn; Jan 26 churned → not sampled. 3 days.
//   C  at risk from Jan 1 (usage 30: low, support 60); moved to Churned Jan 27 10:00 UTC (no ledger entry). Jan 5, 12
//      not followed (Jan 27 > Jan 26); Jan 19 and 26 followed; still active at the end of Jan 26. 4 days.
//   D  at risk from Jan 1 (usage 70, support 30: low); contraction effective Jan 15: followed on Jan 5 and 12. 4 days.
//   E  first scored Jan 14 12:00 (healthy, usage 80, no support data) → Jan 19 and 26 only. 2 days.
//   F  insufficient data from Jan 1 (no component data); healthy at Jan 19 23:00 UTC (usage 75, support 60) →
//      Jan 5, 12 insufficient data; Jan 19, 26 healthy. 4 days.
//
// Account-days 4+3+4+4+2+4 = 21; followed by a churn: B 2 + C 2 = 4 → base churn rate 4/21; by a contraction: D 2.
//   healthy            A4 B1 E2 F2 = 9 days, 4 accounts, 0 churned, 0 contracted → rate 0, lift 0
//   at_risk            C4 D4 = 8 days, 2 accounts, 2 churned, 2 contracted → 0.25 and 0.25, lift 0.25 ÷ 4/21 = 21/16
//   critical           B2 = 2 days, 1 account, 2 churned → rate 1, lift 21/4
//   insufficient_data  F2 = 2 days, 1 account, 0 churned → rate 0, lift 0
// Low components (score < 40):
//   usage       B2 + C4 = 6 days, 2 accounts, 4 churned → 4/6, lift (4/6) ÷ (4/21) = 3.5; 0 contracted
//   support     D4 = 4 days, 1 account, 0 churned, 2 contracted → rate 0, lift 0, contraction 0.5
//   nps         never low (never any data) → 0 days, rates and lift null
//   engagement  A4 = 4 days, 1 account, 0 churned → rate 0, lift 0
// Churn events: B's ledger churn on Jan 20 and C's move on Jan 27 → 2: too few to conclude.

const database = useTestDatabase();
const admin = { userId: null, role: 'admin', label: 'Test admin' } as const;
let manager: User;
let managerToken: string;
let csmToken: string;
let client: ReturnType<typeof createGraphqlClient>;

type Scores = Partial<Record<keyof HealthComponents, number>>;
function components(scores: Scores): HealthComponents {
  const part = (score: number | undefined) => ({ score: score ?? null, weight: score === undefined ? 0 : 25, detail: '' });
  return { usage: part(scores.usage), support: part(scores.support), nps: part(scores.nps), engagement: part(scores.engagement) };
}
const at = (iso: string) => new Date(iso);
const point = (iso: string, status: HealthStatus, scores: Scores = {}) => ({ at: at(iso), status, score: status === 'insufficient_data' ? null : 50, components: components(scores) });

async function account(name: string) {
  return createAccount(database.db, { name, segment: 'smb', stageKey: 'mature_adoption', arrCents: 120_000, enteredAt: at('2025-06-01T00:00:00Z') });
}

beforeAll(async () => {
  manager = await createUser(database.db, { role: 'manager' });
  const csm = await createUser(database.db, { role: 'csm' });
  managerToken = await createToken(database.db, 'manager', manager);
  csmToken = await createToken(database.db, 'csm', csm);
  client = createGraphqlClient(database.db);
  const db = database.db;

  const a = await account('A');
  await addHealthHistory(db, a.id, [point('2026-01-01T09:00:00Z', 'healthy', { usage: 80, support: 90, engagement: 39 }), point('2026-01-27T00:00:00Z', 'critical', { usage: 10 })]);

  const b = await account('B');
  await addHealthHistory(db, b.id, [point('2026-01-01T09:00:00Z', 'healthy', { usage: 80, support: 90, engagement: 40 }), point('2026-01-10T09:00:00Z', 'critical', { usage: 20, support: 50 })]);
  await recordRevenueChange(db, { accountId: b.id, kind: 'new', mrrDeltaCents: 1000, effectiveDate: '2025-12-01', actor: admin });
  await recordRevenueChange(db, { accountId: b.id, kind: 'churn', mrrDeltaCents: -1000, effectiveDate: '2026-01-20', actor: admin });

  const c = await account('C');
  await addHealthHistory(db, c.id, [point('2026-01-01T09:00:00Z', 'at_risk', { usage: 30, support: 60 })]);
  await moveAccountStage(db, {
    accountId: c.id,
    toStage: 'churned',
    expectedVersion: c.version,
    actor: admin,
    source: 'import',
    reason: 'Left for a competitor',
    churnReasonKey: 'budget',
    occurredAt: at('2026-01-27T10:00:00Z'),
  });

  const d = await account('D');
  await addHealthHistory(db, d.id, [point('2026-01-01T09:00:00Z', 'at_risk', { usage: 70, support: 30 })]);
  await recordRevenueChange(db, { accountId: d.id, kind: 'new', mrrDeltaCents: 1000, effectiveDate: '2025-12-01', actor: admin });
  await recordRevenueChange(db, { accountId: d.id, kind: 'contraction', mrrDeltaCents: -300, effectiveDate: '2026-01-15', actor: admin });

  const e = await account('E');
  await addHealthHistory(db, e.id, [point('2026-01-14T12:00:00Z', 'healthy', { usage: 80 })]);

  const f = await account('F');
  await addHealthHistory(db, f.id, [point('2026-01-01T09:00:00Z', 'insufficient_data'), point('2026-01-19T23:00:00Z', 'healthy', { usage: 75, support: 60 })]);

  // Ten accounts, Critical on 2025-06-01 and churned on 2025-06-10: a sample of their own, far from the one above.
  for (let index = 0; index < 10; index += 1) {
    const gone = await account(`Gone ${index}`);
    await addHealthHistory(db, gone.id, [point('2025-06-01T09:00:00Z', 'critical', { usage: 5 })]);
    await recordRevenueChange(db, { accountId: gone.id, kind: 'new', mrrDeltaCents: 500, effectiveDate: '2025-05-01', actor: admin });
    await recordRevenueChange(db, { accountId: gone.id, kind: 'churn', mrrDeltaCents: -500, effectiveDate: '2025-06-10', actor: admin });
  }
});

const period = { from: '2026-01-05', to: '2026-01-26', horizonDays: 14, sample: 'weekly' } as const;

describe('the health calibration', () => {
  it('gives per status the account-days, accounts, churn and contraction rates and lift worked out by hand', async () => {
    const calibration = await healthCalibration(database.db, { reader: actorFromUser(manager), ...period });
    expect(calibration).toMatchObject({ from: '2026-01-05', to: '2026-01-26', horizonDays: 14, sample: 'weekly', sampledDays: 4, lowComponentScore: 40, churnEvents: 2 });
    expect(calibration.overall).toMatchObject({ accountDays: 21, accounts: 6, churnedDays: 4, contractedDays: 2, lift: 1 });
    expect(calibration.overall.churnRate).toBeCloseTo(4 / 21, 12);
    expect(calibration.overall.contractionRate).toBeCloseTo(2 / 21, 12);
    const status = (key: HealthStatus) => calibration.statuses.find((row) => row.status === key);
    expect(calibration.statuses.map((row) => row.status)).toEqual(['healthy', 'at_risk', 'critical', 'insufficient_data']);
    expect(status('healthy')).toMatchObject({ accountDays: 9, accounts: 4, churnedDays: 0, contractedDays: 0, churnRate: 0, contractionRate: 0, lift: 0 });
    expect(status('at_risk')).toMatchObject({ accountDays: 8, accounts: 2, churnedDays: 2, contractedDays: 2, churnRate: 0.25, contractionRate: 0.25 });
    expect(status('at_risk')?.lift).toBeCloseTo(21 / 16, 12);
    expect(status('critical')).toMatchObject({ accountDays: 2, accounts: 1, churnedDays: 2, contractedDays: 0, churnRate: 1, contractionRate: 0 });
    expect(status('critical')?.lift).toBeCloseTo(21 / 4, 12);
    expect(status('insufficient_data')).toMatchObject({ accountDays: 2, accounts: 1, churnedDays: 0, contractedDays: 0, churnRate: 0, contractionRate: 0, lift: 0 });
  });

  it('gives per component the account-days it was low and how often churn followed', async () => {
    const calibration = await healthCalibration(database.db, { reader: actorFromUser(manager), ...period });
    const component = (key: keyof HealthComponents) => calibration.components.find((row) => row.component === key);
    expect(calibration.components.map((row) => row.component)).toEqual(['usage', 'support', 'nps', 'engagement']);
    expect(component('usage')).toMatchObject({ accountDays: 6, accounts: 2, churnedDays: 4, contractedDays: 0, contractionRate: 0 });
    expect(component('usage')?.churnRate).toBeCloseTo(4 / 6, 12);
    expect(component('usage')?.lift).toBeCloseTo(3.5, 12);
    expect(component('support')).toMatchObject({ accountDays: 4, accounts: 1, churnedDays: 0, contractedDays: 2, churnRate: 0, contractionRate: 0.5, lift: 0 });
    expect(component('nps')).toMatchObject({ accountDays: 0, accounts: 0, churnedDays: 0, contractedDays: 0, churnRate: null, contractionRate: null, lift: null });
    expect(component('engagement')).toMatchObject({ accountDays: 4, accounts: 1, churnedDays: 0, contractedDays: 0, churnRate: 0, contractionRate: 0, lift: 0 });
  });

  it('says plainly when there are too few churns to conclude, and concludes with ten', async () => {
    const few = await healthCalibration(database.db, { reader: actorFromUser(manager), ...period });
    expect(few).toMatchObject({ conclusive: false, note: 'too few churns to conclude: 2' });
    // 2025-06-02: the ten Critical accounts, each followed by its churn of June 10; nobody else has a score yet.
    const enough = await healthCalibration(database.db, { reader: actorFromUser(manager), from: '2025-06-02', to: '2025-06-02', horizonDays: 14 });
    expect(enough).toMatchObject({ conclusive: true, note: null, churnEvents: 10, sampledDays: 1, sample: 'weekly' });
    expect(enough.overall).toMatchObject({ accountDays: 10, accounts: 10, churnedDays: 10, churnRate: 1, lift: 1 });
    expect(enough.statuses.find((row) => row.status === 'critical')).toMatchObject({ accountDays: 10, churnRate: 1, lift: 1 });
  });

  it('reads the last year through today when no period is given', async () => {
    const lastYear = await healthCalibration(database.db, { reader: actorFromUser(manager), horizonDays: 14, now: at('2026-01-26T12:00:00Z') });
    expect(lastYear).toMatchObject({ from: '2025-01-26', to: '2026-01-26', sample: 'weekly', sampledDays: 53 });
  });

  it('samples every day when asked: a churned account leaves the sample the day it churns', async () => {
    const daily = await healthCalibration(database.db, { reader: actorFromUser(manager), ...period, sample: 'daily' });
    expect(daily.sampledDays).toBe(22);
    // B: Jan 5..19 (15 days; churned Jan 20). It is critical Jan 10..19 (10 days), of which Jan 10..19 are within 14
    // days before Jan 20: all 10 followed.
    expect(daily.statuses.find((row) => row.status === 'critical')).toMatchObject({ accountDays: 10, accounts: 1, churnedDays: 10 });
  });

  it('answers managers through GraphQL, and tells a CSM and a bad request what is wrong', async () => {
    const query = `query ($from: Date!, $to: Date!, $horizonDays: Int, $sample: CalibrationSample) {
      healthCalibration(from: $from, to: $to, horizonDays: $horizonDays, sample: $sample) {
        sampledDays conclusive note churnEvents overall { accountDays churnRate lift }
        statuses { status accountDays accounts churnRate contractionRate lift }
        components { component accountDays churnedDays lift }
      }
    }`;
    const answer = await client.request(query, { from: period.from, to: period.to, horizonDays: 14 }, managerToken);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data?.healthCalibration).toMatchObject({
      sampledDays: 4,
      conclusive: false,
      note: 'too few churns to conclude: 2',
      churnEvents: 2,
      overall: { accountDays: 21, lift: 1 },
      statuses: [
        { status: 'healthy', accountDays: 9, accounts: 4, churnRate: 0 },
        { status: 'at_risk', accountDays: 8, accounts: 2, churnRate: 0.25, contractionRate: 0.25, lift: 1.3125 },
        { status: 'critical', accountDays: 2, churnRate: 1, lift: 5.25 },
        { status: 'insufficient_data', accountDays: 2 },
      ],
      components: [{ component: 'usage', accountDays: 6, churnedDays: 4, lift: 3.5 }, { component: 'support' }, { component: 'nps', lift: null }, { component: 'engagement' }],
    });

    const refused = await client.request(query, { from: period.from, to: period.to }, csmToken);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body.errors?.[0]?.message).toMatch(/managers and admins/);

    const bad = async (variables: Record<string, unknown>) => {
      const response = await client.request(query, variables, managerToken);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      return response.body.errors?.[0]?.message;
    };
    expect(await bad({ from: period.from, to: period.to, horizonDays: 6 })).toMatch(/horizonDays must be at least 7/);
    expect(await bad({ from: period.from, to: period.to, horizonDays: 366 })).toMatch(/horizonDays must be at most 365/);
    expect(await bad({ from: '2023-01-01', to: '2026-01-01' })).toMatch(/at most two years/);
    expect(await bad({ from: '2026-02-01', to: '2026-01-01' })).toMatch(/end on or after its first day/);
  });
});
