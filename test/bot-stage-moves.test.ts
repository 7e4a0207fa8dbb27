import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { type User, slackMessages, stageTransitions } from '../db/schema.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { openCard, selectStage } from './support/account-card.ts';
import { validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { cardBlockIdIn, field } from './support/slack-answers.ts';
import { type SlackHarness, useSlackHarness } from './support/slack-harness.ts';
import { type SlackRequestClient, type ViewStateValues, viewSubmissionPayload } from './support/slack-requests.ts';

const HANDOFF_CHANNEL = 'C0HANDOFF1';

let harness: SlackHarness;
let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let csm: User;
let manager: User;

// Audit notes of consecutive tests share the handoff channel; pacing them a second apart is tested elsewhere. Those
// an earlier test's moves left go out before the next test, so each test sees only its own.
useSlackHarness({ env: { SLACK_HANDOFF_CHANNEL: HANDOFF_CHANNEL }, delivery: { perTargetIntervalMs: 0 }, drainBetweenTests: true }, async (started) => {
  harness = started;
  ({ database, fake, lifeline, slack } = started);
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
  manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel', slackUserId: 'UMGR0001' });
});

async function historyOf(accountId: string) {
  return database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, accountId)).orderBy(asc(stageTransitions.accountVersion));
}

function reasonValues(reason: string | null): ViewStateValues {
  return { [FieldIds.reason]: { [INPUT_ACTION]: { type: 'plain_text_input', value: reason } } };
}

async function submitModal(userId: string, opened: RecordedCall | undefined, values: ViewStateValues) {
  const view = field(opened?.body, 'view');
  const privateMetadata = field(view, 'private_metadata');
  if (typeof privateMetadata !== 'string') throw new Error('the modal has no private_metadata');
  const blocks = field(view, 'blocks');
  return slack.viewSubmission(
    viewSubmissionPayload({
      userId,
      callbackId: CallbackIds.stageMove,
      privateMetadata,
      values,
      ...(Array.isArray(blocks) ? { blocks } : {}),
    }),
  );
}

describe('moving a stage backward or to Churned', () => {
  it('asks for a reason in a modal first, and moves nothing until it is given', async () => {
    const account = await createAccount(database.db, { name: 'Lumen Retail', csmId: csm.id, stageKey: 'early_adoption' });
    const card = await openCard(harness, 'UCSM0001', 'Lumen Retail');
    expect((await selectStage(harness, 'UCSM0001', card, 'onboarding')).status).toBe(200);
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(opened?.outcome).toBe('ok');
    expect(validateView(field(opened?.body, 'view'))).toEqual([]);
    expect(JSON.stringify(field(opened?.body, 'view'))).toMatch(/Move \*Lumen Retail\* from \*Early adoption\* to \*Onboarding\*\? This moves it backward/);
    expect(await historyOf(account.id)).toHaveLength(1);

    // A submission without the reason comes back as an error on the reason field, and nothing moves.
    const missing = await submitModal('UCSM0001', opened, reasonValues(''));
    expect(missing.status).toBe(200);
    expect(missing.json()).toEqual({
      response_action: 'errors',
      errors: { [FieldIds.reason]: 'Moving Lumen Retail backward needs a reason, so the team knows why.' },
    });
    expect(await historyOf(account.id)).toHaveLength(1);

    const submitted = await submitModal('UCSM0001', opened, reasonValues('Champion left; restarting onboarding with the new team.'));
    expect(submitted.status).toBe(200);
    expect(submitted.text).toBe('');
    const [redrawn] = await fake.waitForCalls('response_url', 1);
    expect(redrawn?.body.replace_original).toBe(true);
    expect(cardBlockIdIn(redrawn?.body.blocks)).toBe(`account_card:${account.id}:2`);
    const history = await historyOf(account.id);
    expect(history[1]).toMatchObject({ direction: 'backward', toStage: 'onboarding', reason: 'Champion left; restarting onboarding with the new team.', actorId: csm.id });

    // The audit note: the account has no thread yet, so it starts one in the handoff channel.
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    const [note] = fake.callsTo('chat.postMessage');
    expect(note?.body.channel).toBe(HANDOFF_CHANNEL);
    expect(note?.body.text).toBe('Sam Okafor moved Lumen Retail from Early adoption to Onboarding: Champion left; restarting onboarding with the new team.');
    expect(JSON.stringify(note?.body.blocks)).toContain('<@UCSM0001> moved *Lumen Retail*');
  });

  it('moving to Churned asks for confirmation, with a title and button that say so', async () => {
    await createAccount(database.db, { name: 'Quarry Labs', csmId: csm.id, stageKey: 'mature_adoption' });
    const card = await openCard(harness, 'UMGR0001', 'Quarry Labs');
    await selectStage(harness, 'UMGR0001', card, 'churned');
    const [opened] = await fake.waitForCalls('views.open', 1);
    const view = field(opened?.body, 'view');
    expect(field(field(view, 'title'), 'text')).toBe('Confirm churn');
    expect(field(field(view, 'submit'), 'text')).toBe('Move to Churned');
    expect(JSON.stringify(view)).toContain('Churned is final');
  });

  it('a modal submitted after someone else moved the account says who, and moves nothing', async () => {
    const account = await createAccount(database.db, { name: 'Riverbend Clinics', csmId: csm.id, stageKey: 'implementation' });
    const card = await openCard(harness, 'UCSM0001', 'Riverbend Clinics');
    await selectStage(harness, 'UCSM0001', card, 'onboarding');
    const [opened] = await fake.waitForCalls('views.open', 1);
    const managerCard = await openCard(harness, 'UMGR0001', 'Riverbend Clinics');
    await selectStage(harness, 'UMGR0001', managerCard, 'early_adoption');
    await fake.waitForCalls('response_url', 1);

    const late = await submitModal('UCSM0001', opened, reasonValues('Rollout stalled'));
    const answer = late.json();
    expect(field(answer, 'response_action')).toBe('update');
    expect(JSON.stringify(field(answer, 'view'))).toMatch(/Riverbend Clinics changed since you loaded it .*Maya Patel moved it to Early adoption/);
    expect(validateView(field(answer, 'view'))).toEqual([]);
    expect((await historyOf(account.id)).map((row) => row.toStage)).toEqual(['implementation', 'early_adoption']);
    expect(manager.role).toBe('manager');
  });
});

describe('who may move a stage from the card', () => {
  it('an account executive cannot skip from Pre-onboarding to Mature adoption, and is told the one move they may make', async () => {
    const ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UAE00001' });
    const account = await createAccount(database.db, { name: 'Harbor Freight Co', csmId: csm.id, aeId: ae.id, stageKey: 'pre_onboarding' });
    const card = await openCard(harness, 'UAE00001', 'Harbor Freight Co');
    expect((await selectStage(harness, 'UAE00001', card, 'mature_adoption')).status).toBe(200);
    const [reply] = await fake.waitForCalls('response_url', 1);
    expect(reply?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(reply?.body.text)).toContain(
      'Account executives may move their own accounts only from Pre-onboarding one step forward (to Onboarding), so Harbor Freight Co cannot go to Mature adoption. ' +
        'Move it to Onboarding, or ask its CSM or a manager to make this move.',
    );
    expect(fake.callsTo('views.open')).toEqual([]);
    expect(await historyOf(account.id)).toHaveLength(1);

    fake.reset();
    await selectStage(harness, 'UAE00001', card, 'onboarding');
    const [redrawn] = await fake.waitForCalls('response_url', 1);
    expect(cardBlockIdIn(redrawn?.body.blocks)).toBe(`account_card:${account.id}:2`);
    expect((await historyOf(account.id)).map((row) => [row.toStage, row.actorId])).toEqual([
      ['pre_onboarding', null],
      ['onboarding', ae.id],
    ]);
  });
});

describe('the audit note of a move', () => {
  it("is a reply to the account's handoff message in the handoff channel: the bot's first post about the account there", async () => {
    const ae = await createUser(database.db, { role: 'ae', name: 'Tia Adams', slackUserId: 'UAE00077' });
    const won = await recordClosedWon(database.db, {
      opportunityId: 'opp-thread-1',
      account: { externalId: 'crm-thread-1', name: 'Tidewater Mills', segment: 'smb', arrCents: 1_200_000 },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(),
      context: {},
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    const [handoffPost] = fake.callsTo('chat.postMessage');
    expect(handoffPost?.body.channel).toBe(HANDOFF_CHANNEL);
    const [handoffMessage] = await database.db.select().from(slackMessages).where(eq(slackMessages.messageKey, `handoff:${won.handoff?.id ?? ''}`));
    fake.reset();

    const card = await openCard(harness, 'UCSM0001', 'Tidewater Mills');
    await selectStage(harness, 'UCSM0001', card, 'implementation');
    await fake.waitForCalls('response_url', 1);
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1 });
    const [note] = fake.callsTo('chat.postMessage');
    expect(note?.outcome).toBe('ok');
    expect(note?.body.channel).toBe(HANDOFF_CHANNEL);
    expect(note?.body.thread_ts).toBe(handoffMessage?.ts);
    expect(note?.body.text).toBe('Sam Okafor moved Tidewater Mills from Onboarding to Implementation');
    expect(won.account.id).toBeTruthy();
  });
});

describe('a burst of clicks', () => {
  it('acks every click and finishes every move, though only a few run their after-ack work at once', async () => {
    const names = Array.from({ length: 12 }, (_, index) => `Burst Account ${String(index + 1).padStart(2, '0')}`);
    const moved = [];
    for (const name of names) moved.push(await createAccount(database.db, { name, csmId: csm.id, stageKey: 'onboarding' }));
    const cards = [];
    for (const name of names) cards.push(await openCard(harness, 'UCSM0001', name));

    const responses = await Promise.all(cards.map((card) => selectStage(harness, 'UCSM0001', card, 'implementation')));
    expect(responses.map((response) => response.status)).toEqual(names.map(() => 200));

    // Each card is redrawn once, at its new version, and each account has exactly one new transition.
    const redraws = await fake.waitForCalls('response_url', names.length);
    expect(redraws.map((call) => cardBlockIdIn(call.body.blocks)).sort()).toEqual(moved.map((account) => `account_card:${account.id}:2`).sort());
    for (const account of moved) {
      expect((await historyOf(account.id)).map((transition) => transition.toStage)).toEqual(['onboarding', 'implementation']);
    }
  });
});
