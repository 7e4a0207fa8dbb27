import { beforeAll, describe, expect, it } from 'vitest';
import { inArray } from 'drizzle-orm';
import { type Account, type PlaybookRunStatus, type TaskStatus, type User, healthScores, playbookRuns, ruleFirings, tasks, users } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { ForbiddenError } from '../domain/errors.ts';
import { definePlaybook } from '../domain/plays/playbooks.ts';
import { NO_PLAYBOOK, type TaskMetricsRow, getPlaybookEffectiveness, getTaskMetrics } from '../domain/plays/metrics.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

// Every expected number below is worked out by hand in the comments next to the data.
// "Now" is 2026-03-15 12:00 UTC throughout.

const database = useTestDatabase();
const NOW = new Date('2026-03-15T12:00:00Z');
const admin = { userId: null, role: 'admin', label: 'Test admin' } as const;
const at = (iso: string) => new Date(iso.length === 10 ? `${iso}T12:00:00Z` : iso);

let mia: User; // the manager; Ann and Ben report to her
let ann: User;
let ben: User;
let dan: User; // a CSM on nobody's team: his accounts are outside Mia's metrics
let csm: User;
let taskPlaybookId: string;
let effectPlaybookId: string;

async function insertTask(t: { account: Account; owner: User; created: string; due: string; status: TaskStatus; completed?: string; snoozedUntil?: string; runId?: string | null }) {
  await database.db.insert(tasks).values({
    accountId: t.account.id,
    ownerId: t.owner.id,
    title: `Task of ${t.owner.name}`,
    source: t.runId ? 'playbook' : 'person',
    playbookRunId: t.runId ?? null,
    dueOn: t.due,
    status: t.status,
    createdAt: at(t.created),
    completedAt: t.completed ? at(t.completed) : null,
    snoozedUntil: t.snoozedUntil ? at(t.snoozedUntil) : null,
  });
}

async function insertRun(playbookId: string, account: Account, started: string, status: PlaybookRunStatus, completed?: string): Promise<string> {
  const [run] = await database.db
    .insert(playbookRuns)
    .values({ playbookId, accountId: account.id, trigger: 'usage_drop', status, startedByLabel: 'fixture', startedAt: at(started), completedAt: completed ? at(completed) : null })
    .returning();
  return run!.id;
}

function scoreRow(account: Account, score: number | null, day: string) {
  return {
    accountId: account.id,
    score,
    status: score === null ? ('insufficient_data' as const) : score >= 70 ? ('healthy' as const) : score >= 40 ? ('at_risk' as const) : ('critical' as const),
    components: {
      usage: { score, weight: 100, detail: 'fixture' },
      support: { score: null, weight: 0, detail: 'fixture' },
      nps: { score: null, weight: 0, detail: 'fixture' },
      engagement: { score: null, weight: 0, detail: 'fixture' },
    },
    reasons: [],
    modelVersion: 1,
    computedAt: at(day),
  };
}

async function insertScores(account: Account, points: [day: string, score: number | null][]) {
  await database.db.insert(healthScores).values(points.map(([day, score]) => scoreRow(account, score, day)));
}

let firingSeq = 0;
async function insertFiring(account: Account, rule: string, day: string) {
  firingSeq += 1;
  await database.db.insert(ruleFirings).values({ rule, accountId: account.id, occasion: `fixture-${firingSeq}`, reason: 'fixture', firedAt: at(day) });
}

beforeAll(async () => {
  const db = database.db;
  mia = await createUser(db, { name: 'Mia Manager', role: 'manager' });
  ann = await createUser(db, { name: 'Ann Csm', role: 'csm' });
  ben = await createUser(db, { name: 'Ben Csm', role: 'csm' });
  dan = await createUser(db, { name: 'Dan Csm', role: 'csm' });
  csm = ann;
  await db.update(users).set({ managerId: mia.id }).where(inArray(users.id, [ann.id, ben.id]));

  const taskPlaybook = await definePlaybook(db, {
    key: 'metrics_expansion',
    name: 'Expansion play',
    description: '',
    triggers: ['manual'],
    steps: [{ title: 'Call the champion', ownerRole: 'csm', dueInDays: 3 }],
    actor: admin,
  });
  taskPlaybookId = taskPlaybook.playbook.id;
  const effectPlaybook = await definePlaybook(db, {
    key: 'metrics_usage_rescue',
    name: 'Usage rescue',
    description: '',
    triggers: ['usage_drop'],
    steps: [{ title: 'Review usage with the customer', ownerRole: 'csm', dueInDays: 7 }],
    actor: admin,
  });
  effectPlaybookId = effectPlaybook.playbook.id;

  // --- Tasks. Period 2026-03-01 … 2026-03-10.
  const acct1 = await createAccount(db, { name: 'Acme', csmId: ann.id });
  const acct2 = await createAccount(db, { name: 'Bolt', csmId: ben.id });
  const acct3 = await createAccount(db, { name: 'Crane', csmId: dan.id });
  const r0 = await insertRun(taskPlaybookId, acct1, '2026-03-02', 'running');
  // T1 Ann, Expansion play: created 03-02, due 03-05, done 03-05 18:00 → created, completed, on time (same day).
  await insertTask({ account: acct1, owner: ann, created: '2026-03-02', due: '2026-03-05', status: 'done', completed: '2026-03-05T18:00:00Z', runId: r0 });
  // T2 Ann, no playbook: created 03-03, due 03-04, done 03-06 → created, completed, late.
  await insertTask({ account: acct1, owner: ann, created: '2026-03-03', due: '2026-03-04', status: 'done', completed: '2026-03-06' });
  // T3 Ann, Expansion play: created 03-04, due 03-12, open → created; overdue now (03-12 < 03-15).
  await insertTask({ account: acct1, owner: ann, created: '2026-03-04', due: '2026-03-12', status: 'open', runId: r0 });
  // T4 Ben, no playbook: created 02-20 (before the period), due 02-25, done 03-01 00:30 → completed in the period, late.
  await insertTask({ account: acct2, owner: ben, created: '2026-02-20', due: '2026-02-25', status: 'done', completed: '2026-03-01T00:30:00Z' });
  // T5 Ben, no playbook: created 03-09, due 03-10, snoozed until 03-20 → created; not overdue (its snooze has not ended).
  await insertTask({ account: acct2, owner: ben, created: '2026-03-09', due: '2026-03-10', status: 'snoozed', snoozedUntil: '2026-03-20' });
  // T6 Mia, Expansion play: created 03-10 23:00, due 03-20, open → created (last hour of the period); not overdue.
  await insertTask({ account: acct1, owner: mia, created: '2026-03-10T23:00:00Z', due: '2026-03-20', status: 'open', runId: r0 });
  // T7 Ben, no playbook: created 02-01, due 03-01, snoozed until 03-14 (ended) → overdue now, not created in the period.
  await insertTask({ account: acct2, owner: ben, created: '2026-02-01', due: '2026-03-01', status: 'snoozed', snoozedUntil: '2026-03-14' });
  // T8 Dan on Crane (not Mia's team): created 03-05, due 03-06, done 03-05 → counted for admins only, on time.
  await insertTask({ account: acct3, owner: dan, created: '2026-03-05', due: '2026-03-06', status: 'done', completed: '2026-03-05' });
  // Outside everything: created 2026-01-05, done 2026-01-06, due 2026-04-01: no figure of the period.
  await insertTask({ account: acct1, owner: ann, created: '2026-01-05', due: '2026-04-01', status: 'done', completed: '2026-01-06' });

  // --- Playbook effectiveness of "Usage rescue". Period 2026-01-01 … 2026-02-28; all accounts are Ann's (Mia's team).
  const w = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => createAccount(db, { name: `With play ${n}`, csmId: ann.id })));
  // w1…w5: run started 01-05, completed 01-20 → follow-up moment 02-19 (before now): measured.
  // Before = latest score on or before 01-05 (the 12-31 one; the 01-10 one is after the start);
  // after = latest score on or before 02-19 (the 02-15 one; the 02-25 one is later; w1's 02-18 insufficient data has no score).
  //   w1 40 → 60 (+20), w2 50 → 65 (+15), w3 45 → 55 (+10), w4 55 → 60 (+5), w5 60 → 70 (+10)
  //   mean before 250/5 = 50, mean after 310/5 = 62, mean change 60/5 = +12.
  const withPlay: [number, number][] = [
    [40, 60],
    [50, 65],
    [45, 55],
    [55, 60],
    [60, 70],
  ];
  for (const [index, [before, after]] of withPlay.entries()) {
    const account = w[index]!;
    await insertRun(effectPlaybookId, account, '2026-01-05', 'completed', '2026-01-20');
    await insertScores(account, [
      ['2025-12-31', before],
      ['2026-01-10', 99],
      ['2026-02-15', after],
      ['2026-02-25', 1],
    ]);
  }
  await insertScores(w[0]!, [['2026-02-18', null]]);
  // w6: started 01-25, completed 03-01 → 03-31 is still ahead: awaiting follow-up. w7: started 01-28, still running.
  // w8: started 2025-12-20, before the period: not counted at all. Runs started in the period: w1…w7 = 7.
  await insertRun(effectPlaybookId, w[5]!, '2026-01-25', 'completed', '2026-03-01');
  await insertRun(effectPlaybookId, w[6]!, '2026-01-28', 'running');
  await insertRun(effectPlaybookId, w[7]!, '2025-12-20', 'completed', '2025-12-28');
  await insertScores(w[5]!, [['2026-01-01', 30]]);

  // Control: usage_drop fired 01-10 on c1…c5, no run of the playbook anywhere near.
  // Before = latest on or before 01-10 (the 01-08 one), after = latest on or before 02-09 (the 02-05 one).
  //   c1 50 → 45 (−5), c2 60 → 60 (0), c3 40 → 38 (−2), c4 55 → 50 (−5), c5 45 → 47 (+2)
  //   mean before 250/5 = 50, mean after 240/5 = 48, mean change −10/5 = −2.
  // Difference of changes = +12 − (−2) = 14.
  const c = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => createAccount(db, { name: `Control ${n}`, csmId: ann.id })));
  const control: [number, number][] = [
    [50, 45],
    [60, 60],
    [40, 38],
    [55, 50],
    [45, 47],
  ];
  for (const [index, [before, after]] of control.entries()) {
    await insertFiring(c[index]!, 'usage_drop', '2026-01-10');
    await insertScores(c[index]!, [
      ['2026-01-08', before],
      ['2026-02-05', after],
      ['2026-02-12', 5],
    ]);
  }
  // Not controls: usage_drop on w1 on 01-12 (its run started 7 days before); c6's firing on 2025-12-25 (before the
  // period); c7's expansion_signal (not a trigger of this playbook).
  await insertFiring(w[0]!, 'usage_drop', '2026-01-12');
  await insertFiring(c[5]!, 'usage_drop', '2025-12-25');
  await insertFiring(c[6]!, 'expansion_signal', '2026-01-10');
  // Controls not measured: c8 fired 02-20 → 03-22 still ahead (awaiting); c9 fired 01-15 and has no score (missing).
  // Control occasions: c1…c5, c8, c9 = 7.
  await insertFiring(c[7]!, 'usage_drop', '2026-02-20');
  await insertScores(c[7]!, [['2026-02-01', 50]]);
  await insertFiring(c[8]!, 'usage_drop', '2026-01-15');
  // Outside Mia's team: usage_drop on Dan's account on 01-10, 50 → 50: an admin sees 6 measured control accounts.
  const danAccount = await createAccount(db, { name: 'Dan control', csmId: dan.id });
  await insertFiring(danAccount, 'usage_drop', '2026-01-10');
  await insertScores(danAccount, [
    ['2026-01-01', 50],
    ['2026-02-01', 50],
  ]);
});

const figures = (row: TaskMetricsRow | undefined) => row && [row.created, row.completed, row.completedOnTime, row.overdueNow];

describe('task metrics', () => {
  it('counts a manager’s team by owner: created, completed, on time, overdue now', async () => {
    const metrics = await getTaskMetrics(database.db, { from: '2026-03-01', to: '2026-03-10', groupBy: 'owner', actor: actorFromUser(mia), now: NOW });
    const by = new Map(metrics.groups.map((row) => [row.label, row]));
    // Ann: created T1 T2 T3 = 3; completed T1 T2 = 2; on time T1 = 1; overdue T3 = 1.
    expect(figures(by.get('Ann Csm'))).toEqual([3, 2, 1, 1]);
    expect(by.get('Ann Csm')?.onTimeShare).toBe(0.5);
    // Ben: created T5 = 1; completed T4 = 1; on time 0; overdue T7 = 1.
    expect(figures(by.get('Ben Csm'))).toEqual([1, 1, 0, 1]);
    // Mia: created T6 = 1; nothing completed (share null) or overdue.
    expect(figures(by.get('Mia Manager'))).toEqual([1, 0, 0, 0]);
    expect(by.get('Mia Manager')?.onTimeShare).toBeNull();
    // Dan's task is on an account outside Mia's team.
    expect(by.has('Dan Csm')).toBe(false);
    expect(metrics.groups.map((row) => row.label)).toEqual(['Ann Csm', 'Ben Csm', 'Mia Manager']);
    // Total: created 5, completed 3, on time 1, overdue 2.
    expect(figures(metrics.total)).toEqual([5, 3, 1, 2]);
  });

  it('counts by playbook, with tasks no playbook created as “No playbook”', async () => {
    const metrics = await getTaskMetrics(database.db, { from: '2026-03-01', to: '2026-03-10', groupBy: 'playbook', actor: actorFromUser(mia), now: NOW });
    const by = new Map(metrics.groups.map((row) => [row.key, row]));
    // Expansion play: T1 T3 T6 → created 3, completed T1 = 1, on time 1, overdue T3 = 1.
    expect(by.get(taskPlaybookId)?.label).toBe('Expansion play');
    expect(figures(by.get(taskPlaybookId))).toEqual([3, 1, 1, 1]);
    // No playbook: T2 T4 T5 T7 → created T2 T5 = 2, completed T2 T4 = 2, on time 0, overdue T7 = 1.
    expect(by.get(NO_PLAYBOOK)?.label).toBe('No playbook');
    expect(figures(by.get(NO_PLAYBOOK))).toEqual([2, 2, 0, 1]);
    expect(metrics.groups).toHaveLength(2);
  });

  it('counts every account for an admin', async () => {
    const metrics = await getTaskMetrics(database.db, { from: '2026-03-01', to: '2026-03-10', groupBy: 'owner', actor: admin, now: NOW });
    // Dan: created T8, completed on time. Total: created 6, completed 4, on time 2, overdue 2.
    expect(figures(metrics.groups.find((row) => row.key === dan.id))).toEqual([1, 1, 1, 0]);
    expect(figures(metrics.total)).toEqual([6, 4, 2, 2]);
  });

  it('refuses a CSM, saying who can read them', async () => {
    await expect(getTaskMetrics(database.db, { from: '2026-03-01', to: '2026-03-10', groupBy: 'owner', actor: actorFromUser(csm), now: NOW })).rejects.toThrow(ForbiddenError);
    await expect(getPlaybookEffectiveness(database.db, { from: '2026-01-01', to: '2026-02-28', actor: actorFromUser(csm), now: NOW })).rejects.toThrow(
      'Your role (csm) cannot read metrics (managers and admins can).',
    );
  });
});

describe('playbook effectiveness', () => {
  it('compares the health of the playbook’s accounts with accounts where the trigger fired and no run started', async () => {
    const report = await getPlaybookEffectiveness(database.db, { from: '2026-01-01', to: '2026-02-28', playbookId: effectPlaybookId, actor: actorFromUser(mia), now: NOW });
    expect(report.playbooks).toHaveLength(1);
    const [row] = report.playbooks;
    expect(row).toMatchObject({ playbookName: 'Usage rescue', runsStarted: 7, runsNotCompleted: 1, comparable: true, differenceOfChanges: 14 });
    expect(row!.withPlaybook).toEqual({ occasions: 7, awaitingFollowUp: 1, missingHealth: 0, measured: 5, accounts: 5, meanBefore: 50, meanAfter: 62, meanChange: 12 });
    expect(row!.control).toEqual({ occasions: 7, awaitingFollowUp: 1, missingHealth: 1, measured: 5, accounts: 5, meanBefore: 50, meanAfter: 48, meanChange: -2 });
    expect(row!.note).toMatch(/^Compared 5 accounts/);
  });

  it('an admin also counts the control account outside the manager’s team', async () => {
    const report = await getPlaybookEffectiveness(database.db, { from: '2026-01-01', to: '2026-02-28', playbookId: effectPlaybookId, actor: admin, now: NOW });
    // Dan's account: 50 → 50. Control change = (−10 + 0) / 6.
    expect(report.playbooks[0]!.control).toMatchObject({ occasions: 8, measured: 6, accounts: 6 });
    expect(report.playbooks[0]!.control.meanChange).toBeCloseTo(-10 / 6, 10);
  });

  it('says plainly when there are too few accounts to compare', async () => {
    // 2026-01-01 … 2026-01-07: w1…w5's runs started on 01-05 (5 measured), but no firing yet (0 controls).
    const report = await getPlaybookEffectiveness(database.db, { from: '2026-01-01', to: '2026-01-07', playbookId: effectPlaybookId, actor: actorFromUser(mia), now: NOW });
    const [row] = report.playbooks;
    expect(row).toMatchObject({ runsStarted: 5, comparable: false, differenceOfChanges: null });
    expect(row!.withPlaybook).toMatchObject({ measured: 5, meanChange: 12 });
    expect(row!.control.accounts).toBe(0);
    expect(row!.note).toMatch(/^Too few accounts to compare: 5 accounts .* and 0 accounts/);
  });

  it('lists every playbook when none is named', async () => {
    const report = await getPlaybookEffectiveness(database.db, { from: '2026-01-01', to: '2026-02-28', actor: actorFromUser(mia), now: NOW });
    const names = report.playbooks.map((row) => row.playbookName);
    expect(names).toEqual(expect.arrayContaining(['Usage rescue', 'Expansion play']));
    // The task playbook only starts by hand: no control group, nothing to compare.
    expect(report.playbooks.find((row) => row.playbookId === taskPlaybookId)).toMatchObject({ runsStarted: 0, comparable: false });
  });
});

describe('the control group of triggers that are not a rule of the same name', () => {
  it('counts health that worsened to Critical and the renewal checkpoint of the trigger only', async () => {
    const db = database.db;
    const playbook = await definePlaybook(db, {
      key: 'metrics_critical_or_renewal',
      name: 'Critical or renewal',
      description: '',
      triggers: ['health_critical', 'renewal_90'],
      steps: [{ title: 'Call the sponsor', ownerRole: 'csm', dueInDays: 2 }],
      actor: admin,
    });
    const [critical, atRisk, renewal90, renewal180] = await Promise.all(['Critical', 'At risk', 'Renewal 90', 'Renewal 180'].map((name) => createAccount(db, { name, csmId: ann.id })));
    // health_worsened names the score it fell to: counted only when that score is Critical (30), not At risk (50).
    const [criticalScore] = await db.insert(healthScores).values(scoreRow(critical!, 30, '2026-05-02')).returning();
    const [atRiskScore] = await db.insert(healthScores).values(scoreRow(atRisk!, 50, '2026-05-02')).returning();
    // A renewal checkpoint's occasion is `<renewal id>:<days before contract end>`: counted for 90, not for 180.
    await db.insert(ruleFirings).values([
      { rule: 'health_worsened', accountId: critical!.id, occasion: String(criticalScore!.id), reason: 'fixture', firedAt: at('2026-05-02') },
      { rule: 'health_worsened', accountId: atRisk!.id, occasion: String(atRiskScore!.id), reason: 'fixture', firedAt: at('2026-05-02') },
      { rule: 'renewal_checkpoint', accountId: renewal90!.id, occasion: '4f1c2d7e-0000-4000-8000-000000000001:90', reason: 'fixture', firedAt: at('2026-05-03') },
      { rule: 'renewal_checkpoint', accountId: renewal180!.id, occasion: '4f1c2d7e-0000-4000-8000-000000000002:180', reason: 'fixture', firedAt: at('2026-05-03') },
    ]);
    // Scores after: Critical 30 → 40 (+10), At risk 50 → 70 (+20), renewal 90: 60 → 66 (+6), renewal 180: 60 → 90 (+30).
    await insertScores(critical!, [['2026-05-20', 40]]);
    await insertScores(atRisk!, [['2026-05-20', 70]]);
    await insertScores(renewal90!, [['2026-05-01', 60], ['2026-05-20', 66]]);
    await insertScores(renewal180!, [['2026-05-01', 60], ['2026-05-20', 90]]);
    // Read on 05-10: the two counted firings (Critical, renewal 90) are 2 occasions, both awaiting their follow-up (+30 days).
    const early = await getPlaybookEffectiveness(db, { from: '2026-05-01', to: '2026-05-31', playbookId: playbook.playbook.id, actor: admin, now: at('2026-05-10') });
    expect(early.playbooks[0]!.control).toMatchObject({ occasions: 2, awaitingFollowUp: 2, measured: 0 });
    // Read on 07-01: both measured. Before (30 + 60) / 2 = 45, after (40 + 66) / 2 = 53, change (10 + 6) / 2 = 8.
    const later = await getPlaybookEffectiveness(db, { from: '2026-05-01', to: '2026-05-31', playbookId: playbook.playbook.id, actor: admin, now: at('2026-07-01') });
    expect(later.playbooks[0]!.control).toEqual({ occasions: 2, awaitingFollowUp: 0, missingHealth: 0, measured: 2, accounts: 2, meanBefore: 45, meanAfter: 53, meanChange: 8 });
    expect(later.playbooks[0]!.note).toMatch(/^Too few accounts to compare/);
  });
});

describe('GraphQL', () => {
  it('serves both to a manager and refuses a CSM with a clear error', async () => {
    const api = createGraphqlClient(database.db);
    const query = `query ($id: ID!) {
      taskMetrics(from: "2026-03-01", to: "2026-03-10", groupBy: playbook) { groupBy groups { key label created completed completedOnTime onTimeShare overdueNow } total { created } }
      playbookEffectiveness(from: "2026-01-01", to: "2026-02-28", playbookId: $id) {
        playbooks { playbookName triggers runsStarted comparable differenceOfChanges note withPlaybook { accounts meanChange } control { accounts meanChange } }
      }
    }`;
    const managerToken = await createToken(database.db, 'manager', mia);
    const ok = await api.request(query, { id: effectPlaybookId }, managerToken);
    expect(ok.body.errors).toBeUndefined();
    const data = ok.body.data as { taskMetrics: { groupBy: string; total: { created: number } }; playbookEffectiveness: { playbooks: Record<string, unknown>[] } };
    expect(data.taskMetrics.groupBy).toBe('playbook');
    // The API reads at the real clock, so only figures that do not depend on it: created in the period T1 T2 T3 T5 T6,
    // runs started in the period w1…w7.
    expect(data.taskMetrics.total.created).toBe(5);
    expect(data.playbookEffectiveness.playbooks[0]).toMatchObject({ playbookName: 'Usage rescue', triggers: ['usage_drop'], runsStarted: 7 });

    const csmToken = await createToken(database.db, 'csm', csm);
    const refused = await api.request(query, { id: effectPlaybookId }, csmToken);
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(refused.body.errors?.[0]?.message).toBe('Your role (csm) cannot read metrics (managers and admins can).');
  });

  it('refuses an unknown playbook id, saying where to find one', async () => {
    const api = createGraphqlClient(database.db);
    const token = await createToken(database.db, 'admin');
    const missing = await api.request('{ playbookEffectiveness(from: "2026-01-01", to: "2026-01-31", playbookId: "00000000-0000-4000-8000-000000000000") { from } }', {}, token);
    expect(missing.body.errors?.[0]?.message).toMatch(/no playbook with that id/);
    const bad = await api.request('{ playbookEffectiveness(from: "2026-01-31", to: "2026-01-01") { from } }', {}, token);
    expect(bad.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'to' } });
  });
});
