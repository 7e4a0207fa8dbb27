import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { and, eq } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { type Database, type Db, migrationsFolder, openDatabase } from '../db/client.ts';
import { type HealthStatus, type User, accountHealth, healthScores, outbox, ruleFirings } from '../db/schema.ts';
import { actorFromUser, systemReader } from '../domain/actors.ts';
import { listDigestItems, queueDailyDigest } from '../domain/digest.ts';
import { getAccountHealth, listAtRisk } from '../domain/health/queries.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { getMetrics } from '../domain/metrics.ts';
import { runRules } from '../domain/rules.ts';
import { type TestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { validateView } from './support/block-kit.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { addHealthHistory, setHealth } from './support/health.ts';
import { type SlackRequestClient, appHomeOpenedEvent, slashCommand } from './support/slack-requests.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { addSurvey, addTicket, addTouch, addUsage, daysBefore } from './support/signals.ts';
import { DAY_MS } from '../domain/dates.ts';

// The wall clock: the Slack card counts days in stage from it, and the digest and rules are run as of it.
const NOW = new Date();
const NOT_ENOUGH = 'not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches';

let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let csm: User;
let manager: User;

useSlackHarness({}, async (harness) => {
  ({ database, fake, slack } = harness);
  csm = await createUser(database.db, { role: 'csm', name: 'Nadia Empty', slackUserId: 'UCSMND001' });
  manager = await createUser(database.db, { role: 'manager', name: 'Mona Manager', slackUserId: 'UMGRND001' });
});

/** An account in Onboarding (14-day SLA) for `days` days, owned by the test CSM unless told otherwise. */
function onboardingFor(name: string, days: number, csmId: string | null = null) {
  return createAccount(database.db, { name, stageKey: 'onboarding', enteredAt: daysBefore(NOW, days), csmId: csmId ?? csm.id });
}

describe('health without customer signal', () => {
  it('an account with only its stage SLA gets no score and says not enough data, where it used to be Healthy 100', async () => {
    const { db } = database;
    const account = await onboardingFor('Quiet Start Co', 2);
    const result = await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    expect(result).toMatchObject({ accounts: 0, insufficientData: 1, historyRows: 1, rowsWritten: 1 });

    const health = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
    expect(health).toMatchObject({ status: 'insufficient_data', score: null, dropSinceYesterday: null, dropSinceLastWeek: null });
    expect(health?.reasons).toEqual([NOT_ENOUGH]);
    for (const component of Object.values(health?.components ?? {})) expect(component).toMatchObject({ score: null, weight: 0 });
    expect(health?.components?.engagement.detail).toBe(
      'no CSM touch recorded; time in stage alone is not scored (2 days in Onboarding, SLA 14 days): not enough data for a score',
    );
    // History has a point for it, with no score.
    expect(health?.history).toEqual([expect.objectContaining({ score: null, status: 'insufficient_data' })]);
  });

  it('each customer signal alone is enough for a score, and the stage SLA counts beside it; usage older than the window is not', async () => {
    const { db } = database;
    const usage = await onboardingFor('Signal Usage Co', 2);
    await addUsage(db, usage.id, NOW, { fromDaysAgo: 5, toDaysAgo: 0, activeUsers: 5, seats: 10, keyEvents: 10 });
    const ticket = await onboardingFor('Signal Ticket Co', 2);
    await addTicket(db, ticket.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 35 });
    const survey = await onboardingFor('Signal Survey Co', 2);
    await addSurvey(db, survey.id, NOW, { score: 9, daysAgo: 100 });
    const touch = await onboardingFor('Signal Touch Co', 2);
    await addTouch(db, touch.id, NOW, 30);
    const stale = await onboardingFor('Stale Usage Co', 2);
    await addUsage(db, stale.id, NOW, { fromDaysAgo: 60, toDaysAgo: 45, activeUsers: 5, seats: 10 });

    const ids = [usage, ticket, survey, touch, stale].map((account) => account.id);
    expect(await recomputeHealth(db, { now: NOW, accountIds: ids })).toMatchObject({ accounts: 4, insufficientData: 1 });
    for (const account of [usage, ticket, survey]) {
      const health = await getAccountHealth(db, { accountId: account.id, reader: systemReader, now: NOW });
      expect(health?.score, account.name).toEqual(expect.any(Number));
      expect(health?.status, account.name).not.toBe('insufficient_data');
    }
    // A touch 30 days ago: touch 65, the SLA 100 beside it, engagement their mean.
    const touched = await getAccountHealth(db, { accountId: touch.id, reader: systemReader, now: NOW });
    expect(touched).toMatchObject({ score: 83, status: 'healthy' });
    expect(await getAccountHealth(db, { accountId: stale.id, reader: systemReader, now: NOW })).toMatchObject({ score: null, status: 'insufficient_data', reasons: [NOT_ENOUGH] });
  });

  it('an account far past its stage SLA with no customer data is not Critical: no at-risk list, digest or escalation names it', async () => {
    const { db } = database;
    // 60 days in a 14-day stage scored engagement 0, so Critical 0, from the SLA alone.
    const silent = await onboardingFor('Silent Overdue Co', 60);
    // The same lateness with a customer signal (a CSM touch 50 days ago) is a real Critical score.
    const overdue = await onboardingFor('Touched Overdue Co', 60);
    await addTouch(db, overdue.id, NOW, 50);
    await recomputeHealth(db, { now: NOW, accountIds: [silent.id, overdue.id] });
    expect(await getAccountHealth(db, { accountId: silent.id, reader: systemReader, now: NOW })).toMatchObject({ status: 'insufficient_data', score: null });
    expect(await getAccountHealth(db, { accountId: overdue.id, reader: systemReader, now: NOW })).toMatchObject({ status: 'critical' });

    const listed = (items: { account: { id: string } }[]) => items.map((item) => item.account.id);
    expect(listed(await listAtRisk(db, { csmId: csm.id, reader: systemReader }))).toEqual([overdue.id]);
    expect(listed(await listDigestItems(db, { now: NOW, csmId: csm.id, reader: systemReader }))).toEqual([overdue.id]);

    const api = createGraphqlClient(db);
    const token = await createToken(db, 'manager', manager);
    const atRisk = await api.request('query ($csm: ID) { atRisk(csmId: $csm) { account { id } status } }', { csm: csm.id }, token);
    expect(atRisk.body.data?.atRisk).toEqual([{ account: { id: overdue.id }, status: 'critical' }]);

    // Listed on one digest and not acknowledged by the next: only the scored account is escalated.
    await queueDailyDigest(db, { now: NOW });
    const tomorrow = new Date(NOW.getTime() + DAY_MS);
    const run = await queueDailyDigest(db, { now: tomorrow });
    expect(run.escalated).toBeGreaterThanOrEqual(1);
    const escalations = await db.select({ payload: outbox.payload }).from(outbox).where(eq(outbox.kind, 'at_risk_escalation'));
    const escalatedIds = escalations.flatMap(({ payload }) => {
      const ids = typeof payload === 'object' && payload !== null ? Reflect.get(payload, 'accountIds') : [];
      return Array.isArray(ids) ? ids : [];
    });
    expect(escalatedIds).toContain(overdue.id);
    expect(escalatedIds).not.toContain(silent.id);
  });
});

describe('history and rules', () => {
  const point = (db: Db, accountId: string, daysAgo: number, score: number | null, status: HealthStatus) =>
    addHealthHistory(db, accountId, [{ at: daysBefore(NOW, daysAgo), score, status }]);
  const fired = async (db: Db, accountId: string) =>
    (await db.select().from(ruleFirings).where(and(eq(ruleFirings.accountId, accountId), eq(ruleFirings.rule, 'health_worsened')))).map((firing) => firing.reason);

  it('health_worsened never counts not enough data as worse or better: it compares the scores on either side', async () => {
    const { db } = database;
    const lostData = await createAccount(db, { stageKey: 'mature_adoption' });
    await point(db, lostData.id, 3, 80, 'healthy');
    await point(db, lostData.id, 1, null, 'insufficient_data');
    const firstScore = await createAccount(db, { stageKey: 'mature_adoption' });
    await point(db, firstScore.id, 3, null, 'insufficient_data');
    await point(db, firstScore.id, 1, 25, 'critical');
    const backWorse = await createAccount(db, { stageKey: 'mature_adoption' });
    await point(db, backWorse.id, 10, 85, 'healthy');
    await point(db, backWorse.id, 5, null, 'insufficient_data');
    await point(db, backWorse.id, 1, 25, 'critical');

    await runRules(db, { now: NOW });
    expect(await fired(db, lostData.id)).toEqual([]);
    expect(await fired(db, firstScore.id)).toEqual([]);
    expect(await fired(db, backWorse.id)).toEqual(['health fell from Healthy (85) to Critical (25)']);
  });

  it('a history point without a score is refused unless its status is insufficient_data, and the other way round', async () => {
    const { db } = database;
    const account = await createAccount(db, { stageKey: 'mature_adoption' });
    await expect(point(db, account.id, 1, null, 'healthy')).rejects.toThrow();
    await expect(point(db, account.id, 1, 50, 'insufficient_data')).rejects.toThrow();
    await expect(setHealth(db, account.id, { score: null, status: 'critical', computedAt: NOW })).rejects.toThrow();
  });
});

describe('not enough data in Slack, the API and metrics', () => {
  it('the account card and App Home say not enough data, apart from an account never computed', async () => {
    const { db } = database;
    const owner = await createUser(db, { role: 'csm', name: 'Olive Owner', slackUserId: 'UCSMND002' });
    const empty = await createAccount(db, { name: 'Hollow Harbor Co', stageKey: 'onboarding', enteredAt: daysBefore(NOW, 3), csmId: owner.id });
    await createAccount(db, { name: 'Brand New Co', stageKey: 'onboarding', enteredAt: daysBefore(NOW, 3), csmId: owner.id });
    await recomputeHealth(db, { now: NOW, accountIds: [empty.id] });

    await slack.command(slashCommand({ text: 'account Hollow Harbor', user_id: 'UCSMND002', response_url: fake.responseUrl('hollow') }));
    const [card] = await fake.waitForCalls('response_url', 1);
    const cardJson = JSON.stringify(card?.body.blocks);
    expect(cardJson).toContain('*Health*\\n:white_circle: Not enough data');
    expect(cardJson).toContain(NOT_ENOUGH);
    expect(String(card?.body.text)).toContain('health Not enough data');
    expect(cardJson).not.toContain('not computed yet');

    fake.reset();
    await slack.event(appHomeOpenedEvent({ userId: 'UCSMND002' }));
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(validateView(published?.body.view)).toEqual([]);
    const home = JSON.stringify(published?.body.view);
    expect(home).toContain('Hollow Harbor Co · :white_circle: Not enough data');
    expect(home).toContain('Brand New Co · _no health score yet_');
    expect(home).not.toContain('Needs attention');
  });

  it('GraphQL says insufficient_data with a null score, filters on it, and metrics count it apart from every score', async () => {
    const { db } = database;
    const lead = await createUser(db, { role: 'csm', name: 'Metrics Lead' });
    const healthy = await createAccount(db, { stageKey: 'mature_adoption', csmId: lead.id });
    await addTouch(db, healthy.id, NOW, 1);
    const critical = await createAccount(db, { stageKey: 'mature_adoption', csmId: lead.id });
    await addTicket(db, critical.id, NOW, { severity: 'urgent', openedDaysAgo: 20 });
    await addTicket(db, critical.id, NOW, { severity: 'urgent', openedDaysAgo: 20 });
    const empty = await createAccount(db, { stageKey: 'onboarding', enteredAt: daysBefore(NOW, 1), csmId: lead.id });
    await createAccount(db, { stageKey: 'onboarding', csmId: lead.id }); // never computed
    await recomputeHealth(db, { now: NOW, accountIds: [healthy.id, critical.id, empty.id] });

    const api = createGraphqlClient(db);
    const token = await createToken(db, 'manager', manager);
    const response = await api.request(
      `query ($id: ID!) { account(id: $id) { health { score status dropSinceYesterday dropOverWeek reasons history { score status } } } }`,
      { id: empty.id },
      token,
    );
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.account).toEqual({
      health: { score: null, status: 'insufficient_data', dropSinceYesterday: null, dropOverWeek: null, reasons: [NOT_ENOUGH], history: [{ score: null, status: 'insufficient_data' }] },
    });
    const filtered = await api.request(
      `query ($owner: ID) { accounts(filter: { healthStatus: insufficient_data, ownerId: $owner }) { edges { node { id } } } }`,
      { owner: lead.id },
      token,
    );
    expect(filtered.body.errors).toBeUndefined();
    expect(filtered.body.data?.accounts).toEqual({ edges: [{ node: { id: empty.id } }] });

    // Healthy 100 (a touch yesterday) and Critical: 30 x (1 + 20/30) x 2 = 100 points off support, 0. Mean 50,
    // the account without a score left out of it rather than counted as a zero or a 100.
    const metrics = await getMetrics(db, { from: '2026-01-01', to: '2026-01-31', groupBy: 'csm', actor: actorFromUser(manager) });
    expect(metrics.groups.find((group) => group.key === lead.id)?.health).toEqual({
      accounts: 4,
      healthy: 1,
      atRisk: 0,
      critical: 1,
      insufficientData: 1,
      notComputed: 1,
      averageScore: 50,
    });
    const graphMetrics = await api.request('{ metrics(from: "2026-01-01", to: "2026-01-31", groupBy: csm) { groups { key health { insufficientData averageScore } } } }', {}, token);
    expect(graphMetrics.body.errors).toBeUndefined();
    const groups = (graphMetrics.body.data?.metrics as { groups: { key: string; health: unknown }[] }).groups;
    expect(groups.find((group) => group.key === lead.id)?.health).toEqual({ insufficientData: 1, averageScore: 50 });
  });
});

/**
 * A database as it was before insufficient_data: every migration up to the one that added it, with a score computed
 * from a stage SLA alone. Upgrading runs the rest in one migrate() (drizzle's migrator: one transaction).
 */
async function migrationsBeforeInsufficientData(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'lifeline-migrations-'));
  await cp(migrationsFolder, folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal: { entries: { tag: string }[] } = JSON.parse(await readFile(journalPath, 'utf8'));
  const cut = journal.entries.findIndex((entry) => entry.tag.endsWith('_health_insufficient_data'));
  expect(cut).toBeGreaterThan(0);
  await writeFile(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, cut) }));
  return folder;
}

/** Written with the schema of then, so as plain SQL. */
const beforeUpgrade = [
  `insert into lifecycle_stages (key, name, position, owner_role, entry_criteria, exit_criteria, sla_days)
   values ('onboarding', 'Onboarding', 200, 'csm', 'closed-won', 'kickoff held', 14)`,
  `insert into accounts (name, segment, stage_key, stage_entered_at) values ('Upgraded Co', 'smb', 'onboarding', now() - interval '2 days')`,
  `insert into account_health (account_id, score, status, reasons, computed_at, model_version)
   select id, 100, 'healthy', '[]'::jsonb, now() - interval '1 hour', 1 from accounts`,
  `insert into health_scores (account_id, score, status, components, reasons, model_version, computed_at)
   select id, 100, 'healthy', '{}'::jsonb, '[]'::jsonb, 1, now() - interval '1 hour' from accounts`,
];

async function upgradeAndRecompute(database: Database) {
  await database.migrate();
  const result = await recomputeHealth(database.db, { now: NOW });
  const rows = await database.db.select({ score: accountHealth.score, status: accountHealth.status }).from(accountHealth);
  const history = await database.db.select({ score: healthScores.score, status: healthScores.status }).from(healthScores).orderBy(healthScores.computedAt);
  return { result, rows, history };
}

describe('upgrading a database that has scores', () => {
  it('adds insufficient_data in one migrate run, then the recompute withdraws a score made of a stage SLA alone', async () => {
    const older = await migrationsBeforeInsufficientData();
    const url = process.env.TEST_DATABASE_URL;
    try {
      let outcome: Awaited<ReturnType<typeof upgradeAndRecompute>>;
      if (url) {
        const name = `lifeline_upgrade_${process.pid}_${randomBytes(4).toString('hex')}`;
        const admin = postgres(url, { max: 1, onnotice: () => {} });
        const target = new URL(url);
        target.pathname = `/${name}`;
        await admin.unsafe(`create database ${name}`);
        try {
          const client = postgres(target.toString(), { max: 1, onnotice: () => {} });
          try {
            const old = drizzlePostgres({ client });
            await migratePostgres(old, { migrationsFolder: older });
            for (const statement of beforeUpgrade) await client.unsafe(statement);
          } finally {
            await client.end();
          }
          const upgraded = await openDatabase({ kind: 'postgres', url: target.toString(), max: 2 });
          try {
            outcome = await upgradeAndRecompute(upgraded);
          } finally {
            await upgraded.close();
          }
        } finally {
          await admin.unsafe(`drop database if exists ${name} with (force)`);
          await admin.end();
        }
      } else {
        const pglite = await PGlite.create();
        try {
          await migratePglite(drizzlePglite({ client: pglite }), { migrationsFolder: older });
          for (const statement of beforeUpgrade) await pglite.exec(statement);
          outcome = await upgradeAndRecompute(await openDatabase({ kind: 'pglite', pglite }));
        } finally {
          await pglite.close();
        }
      }
      expect(outcome.result).toMatchObject({ accounts: 0, insufficientData: 1, scoresRemoved: 1 });
      expect(outcome.rows).toEqual([{ score: null, status: 'insufficient_data' }]);
      expect(outcome.history).toEqual([
        { score: 100, status: 'healthy' },
        { score: null, status: 'insufficient_data' },
      ]);
    } finally {
      await rm(older, { recursive: true, force: true });
    }
  });
});
