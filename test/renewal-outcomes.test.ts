import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Account, type Renewal, type User, accounts, renewalOutcomes, renewals, revenueChanges, stageTransitions } from '../db/schema.ts';
import { type Actor, actorFromUser } from '../domain/actors.ts';
import { ForbiddenError } from '../domain/errors.ts';
import { getMetrics } from '../domain/metrics.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { callRenewal } from '../domain/renewals/calls.ts';
import { getRenewalForecast } from '../domain/renewals/forecast.ts';
import { correctRenewalOutcome, recordRenewalOutcome } from '../domain/renewals/outcomes.ts';
import { openDueRenewals } from '../domain/renewals/window.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { setHealth } from './support/health.ts';

// Every expected number below is worked out by hand in the comments next to the data. ARR = 12 × MRR throughout.

const database = useTestDatabase();
const admin: Actor = { userId: null, role: 'admin', label: 'Test admin' };
let csm: User;
let ae: User;
let manager: User;
const book = new Map<string, { account: Account; renewal: Renewal }>();

async function renewalAccount(name: string, mrrCents: number, contractEnd: string): Promise<{ account: Account; renewal: Renewal }> {
  const account = await createAccount(database.db, { name, csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption', arrCents: mrrCents * 12, contractEnd });
  await recordRevenueChange(database.db, { accountId: account.id, kind: 'new', mrrDeltaCents: mrrCents, effectiveDate: '2025-06-01', actor: admin });
  await openDueRenewals(database.db, { windowDays: 90, accountIds: [account.id] });
  const [renewal] = await database.db.select().from(renewals).where(and(eq(renewals.accountId, account.id), eq(renewals.contractEnd, contractEnd)));
  if (!renewal) throw new Error('no renewal');
  const entry = { account, renewal };
  book.set(name, entry);
  return entry;
}

const of = (name: string) => {
  const entry = book.get(name);
  if (!entry) throw new Error(name);
  return entry;
};

async function ledgerOf(accountId: string) {
  return database.db.select().from(revenueChanges).where(eq(revenueChanges.accountId, accountId)).orderBy(revenueChanges.effectiveDate);
}

beforeAll(async () => {
  csm = await createUser(database.db, { role: 'csm', name: 'Casey CSM' });
  ae = await createUser(database.db, { role: 'ae', name: 'Alex AE' });
  manager = await createUser(database.db, { role: 'manager', name: 'Morgan Manager' });
  // Up for renewal in March–June 2026:     MRR    ARR up
  await renewalAccount('Alder', 1000, '2026-03-31'); //  1000   12000
  await renewalAccount('Birch', 2000, '2026-04-30'); //  2000   24000
  await renewalAccount('Cedar', 3000, '2026-05-31'); //  3000   36000
  await renewalAccount('Dogwood', 4000, '2026-06-30'); // 4000   48000
  await renewalAccount('Elm', 5000, '2026-06-15'); //    5000   60000 (stays open)
  await renewalAccount('Fir', 1000, '2026-06-20'); //    1000   12000 (stays open)
  await renewalAccount('Gum', 2000, '2026-06-25'); //    2000   24000 (stays open, never called)
  await setHealth(database.db, of('Elm').account.id, { score: 82, status: 'healthy', components: null });
  await setHealth(database.db, of('Fir').account.id, { score: 35, status: 'at_risk', components: null });
});

describe('forecast calls', () => {
  it('the CSM or the AE calls each renewal, history is kept, and a repeated call adds nothing', async () => {
    const byCsm = actorFromUser(csm);
    await callRenewal(database.db, { renewalId: of('Alder').renewal.id, call: 'likely', note: 'Waiting on budget', actor: byCsm });
    await callRenewal(database.db, { renewalId: of('Alder').renewal.id, call: 'commit', note: 'Signed order form in legal', actor: byCsm });
    const again = await callRenewal(database.db, { renewalId: of('Alder').renewal.id, call: 'commit', note: 'Signed order form in legal', actor: byCsm });
    expect(again.replayed).toBe(true);
    await callRenewal(database.db, { renewalId: of('Birch').renewal.id, call: 'likely', actor: actorFromUser(ae) });
    await callRenewal(database.db, { renewalId: of('Cedar').renewal.id, call: 'at_risk', actor: byCsm });
    await callRenewal(database.db, { renewalId: of('Dogwood').renewal.id, call: 'commit', actor: byCsm });
    await callRenewal(database.db, { renewalId: of('Elm').renewal.id, call: 'commit', actor: byCsm });
    await callRenewal(database.db, { renewalId: of('Fir').renewal.id, call: 'churning', note: 'Champion left in May', actor: byCsm });
  });

  it('someone who neither owns the account nor supervises is told who may call it', async () => {
    const other = await createUser(database.db, { role: 'csm', name: 'Other CSM' });
    const viewer = await createUser(database.db, { role: 'viewer' });
    await expect(callRenewal(database.db, { renewalId: of('Gum').renewal.id, call: 'commit', actor: actorFromUser(other) })).rejects.toThrow(
      "Only Gum's CSM or account executive, a manager or an admin can call Gum's renewal; you are not its CSM. Ask its owner or a manager.",
    );
    await expect(callRenewal(database.db, { renewalId: of('Gum').renewal.id, call: 'commit', actor: actorFromUser(viewer) })).rejects.toBeInstanceOf(ForbiddenError);
  });
});

describe('renewal outcomes and the ledger', () => {
  it('renewed with uplift writes the expansion; the same outcome twice records once; a different one is refused', async () => {
    const alder = of('Alder');
    const params = { renewalId: alder.renewal.id, outcome: 'renewed' as const, newContractEnd: '2027-03-31', newArrCents: 14_400, note: 'Two more seats', actor: actorFromUser(csm) };
    const first = await recordRenewalOutcome(database.db, params);
    // ARR 12000 → 14400: MRR +2400 ÷ 12 = +200, effective on the contract end being renewed.
    expect(first.outcome).toMatchObject({ outcome: 'renewed', previousArrCents: 12_000, newArrCents: 14_400, mrrDeltaCents: 200 });
    const [again] = await Promise.all([recordRenewalOutcome(database.db, params)]);
    expect(again?.replayed).toBe(true);
    expect((await ledgerOf(alder.account.id)).map((row) => [row.kind, row.mrrDeltaCents, row.effectiveDate])).toEqual([
      ['new', 1000, '2025-06-01'],
      ['expansion', 200, '2026-03-31'],
    ]);
    expect(await database.db.select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, alder.renewal.id))).toHaveLength(1);
    const [account] = await database.db.select().from(accounts).where(eq(accounts.id, alder.account.id));
    expect(account).toMatchObject({ contractEnd: '2027-03-31', arrCents: 14_400 });
    // The new contract end has its own renewal.
    expect((await database.db.select().from(renewals).where(eq(renewals.accountId, alder.account.id))).map((row) => [row.contractEnd, row.status]).sort()).toEqual([
      ['2026-03-31', 'renewed'],
      ['2027-03-31', 'upcoming'],
    ]);
    await expect(recordRenewalOutcome(database.db, { ...params, newArrCents: 15_000 })).rejects.toThrow(
      /already recorded as renewed by Casey CSM on .*A manager or an admin can change it with correctRenewalOutcome/,
    );
  });

  it('a downsell writes the contraction with its churn reason; the AE may record it', async () => {
    const birch = of('Birch');
    const result = await recordRenewalOutcome(database.db, {
      renewalId: birch.renewal.id,
      outcome: 'downsell',
      newContractEnd: '2027-04-30',
      newArrCents: 18_000,
      churnReasonKey: 'budget',
      actor: actorFromUser(ae),
    });
    // ARR 24000 → 18000: MRR −6000 ÷ 12 = −500.
    expect(result.outcome.mrrDeltaCents).toBe(-500);
    expect((await ledgerOf(birch.account.id)).map((row) => [row.kind, row.mrrDeltaCents, row.churnReasonKey])).toEqual([
      ['new', 2000, null],
      ['contraction', -500, 'budget'],
    ]);
  });

  it('a churn needs a reason, writes the churn of the whole MRR, and moves the account to Churned with the reason', async () => {
    const cedar = of('Cedar');
    await expect(recordRenewalOutcome(database.db, { renewalId: cedar.renewal.id, outcome: 'churned', actor: actorFromUser(csm) })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'churnReasonKey',
    });
    await recordRenewalOutcome(database.db, { renewalId: cedar.renewal.id, outcome: 'churned', churnReasonKey: 'competitor', note: 'Went with a cheaper tool', actor: actorFromUser(csm) });
    expect((await ledgerOf(cedar.account.id)).map((row) => [row.kind, row.mrrDeltaCents, row.churnReasonKey])).toEqual([
      ['new', 3000, null],
      ['churn', -3000, 'competitor'],
    ]);
    const [moved] = await database.db.select().from(stageTransitions).where(and(eq(stageTransitions.accountId, cedar.account.id), eq(stageTransitions.toStage, 'churned')));
    expect(moved).toMatchObject({ churnReasonKey: 'competitor', reason: 'Went with a cheaper tool', actorLabel: 'Casey CSM', source: 'api' });
  });

  it('only a manager or an admin corrects an outcome; the ledger row is amended, never doubled, and the account comes back', async () => {
    const dogwood = of('Dogwood');
    await recordRenewalOutcome(database.db, { renewalId: dogwood.renewal.id, outcome: 'churned', churnReasonKey: 'product_gaps', actor: actorFromUser(csm) });
    expect((await ledgerOf(dogwood.account.id)).map((row) => row.mrrDeltaCents)).toEqual([4000, -4000]);
    const corrected = { renewalId: dogwood.renewal.id, outcome: 'renewed' as const, newContractEnd: '2027-06-30', newArrCents: 52_800, note: 'Recorded on the wrong account' };
    await expect(correctRenewalOutcome(database.db, { ...corrected, actor: actorFromUser(csm) })).rejects.toThrow(/Only a manager or an admin can correct/);
    const result = await correctRenewalOutcome(database.db, { ...corrected, actor: actorFromUser(manager) });
    expect((await correctRenewalOutcome(database.db, { ...corrected, actor: actorFromUser(manager) })).replayed).toBe(true);
    // The churn row (−4000) becomes the expansion: ARR 48000 → 52800 is MRR +4800 ÷ 12 = +400. One row, not a churn and a reversal.
    expect(result.outcome).toMatchObject({ outcome: 'renewed', previousArrCents: 48_000, mrrDeltaCents: 400 });
    expect((await ledgerOf(dogwood.account.id)).map((row) => [row.kind, row.mrrDeltaCents, row.externalId])).toEqual([
      ['new', 4000, null],
      ['expansion', 400, `renewal:${dogwood.renewal.id}`],
    ]);
    const history = await database.db.select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, dogwood.renewal.id)).orderBy(renewalOutcomes.recordedAt);
    expect(history.map((row) => [row.outcome, row.supersededAt === null])).toEqual([
      ['churned', false],
      ['renewed', true],
    ]);
    const [account] = await database.db.select().from(accounts).where(eq(accounts.id, dogwood.account.id));
    expect(account).toMatchObject({ stageKey: 'mature_adoption', arrCents: 52_800, contractEnd: '2027-06-30' });
  });

  it('NRR and GRR over 2026 count the renewals, the downsell, the churn and only the corrected outcome', async () => {
    const metrics = await getMetrics(database.db, { from: '2026-01-01', to: '2026-12-31', actor: actorFromUser(manager) });
    const all = metrics.groups.find((group) => group.key === 'all');
    // Cohort (MRR before 2026): Alder 1000, Birch 2000, Cedar 3000, Dogwood 4000, Elm 5000, Fir 1000, Gum 2000 = 18000.
    // End of 2026: Alder 1200, Birch 1500, Cedar 0, Dogwood 4400, Elm 5000, Fir 1000, Gum 2000 = 15100. NRR = 15100 / 18000.
    // Retained, min(start, end): 1000 + 1500 + 0 + 4000 + 5000 + 1000 + 2000 = 14500. GRR = 14500 / 18000.
    expect(all?.revenue).toMatchObject({
      cohortAccounts: 7,
      startMrrCents: 18_000,
      endMrrCents: 15_100,
      retainedMrrCents: 14_500,
      expansionMrrCents: 600, // Alder 200 + Dogwood 400
      contractionMrrCents: 500, // Birch
      churnedMrrCents: 3000, // Cedar; Dogwood's corrected churn is gone
      churnedLogos: 1,
    });
    expect(all?.revenue.nrr).toBeCloseTo(15_100 / 18_000, 10);
    expect(all?.revenue.grr).toBeCloseTo(14_500 / 18_000, 10);
    expect(all?.lostMrrByReason).toEqual([
      { reasonKey: 'competitor', label: 'Moved to a competitor', churnedMrrCents: 3000, contractedMrrCents: 0 },
      { reasonKey: 'budget', label: 'Budget cuts', churnedMrrCents: 0, contractedMrrCents: 500 },
    ]);
  });
});

describe('the renewal forecast', () => {
  it('shows ARR up by call and by health, the expected GRR if commits hold, the ARR not called, and what happened beside what was called', async () => {
    const forecast = await getRenewalForecast(database.db, { from: '2026-03-01', to: '2026-06-30', actor: actorFromUser(manager) });
    const [all] = forecast.groups;
    // Up: Alder 12000 + Birch 24000 + Cedar 36000 + Dogwood 48000 (closed, 120000) + Elm 60000 + Fir 12000 + Gum 24000 (open, 96000) = 216000.
    expect(all).toMatchObject({ key: 'all', renewals: 7, arrUpCents: 216_000, openArrCents: 96_000, closedArrCents: 120_000, noCallArrCents: 24_000 });
    expect(all?.byCall).toEqual([
      { call: 'commit', renewals: 3, arrCents: 120_000 }, // Alder 12000 + Dogwood 48000 + Elm 60000
      { call: 'likely', renewals: 1, arrCents: 24_000 }, // Birch
      { call: 'at_risk', renewals: 1, arrCents: 36_000 }, // Cedar
      { call: 'churning', renewals: 1, arrCents: 12_000 }, // Fir
      { call: null, renewals: 1, arrCents: 24_000 }, // Gum
    ]);
    expect(all?.byHealth).toEqual([
      { status: 'at_risk', renewals: 1, arrCents: 12_000 }, // Fir
      { status: 'healthy', renewals: 1, arrCents: 60_000 }, // Elm
      { status: 'not_computed', renewals: 5, arrCents: 144_000 },
    ]);
    // Kept by closed renewals: Alder 12000 + Birch 18000 + Cedar 0 + Dogwood 48000 = 78000; open commits: Elm 60000.
    // Expected GRR = (78000 + 60000) / 216000.
    expect(all?.expectedGrr).toBeCloseTo(138_000 / 216_000, 10);
    expect(all?.accuracy).toEqual([
      { call: 'commit', renewals: 2, arrUpCents: 60_000, renewed: 2, downsold: 0, churned: 0, retainedArrCents: 60_000, newArrCents: 67_200 },
      { call: 'likely', renewals: 1, arrUpCents: 24_000, renewed: 0, downsold: 1, churned: 0, retainedArrCents: 18_000, newArrCents: 18_000 },
      { call: 'at_risk', renewals: 1, arrUpCents: 36_000, renewed: 0, downsold: 0, churned: 1, retainedArrCents: 0, newArrCents: 0 },
    ]);
  });

  it('answers the same through GraphQL, and a CSM is told the forecast is for managers', async () => {
    const api = createGraphqlClient(database.db);
    const query = '{ renewalForecast(from: "2026-03-01", to: "2026-06-30") { groups { arrUpCents noCallArrCents expectedGrr byCall { call arrCents } } } }';
    const response = await api.request(query, {}, await createToken(database.db, 'manager', manager));
    expect(response.body.data).toMatchObject({ renewalForecast: { groups: [{ arrUpCents: 216_000, noCallArrCents: 24_000 }] } });
    const refused = await api.request(query, {}, await createToken(database.db, 'csm', csm));
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(refused.body.errors?.[0]?.message).toMatch(/read metrics \(managers and admins can\)/);
  });

  it('records an outcome and a call through GraphQL, and refuses a churn without a reason there too', async () => {
    const api = createGraphqlClient(database.db);
    const token = await createToken(database.db, 'csm', csm);
    const gum = of('Gum');
    const call = await api.request('mutation ($input: CallRenewalInput!) { callRenewal(input: $input) { currentCall { call note } calls { call } } }', { input: { renewalId: gum.renewal.id, call: 'at_risk', note: 'No exec sponsor' } }, token);
    expect(call.body.data).toEqual({ callRenewal: { currentCall: { call: 'at_risk', note: 'No exec sponsor' }, calls: [{ call: 'at_risk' }] } });
    const RECORD = 'mutation ($input: RenewalOutcomeInput!) { recordRenewalOutcome(input: $input) { replayed renewal { status recordedOutcome { outcome churnReason { key } } } } }';
    const refused = await api.request(RECORD, { input: { renewalId: gum.renewal.id, outcome: 'churned' } }, token);
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'churnReasonKey' } });
    expect(refused.body.errors?.[0]?.message).toMatch(/a churned renewal needs a churn reason/);
    const recorded = await api.request(RECORD, { input: { renewalId: gum.renewal.id, outcome: 'churned', churnReasonKey: 'low_adoption' } }, token);
    expect(recorded.body.data).toEqual({ recordRenewalOutcome: { replayed: false, renewal: { status: 'churned', recordedOutcome: { outcome: 'churned', churnReason: { key: 'low_adoption' } } } } });
  });
});
