import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { accounts, stageTransitions, type User } from '../db/schema.ts';
import { ActionIds, CallbackIds } from '../bot/ids.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { openCard, selectStage } from './support/account-card.ts';
import { validateBlocks } from './support/block-kit.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { setHealth } from './support/health.ts';
import {
  type SlackRequestClient,
  clickedButton,
  clickedStaticSelect,
  createSlackClient,
  ephemeralBlockAction,
  messageBlockAction,
  slashCommand,
  staticSelectAction,
  viewSubmissionPayload,
} from './support/slack-requests.ts';
import { cardBlockIdIn, textOf } from './support/slack-answers.ts';
import { type SlackHarness, startSlackHarness, useSlackHarness } from './support/slack-harness.ts';

let harness: SlackHarness;
let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let csm: User;

useSlackHarness({}, async (started) => {
  harness = started;
  ({ database, fake, lifeline, slack } = started);
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
});

async function historyOf(accountId: string) {
  return database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, accountId)).orderBy(asc(stageTransitions.accountVersion));
}


describe('/lifeline account <name>', () => {
  it('answers with an ephemeral account card that fits Slack limits and carries a stage select', async () => {
    const ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UAE00001' });
    const account = await createAccount(database.db, {
      name: 'Acme Analytics',
      csmId: csm.id,
      aeId: ae.id,
      stageKey: 'onboarding',
      arrCents: 12_000_000,
      contractEnd: '2027-03-31',
    });
    await setHealth(database.db, account.id, {
      score: 55,
      status: 'at_risk',
      scoreDayAgo: 58,
      scoreWeekAgo: 71,
      reasons: ['active users down 38% vs prior 4 weeks', 'NPS 4 from the champion'],
    });
    const responseUrl = fake.responseUrl('acme-card');
    const response = await slack.command(slashCommand({ text: 'account acme analytics', user_id: 'UCSM0001', response_url: responseUrl }));
    expect(response.status).toBe(200);
    const [call] = await fake.waitForCalls('response_url', 1);
    expect(call?.outcome).toBe('ok');
    expect(call?.body.response_type).toBe('ephemeral');
    expect(textOf(call)).toMatch(/^Acme Analytics: Onboarding for 0 days, health At risk 55, ARR \$120,000, CSM Sam Okafor, renewal 2027-03-31/);
    expect(validateBlocks(call?.body.blocks, 'message')).toEqual([]);
    const rendered = JSON.stringify(call?.body.blocks);
    expect(rendered).toContain('<@UCSM0001>');
    expect(rendered).toContain('<@UAE00001>');
    expect(rendered).toContain(ActionIds.stageSelect);
    expect(rendered).toContain('At risk 55 (▼16 this week)');
    expect(rendered).toContain('active users down 38% vs prior 4 weeks · NPS 4 from the champion');
    expect(cardBlockIdIn(call?.body.blocks)).toBe(`account_card:${account.id}:1`);
  });

  it('offers a chooser when several accounts match, and says so when none does', async () => {
    await createAccount(database.db, { name: 'Globex East' });
    await createAccount(database.db, { name: 'Globex West' });
    await slack.command(slashCommand({ text: 'account globex', user_id: 'UCSM0001', response_url: fake.responseUrl('chooser') }));
    const [chooser] = await fake.waitForCalls('response_url', 1);
    expect(textOf(chooser)).toMatch(/2 accounts match "globex": Globex East, Globex West/);
    expect(validateBlocks(chooser?.body.blocks, 'message')).toEqual([]);

    fake.reset();
    await slack.command(slashCommand({ text: 'account nothing-like-this', user_id: 'UCSM0001', response_url: fake.responseUrl('none') }));
    const [none] = await fake.waitForCalls('response_url', 1);
    expect(textOf(none)).toMatch(/No account matches “nothing-like-this”/);
  });

  it('tells a Slack user who is not linked to Lifeline, ephemerally, and shows them nothing', async () => {
    await slack.command(slashCommand({ text: 'account Acme Analytics', user_id: 'UNOBODY01', response_url: fake.responseUrl('stranger') }));
    const [call] = await fake.waitForCalls('response_url', 1);
    expect(call?.body.response_type).toBe('ephemeral');
    expect(textOf(call)).toMatch(/Your Slack account is not linked to Lifeline/);
    expect(JSON.stringify(call?.body)).not.toContain('Acme');
  });

  it('answers help for an empty or unknown subcommand', async () => {
    await slack.command(slashCommand({ text: 'frobnicate', user_id: 'UCSM0001', response_url: fake.responseUrl('help') }));
    const [call] = await fake.waitForCalls('response_url', 1);
    expect(textOf(call)).toMatch(/I don't know `frobnicate`[\s\S]*\/lifeline account <name>/);
  });
});

describe('moving a stage from the card', () => {
  it('moves the stage, records one transition, and redraws the ephemeral card in place', async () => {
    const account = await createAccount(database.db, { name: 'Brightwave Health', csmId: csm.id, stageKey: 'onboarding' });
    const card = await openCard(harness, 'UCSM0001', 'Brightwave Health');
    const response = await selectStage(harness, 'UCSM0001', card, 'implementation');
    expect(response.status).toBe(200);
    const [update] = await fake.waitForCalls('response_url', 1);
    expect(update?.body.replace_original).toBe(true);
    expect(cardBlockIdIn(update?.body.blocks)).toBe(`account_card:${account.id}:2`);
    expect(textOf(update)).toMatch(/Brightwave Health: Implementation/);

    const history = await historyOf(account.id);
    expect(history).toHaveLength(2);
    expect(history[1]).toMatchObject({ fromStage: 'onboarding', toStage: 'implementation', source: 'slack', actorId: csm.id, actorLabel: 'Sam Okafor' });
  });

  it('a card shared in the conversation is posted for everyone and later redrawn in place through the click', async () => {
    const account = await createAccount(database.db, { name: 'Cobalt Logistics', csmId: csm.id, stageKey: 'implementation' });
    const card = await openCard(harness, 'UCSM0001', 'Cobalt Logistics');
    await slack.blockAction(
      ephemeralBlockAction(
        { userId: 'UCSM0001', channelId: 'C0001', responseUrl: card.responseUrl },
        clickedButton({ actionId: ActionIds.shareCard, blockId: card.blockId, value: account.id }),
      ),
    );
    const [shared, removed] = await fake.waitForCalls('response_url', 2);
    expect(shared?.body).toMatchObject({ response_type: 'in_channel', replace_original: false });
    expect(shared?.warnings).toEqual([]);
    expect(removed?.body).toEqual({ delete_original: true });
    const sharedBlockId = cardBlockIdIn(shared?.body.blocks);
    // A shared card does not offer to share itself again.
    expect(JSON.stringify(shared?.body.blocks)).not.toContain(ActionIds.shareCard);
    fake.reset();

    const ts = '1700000000.000300';
    const clicked = fake.responseUrl('shared-card');
    await slack.blockAction(
      messageBlockAction(
        { userId: 'UCSM0001', channelId: 'C0001', messageTs: ts, responseUrl: clicked, text: 'card' },
        clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: sharedBlockId, selectedValue: 'early_adoption' }),
      ),
    );
    const [update] = await fake.waitForCalls('response_url', 1);
    expect(update?.responseId).toBe('shared-card');
    expect(update?.body).toMatchObject({ replace_original: true });
    expect(update?.body).not.toHaveProperty('response_type');
    expect(cardBlockIdIn(update?.body.blocks)).toBe(`account_card:${account.id}:2`);
    expect(JSON.stringify(update?.body.blocks)).not.toContain(ActionIds.shareCard);
    const [row] = await database.db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(row?.stageKey).toBe('early_adoption');
  });

  it('a stale card says who moved the account meanwhile and shows it as it is now', async () => {
    const manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel', slackUserId: 'UMGR0001' });
    const account = await createAccount(database.db, { name: 'Driftwood Media', csmId: csm.id, stageKey: 'onboarding' });
    const staleCard = await openCard(harness, 'UCSM0001', 'Driftwood Media');
    const managerCard = await openCard(harness, 'UMGR0001', 'Driftwood Media');
    await selectStage(harness, 'UMGR0001', managerCard, 'implementation');
    await fake.waitForCalls('response_url', 1);
    fake.reset();

    await selectStage(harness, 'UCSM0001', staleCard, 'churned');
    const calls = await fake.waitForCalls('response_url', 2);
    const notice = calls.find((call) => call.body.replace_original === false);
    const refreshed = calls.find((call) => call.body.replace_original === true);
    expect(notice?.body.response_type).toBe('ephemeral');
    expect(textOf(notice)).toMatch(/Driftwood Media changed since you loaded it .*Maya Patel moved it to Implementation/);
    expect(cardBlockIdIn(refreshed?.body.blocks)).toBe(`account_card:${account.id}:2`);
    expect((await historyOf(account.id)).map((row) => row.toStage)).toEqual(['onboarding', 'implementation']);
    expect(manager.role).toBe('manager');
  });

  it.each([
    { move: 'forward', name: 'Evergreen Foods', from: 'onboarding', to: 'implementation', otherSlackId: 'UCSM0002' },
    // A backward move or a churn asks for a reason in a modal first: refused before any modal opens.
    { move: 'backward', name: 'Saltmarsh Energy', from: 'implementation', to: 'churned', otherSlackId: 'UCSM0003' },
  ])('a CSM who does not own the account is told why when moving it $move, and nothing moves', async ({ name, from, to, otherSlackId }) => {
    const other = await createUser(database.db, { role: 'csm', name: 'Lena Fischer', slackUserId: otherSlackId });
    const account = await createAccount(database.db, { name, csmId: csm.id, stageKey: from });
    const card = await openCard(harness, otherSlackId, name);
    await selectStage(harness, other.slackUserId ?? '', card, to);
    const [call] = await fake.waitForCalls('response_url', 1);
    expect(call?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(textOf(call)).toMatch(new RegExp(`You can only move accounts you own as CSM; ${name} belongs to another CSM`));
    expect(fake.callsTo('views.open')).toEqual([]);
    expect(await historyOf(account.id)).toHaveLength(1);
  });

  it('an unlinked Slack user clicking a card is told to get linked, and nothing moves', async () => {
    const account = await createAccount(database.db, { name: 'Fjord Robotics', csmId: csm.id, stageKey: 'onboarding' });
    await slack.blockAction(
      staticSelectAction({
        userId: 'UNOBODY02',
        actionId: ActionIds.stageSelect,
        blockId: `account_card:${account.id}:1`,
        selectedValue: 'implementation',
        responseUrl: fake.responseUrl('unlinked-click'),
        container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000600', isEphemeral: true },
      }),
    );
    const [call] = await fake.waitForCalls('response_url', 1);
    expect(textOf(call)).toMatch(/Your Slack account is not linked to Lifeline/);
    expect(await historyOf(account.id)).toHaveLength(1);
  });
});

describe('requests that do not come from Slack', () => {
  it('a badly signed copy of a valid stage move is rejected with 401 and changes nothing', async () => {
    const account = await createAccount(database.db, { name: 'Granite Insurance', csmId: csm.id, stageKey: 'onboarding' });
    const payload = staticSelectAction({
      userId: 'UCSM0001',
      actionId: ActionIds.stageSelect,
      blockId: `account_card:${account.id}:1`,
      selectedValue: 'implementation',
      responseUrl: fake.responseUrl('forged'),
      container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000700', isEphemeral: true },
    });
    const forged = await slack.blockAction(payload, { signature: 'v0=0000000000000000000000000000000000000000000000000000000000000000' });
    expect(forged.status).toBe(401);
    const unsigned = await slack.blockAction(payload, { omitHeaders: true });
    expect(unsigned.status).toBe(401);
    const stale = await slack.blockAction(payload, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    const wrongSecret = createSlackClient({ url: `${lifeline.url}/slack/events`, signingSecret: 'not-the-secret' });
    expect((await wrongSecret.blockAction(payload)).status).toBe(401);

    expect(await historyOf(account.id)).toHaveLength(1);
    expect(fake.calls).toEqual([]);

    // The same request, correctly signed, does move it: the rejections above were about the signature only.
    expect((await slack.blockAction(payload)).status).toBe(200);
    await fake.waitForCalls('response_url', 1);
    expect(await historyOf(account.id)).toHaveLength(2);
  });
});

describe('when the database is unavailable', () => {
  it('a command is answered ephemerally with what happened, instead of a generic failure with a reference', async () => {
    const outage = await startSlackHarness();
    try {
      await createUser(outage.database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
      await outage.database.close();
      const response = await outage.slack.command(slashCommand({ text: 'at-risk', user_id: 'UCSM0001', response_url: outage.fake.responseUrl('outage') }));
      expect(response.status).toBe(200);
      const [reply] = await outage.fake.waitForCalls('response_url', 1);
      expect(reply?.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/can't reach its database.*nothing was changed/) });
      expect(String(reply?.body.text)).not.toMatch(/reference/);

      // A modal cannot be answered through response_url: the submission's ack replaces the form with the reason.
      const submitted = await outage.slack.viewSubmission(
        viewSubmissionPayload({
          userId: 'UCSM0001',
          callbackId: CallbackIds.stageMove,
          privateMetadata: JSON.stringify({ accountId: '00000000-0000-4000-8000-000000000001', version: 1, toStage: 'implementation' }),
          values: {},
        }),
      );
      expect(submitted.status).toBe(200);
      expect(submitted.json()).toMatchObject({ response_action: 'update', view: { type: 'modal' } });
      expect(JSON.stringify(submitted.json())).toMatch(/can't reach its database right now, so nothing was changed/);
    } finally {
      await outage.close();
    }
  });
});

describe('the Slack endpoint', () => {
  it("answers Slack's URL verification and SSL check, signed, and nothing unsigned or not a POST", async () => {
    const challenge = await slack.send(JSON.stringify({ type: 'url_verification', token: 'x', challenge: 'c-8812' }), 'application/json');
    expect(challenge.status).toBe(200);
    expect(challenge.json()).toEqual({ challenge: 'c-8812' });
    const unsigned = await slack.send(JSON.stringify({ type: 'url_verification', challenge: 'c-8812' }), 'application/json', { omitHeaders: true });
    expect(unsigned.status).toBe(401);
    const sslCheck = await slack.send('ssl_check=1&token=x', 'application/x-www-form-urlencoded');
    expect(sslCheck.status).toBe(200);
    expect((await fetch(`${lifeline.url}/slack/events`)).status).toBe(405);
    expect(fake.calls).toEqual([]);
  });
});
