import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { createHealthRefresher } from '../domain/health/refresh.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient, silentLogger } from './support/graphql.ts';
import { addSentiment, addTicket, daysBefore } from './support/signals.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');

const database = useTestDatabase();

describe('health through the API', () => {
  it('shows an account score with its components, reasons, trend and the CSM sentiment beside it', async () => {
    const { db } = database;
    const csm = await createUser(db, { role: 'csm' });
    const account = await createAccount(db, { name: 'Api Health Co', stageKey: 'mature_adoption', csmId: csm.id });
    await addTicket(db, account.id, NOW, { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 30 });
    await recomputeHealth(db, { now: daysBefore(NOW, 2), accountIds: [account.id] });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 9 });
    await addTicket(db, account.id, NOW, { severity: 'urgent', openedDaysAgo: 3 });
    await recomputeHealth(db, { now: NOW, accountIds: [account.id] });
    await addSentiment(db, account.id, NOW, 'positive');

    const client = createGraphqlClient(db);
    const token = await createToken(db, 'viewer');
    const response = await client.request(
      `query ($id: ID!) { account(id: $id) { health {
          score status scoreDayAgo dropSinceYesterday reasons modelVersion
          components { name score weight detail }
          history(days: 30) { score status }
          sentiment { sentiment } } } }`,
      { id: account.id },
      token,
    );
    expect(response.body.errors).toBeUndefined();
    const health = (response.body.data?.account as { health: Record<string, unknown> }).health;
    expect(health).toMatchObject({
      score: 28,
      status: 'critical',
      scoreDayAgo: 100,
      dropSinceYesterday: 72,
      modelVersion: 1,
      history: [{ score: 28, status: 'critical' }, { score: 100, status: 'healthy' }],
      sentiment: { sentiment: 'positive' },
    });
    expect(health.reasons).toEqual(['2 open urgent tickets, oldest 9 days', 'no usage or NPS/CSAT or engagement data: scored on support']);
    expect(health.components).toContainEqual({ name: 'support', score: 28, weight: 100, detail: '2 open tickets, oldest 9 days' });
    expect(health.components).toContainEqual({ name: 'nps', score: null, weight: 0, detail: expect.stringMatching(/^no NPS or CSAT answer/) });

    const atRisk = await client.request(`query ($csm: ID) { atRisk(csmId: $csm) { account { name } score drop reasons csm { id } } }`, { csm: csm.id }, token);
    expect(atRisk.body.data?.atRisk).toEqual([
      { account: { name: 'Api Health Co' }, score: 28, drop: 72, reasons: health.reasons, csm: { id: csm.id } },
    ]);
  });

  it('lets an admin change thresholds for a segment and refuses anyone else', async () => {
    const { db } = database;
    const client = createGraphqlClient(db);
    const mutation = `mutation { updateHealthSettings(scope: "smb", weights: { usage: 50, support: 20, nps: 20, engagement: 10 }, healthyMin: 75, atRiskMin: 45) { scope healthyMin atRiskMin weights { usage } } }`;
    const refused = await client.request(mutation, {}, await createToken(db, 'manager'));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const saved = await client.request(mutation, {}, await createToken(db, 'admin'));
    expect(saved.body.data?.updateHealthSettings).toEqual({ scope: 'smb', healthyMin: 75, atRiskMin: 45, weights: { usage: 50 } });
    const read = await client.request(`{ healthSettings { scope healthyMin } }`, {}, await createToken(db, 'viewer'));
    expect(read.body.data?.healthSettings).toContainEqual({ scope: 'smb', healthyMin: 75 });
    expect(read.body.data?.healthSettings).toContainEqual({ scope: 'default', healthyMin: 70 });
  });

  it('recomputes an account soon after a ticket or an NPS answer arrives, without waiting for the hourly run', async () => {
    const { db } = database;
    const account = await createAccount(db, { name: 'Fresh Signals Co', stageKey: 'mature_adoption' });
    await addTicket(db, account.id, new Date(), { severity: 'low', openedDaysAgo: 40, resolvedDaysAgo: 30 });
    await recomputeHealth(db, { accountIds: [account.id] });
    const refresher = createHealthRefresher({ db, logger: silentLogger, delayMs: 60_000 });
    const client = createGraphqlClient(db, { onSignals: (ids) => refresher.touch(ids) });
    const integration = await createToken(db, 'integration');
    const health = async () => {
      const response = await client.request(`query ($id: ID!) { account(id: $id) { health { score status reasons } } }`, { id: account.id }, await createToken(db, 'viewer'));
      return (response.body.data?.account as { health: { score: number; status: string; reasons: string[] } }).health;
    };
    expect(await health()).toMatchObject({ score: 100, status: 'healthy' });

    const ticket = await client.request(
      `mutation ($account: ID!, $at: DateTime!) { recordTicket(accountId: $account, severity: urgent, subject: "Exports fail", openedAt: $at) { id } }`,
      { account: account.id, at: new Date(Date.now() - 60_000).toISOString() },
      integration,
    );
    expect(ticket.body.errors).toBeUndefined();
    const survey = await client.request(
      `mutation ($account: ID!, $at: DateTime!) { recordNps(accountId: $account, score: 3, respondentRole: "champion", respondedAt: $at) { id } }`,
      { account: account.id, at: new Date(Date.now() - 60_000).toISOString() },
      integration,
    );
    expect(survey.body.errors).toBeUndefined();
    // Gathered, not yet recomputed: the score moves when the refresher runs (after its delay, or flushed here).
    expect(await health()).toMatchObject({ score: 100, status: 'healthy' });
    await refresher.stop();
    const refreshed = await health();
    expect(refreshed.score).toBeLessThan(70);
    expect(refreshed.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/1 open urgent ticket/), expect.stringMatching(/NPS 3 from the champion/)]));
  });

  it('says insufficient_data with a null score for an account with no customer signal, null health for one never computed, and scores the first after a ticket', async () => {
    const { db } = database;
    const empty = await createAccount(db, { name: 'Empty Signals Co', stageKey: 'onboarding', enteredAt: daysBefore(new Date(), 3) });
    const fresh = await createAccount(db, { name: 'Never Computed Co', stageKey: 'onboarding' });
    await recomputeHealth(db, { accountIds: [empty.id] });
    const refresher = createHealthRefresher({ db, logger: silentLogger, delayMs: 60_000 });
    const client = createGraphqlClient(db, { onSignals: (ids) => refresher.touch(ids) });
    const viewer = await createToken(db, 'viewer');
    const health = async (id: string) => {
      const response = await client.request(`query ($id: ID!) { account(id: $id) { health { score status dropOverWeek components { name score weight } } } }`, { id }, viewer);
      expect(response.body.errors).toBeUndefined();
      return (response.body.data?.account as { health: unknown }).health;
    };
    expect(await health(empty.id)).toEqual({
      score: null,
      status: 'insufficient_data',
      dropOverWeek: null,
      components: ['usage', 'support', 'nps', 'engagement'].map((name) => ({ name, score: null, weight: 0 })),
    });
    expect(await health(fresh.id)).toBeNull();

    const ticket = await client.request(
      `mutation ($account: ID!, $at: DateTime!) { recordTicket(accountId: $account, severity: high, subject: "Login loop", openedAt: $at) { id } }`,
      { account: empty.id, at: new Date(Date.now() - 60_000).toISOString() },
      await createToken(db, 'integration'),
    );
    expect(ticket.body.errors).toBeUndefined();
    await refresher.stop();
    // A ticket is customer signal: support just under 85 (a high ticket a minute old costs a little over 15), and
    // now the SLA (3 days of 14: 100) counts beside it as engagement. (85 + 100) / 2, just under 92.5.
    expect(await health(empty.id)).toMatchObject({ score: 92, status: 'healthy' });
  });
});
