import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputeHealth } from '../domain/health.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { addSentiment, addTicket, daysBefore } from './health-fixtures.ts';

const NOW = new Date('2026-11-25T12:00:00.000Z');

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.destroy();
});

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
});
