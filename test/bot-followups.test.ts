import { eq } from 'drizzle-orm';
import { systemReader } from '../domain/actors.ts';
import { describe, expect, it } from 'vitest';
import { ActionIds } from '../bot/ids.ts';
import { encodeDigestValue } from '../bot/views/digest.ts';
import { type User, outbox } from '../db/schema.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { getHandoff } from '../domain/handoffs/handoffs.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { field } from './support/slack-answers.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { type SlackRequestClient, appHomeOpenedEvent, buttonAction, slashCommand } from './support/slack-requests.ts';
import { DAY_MS } from '../domain/dates.ts';

const HANDOFF_CHANNEL = 'C0FOLLOW01';

let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let ae: User;
let csm: User;
let manager: User;
let viewer: User;

useSlackHarness({ env: { LIFELINE_RENEWAL_WINDOW_DAYS: '30', SLACK_HANDOFF_CHANNEL: HANDOFF_CHANNEL }, delivery: { pollMs: 50, perTargetIntervalMs: 0 } }, async (harness) => {
  ({ database, fake, slack } = harness);
  harness.lifeline.delivery.start();
  ae = await createUser(database.db, { role: 'ae', name: 'Ava Seller', slackUserId: 'UFOLAE001' });
  csm = await createUser(database.db, { role: 'csm', name: 'Cal Keeper', slackUserId: 'UFOLCSM01' });
  manager = await createUser(database.db, { role: 'manager', name: 'Mia Lead', slackUserId: 'UFOLMGR01' });
  viewer = await createUser(database.db, { role: 'viewer', name: 'Vera Watch', slackUserId: 'UFOLVIEW1' });
});

function daysFromNow(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

async function command(user: User, text: string): Promise<RecordedCall | undefined> {
  const responseUrl = fake.responseUrl(`${text.replace(/\W+/g, '-')}-${user.slackUserId}`);
  await slack.command(slashCommand({ text, user_id: user.slackUserId ?? '', response_url: responseUrl }));
  const [call] = await fake.waitForCalls('response_url', 1);
  fake.reset();
  return call;
}

/** Every static select in what Slack received, with the values it offers. */
function selectsIn(blocks: unknown): string[][] {
  const found: string[][] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (field(value, 'type') === 'static_select') {
      const options = field(value, 'options');
      found.push(Array.isArray(options) ? options.map((option) => String(field(option, 'value'))) : []);
      return;
    }
    Object.values(value).forEach(visit);
  };
  visit(blocks);
  return found;
}

describe('the configured renewal window reaches Slack', () => {
  it('with a 30-day window, /lifeline renewals and App Home leave out a renewal 45 days away and say 30 days', async () => {
    const owner = await createUser(database.db, { role: 'csm', name: 'Rita Renew', slackUserId: 'UFOLREN01' });
    await createAccount(database.db, { name: 'Soon Renewing Co', csmId: owner.id, contractEnd: daysFromNow(20) });
    await createAccount(database.db, { name: 'Later Renewing Co', csmId: owner.id, contractEnd: daysFromNow(45) });

    const answer = await command(owner, 'renewals');
    const answerJson = JSON.stringify(answer?.body.blocks);
    expect(answerJson).toContain('*1 renewal* in the next 30 days');
    expect(answerJson).toContain('Soon Renewing Co');
    expect(answerJson).not.toContain('Later Renewing Co');
    expect(String(answer?.body.text)).not.toContain('Later Renewing Co');

    await slack.event(appHomeOpenedEvent({ userId: 'UFOLREN01' }));
    const [published] = await fake.waitForCalls('views.publish', 1);
    const view = published?.body.view;
    expect(validateView(view)).toEqual([]);
    const homeJson = JSON.stringify(view);
    expect(homeJson).toContain('1 renewal in the next 30 days');
    expect(homeJson).toContain('*Renewals in the next 30 days*');
    expect(homeJson).not.toContain('90 days');
  });

  it('/lifeline help names the configured window for renewals', async () => {
    const answer = await command(csm, 'help');
    expect(String(answer?.body.text)).toContain('`/lifeline renewals`: your renewals in the next 30 days');
  });
});

describe('stage selects offer only the moves the reader may make', () => {
  it('an AE sees only Onboarding on their Pre-onboarding account, with no reason asked', async () => {
    await createAccount(database.db, { name: 'Fresh Deal Co', stageKey: 'pre_onboarding', aeId: ae.id, csmId: csm.id });
    const card = await command(ae, 'account Fresh Deal Co');
    expect(selectsIn(card?.body.blocks)).toEqual([['onboarding']]);
    expect(JSON.stringify(card?.body.blocks)).not.toContain('asks for a reason');
  });

  it('a CSM sees one step forward, every earlier stage and Churned, and is told which of them ask for a reason', async () => {
    await createAccount(database.db, { name: 'Building Co', stageKey: 'implementation', csmId: csm.id });
    const card = await command(csm, 'account Building Co');
    expect(selectsIn(card?.body.blocks)).toEqual([['pre_onboarding', 'onboarding', 'early_adoption', 'churned']]);
    expect(JSON.stringify(card?.body.blocks)).toContain('Moving to Pre-onboarding, Onboarding or Churned asks for a reason');
  });

  it('a manager sees every other stage', async () => {
    await createAccount(database.db, { name: 'Managed Co', stageKey: 'implementation', csmId: csm.id });
    const card = await command(manager, 'account Managed Co');
    expect(selectsIn(card?.body.blocks)).toEqual([['pre_onboarding', 'onboarding', 'early_adoption', 'mature_adoption', 'churned']]);
  });

  it('a viewer sees the card with no stage select at all', async () => {
    await createAccount(database.db, { name: 'Watched Co', stageKey: 'implementation', csmId: csm.id });
    const card = await command(viewer, 'account Watched Co');
    expect(JSON.stringify(card?.body.blocks)).toContain('Watched Co');
    expect(selectsIn(card?.body.blocks)).toEqual([]);
    expect(JSON.stringify(card?.body.blocks)).toContain(ActionIds.shareCard);
  });

  it("the digest's Move stage form offers a CSM the same choices as their card", async () => {
    const account = await createAccount(database.db, { name: 'Digest Move Co', stageKey: 'implementation', csmId: csm.id });
    await slack.blockAction(
      buttonAction({
        userId: csm.slackUserId ?? '',
        actionId: ActionIds.digestMoveStage,
        blockId: `digest:${account.id}`,
        value: encodeDigestValue({ accountId: account.id, csmId: null, page: 0 }),
        responseUrl: fake.responseUrl('digest-move'),
        container: { type: 'message', channelId: 'C0DIGEST1', messageTs: '1700000000.000300', isEphemeral: false },
        message: { blocks: [], text: 'digest', ts: '1700000000.000300' },
      }),
    );
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(validateView(opened?.body.view)).toEqual([]);
    // Churned is among the choices, so the form also offers the churn reasons a move there must name.
    expect(selectsIn(opened?.body.view)).toEqual([
      ['pre_onboarding', 'onboarding', 'early_adoption', 'churned'],
      ['budget', 'champion_left', 'product_gaps', 'competitor', 'acquired', 'out_of_business', 'poor_onboarding', 'low_adoption'],
    ]);
  });
});

describe('a handoff acted on by a manager', () => {
  /** The delivery loop records the ts just after Slack answers: wait for the row to say so. */
  async function sentTs(dedupeKey: string): Promise<string> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const [row] = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, dedupeKey));
      if (row?.status === 'sent' && row.slackTs) return row.slackTs;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${dedupeKey} was not delivered`);
  }

  function press(user: User, actionId: string, handoffId: string, ts: string) {
    return slack.blockAction(
      buttonAction({
        userId: user.slackUserId ?? '',
        actionId,
        blockId: `handoff:${handoffId}:1`,
        value: handoffId,
        responseUrl: fake.responseUrl(`${actionId}-${user.slackUserId}`),
        container: { type: 'message', channelId: HANDOFF_CHANNEL, messageTs: ts, isEphemeral: false },
        message: { blocks: [], text: 'handoff', ts },
      }),
    );
  }

  it('says "Confirmed by <manager> for <AE>" when a manager confirms for the AE, and the CSM accepting is named plainly', async () => {
    const { handoff } = await recordClosedWon(database.db, {
      opportunityId: 'opp-followups-1',
      account: { externalId: 'crm-followups-1', name: 'Absent Seller Co', segment: 'enterprise', arrCents: 9_600_000, contractStart: '2026-12-01', contractEnd: '2027-11-30' },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(),
      context: { goals: 'Go live fast.', promises: 'None.', stakeholders: 'Dana', risks: 'New team.' },
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    if (!handoff) throw new Error('no handoff was created');
    const ts = await sentTs(`handoff:${handoff.id}:v1`);

    await press(manager, ActionIds.handoffConfirm, handoff.id, ts);
    const [confirmed] = await fake.waitForCalls('chat.update', 1);
    expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toMatchObject({ status: 'confirmed', aeId: ae.id, confirmedBy: manager.id });
    expect(JSON.stringify(confirmed?.body.blocks)).toContain('Confirmed by <@UFOLMGR01> for <@UFOLAE001>');
    expect(String(confirmed?.body.text)).toContain('Confirmed by Mia Lead for Ava Seller.');

    await press(csm, ActionIds.handoffAccept, handoff.id, ts);
    const updates = await fake.waitForCalls('chat.update', 2);
    const accepted = JSON.stringify(updates[1]?.body.blocks);
    expect(accepted).toContain('Confirmed by <@UFOLMGR01> for <@UFOLAE001>');
    expect(accepted).toContain('Accepted by <@UFOLCSM01>');
    expect(accepted).not.toContain('Accepted by <@UFOLCSM01> for');
  });
});
