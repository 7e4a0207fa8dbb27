import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../db/schema.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import type { TestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';
import { validateView } from './support/block-kit.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { createAccountWithHealth } from './support/health.ts';
import { type SlackRequestClient, appHomeOpenedEvent } from './support/slack-requests.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { DAY_MS } from '../domain/dates.ts';

let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let csm: User;

useSlackHarness({}, async (harness) => {
  ({ database, fake, slack } = harness);
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
});

describe('App Home', () => {
  it('shows the person their book: accounts by stage with health and trend, handoffs waiting on them, renewals, at-risk items', async () => {
    const soon = new Date(Date.now() + 30 * DAY_MS).toISOString().slice(0, 10);
    const risky = await createAccountWithHealth(
      database.db,
      { name: 'Acme Analytics', csmId: csm.id, stageKey: 'mature_adoption', contractEnd: soon },
      { score: 35, status: 'critical', scoreDayAgo: 60, scoreWeekAgo: 70, reasons: ['Weekly active users down 48%'] },
    );
    const steady = await createAccountWithHealth(
      database.db,
      { name: 'Borealis Bank', csmId: csm.id, stageKey: 'implementation' },
      { score: 81, status: 'healthy', scoreDayAgo: 80, scoreWeekAgo: 77 },
    );
    const ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UAE00001' });
    const { handoff } = await recordClosedWon(database.db, {
      opportunityId: 'opp-home-1',
      account: { externalId: 'crm-home-1', name: 'Cobalt Logistics', segment: 'smb', arrCents: 1_200_000 },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(),
      context: {},
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    expect(handoff?.status).toBe('pending');

    const response = await slack.event(appHomeOpenedEvent({ userId: 'UCSM0001' }));
    expect(response.status).toBe(200);
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(published?.outcome).toBe('ok');
    expect(published?.body.user_id).toBe('UCSM0001');
    const view = published?.body.view;
    expect(validateView(view)).toEqual([]);
    const json = JSON.stringify(view);
    expect(json).toContain("Sam Okafor's book");
    expect(json).toContain('*Acme Analytics* · :red_circle: Critical 35 ▼25');
    expect(json).toContain(`*Acme Analytics* · ${soon} (in 30 days)`);
    expect(json).toContain('*Mature adoption* (1)');
    expect(json).toContain('Borealis Bank · :large_green_circle: Healthy 81 ▲4');
    expect(json).toContain('*Onboarding* (1)');

    // The AE sees the handoff that waits on them.
    fake.reset();
    await slack.event(appHomeOpenedEvent({ userId: 'UAE00001' }));
    const [aeHome] = await fake.waitForCalls('views.publish', 1);
    expect(JSON.stringify(aeHome?.body.view)).toContain('*Cobalt Logistics*: confirm the sales context');
  });

  it('an unlinked person is told why there is nothing to show', async () => {
    await slack.event(appHomeOpenedEvent({ userId: 'UNOBODY01' }));
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(validateView(published?.body.view)).toEqual([]);
    expect(JSON.stringify(published?.body.view)).toContain('Your Slack account is not linked to Lifeline yet');
  });

  it('a retried event (same event_id) is handled once', async () => {
    const event = appHomeOpenedEvent({ userId: 'UCSM0001' });
    await slack.event(event);
    await fake.waitForCalls('views.publish', 1);
    const retry = await slack.event(event, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    expect(retry.status).toBe(200);
    // A different event afterwards: once it is published, the retry before it has long been dropped.
    await slack.event(appHomeOpenedEvent({ userId: 'UNOBODY02' }));
    const calls = await fake.waitForCalls('views.publish', 2);
    expect(calls.filter((call) => call.body.user_id === 'UCSM0001')).toHaveLength(1);
  });
});
