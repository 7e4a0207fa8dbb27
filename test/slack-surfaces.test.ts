import { readFileSync } from 'node:fs';
import type { Block } from '@slack/types';
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, RenewalCallActions, cardBlockId, renewalActionsBlockId } from '../bot/ids.ts';
import { renderRenewal } from '../bot/renewal-surfaces.ts';
import { loadDueTasks } from '../bot/task-lists.ts';
import { handoffMessage } from '../bot/views/handoff.ts';
import { leadMessage } from '../bot/views/leads.ts';
import { alertMessage } from '../bot/views/notifications.ts';
import { taskNoteMessage } from '../bot/views/tasks.ts';
import { SHARE_NEEDS_A_CONVERSATION } from '../bot/listeners/actions/card-buttons.ts';
import { SLACK_BUSY_MESSAGE } from '../bot/replies.ts';
import { DIGEST_PAGE_SIZE, atRiskDigest, encodeDigestValue, escalationMessage } from '../bot/views/digest.ts';
import { appHome, renewalsMessage } from '../bot/views/home.ts';
import { type Account, type Lead, type User, accountHealth, outbox, renewalCalls, renewalOutcomes, renewals, slackMessages } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { addDays, isoDay } from '../domain/dates.ts';
import { listDigestItems } from '../domain/digest.ts';
import { userTarget } from '../domain/notifications.ts';
import { enqueueNotification } from '../domain/outbox.ts';
import { createTask } from '../domain/plays/tasks.ts';
import { openDueRenewals } from '../domain/renewals/window.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import type { Book } from '../domain/accounts/book.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { createAccountWithHealth } from './support/health.ts';
import { accountRow, handoffRow, leadRow, rowId } from './support/rows.ts';
import {
  type SlackRequestClient,
  appHomeOpenedEvent,
  clickedButton,
  clickedStaticSelect,
  ephemeralBlockAction,
  homeBlockAction,
  messageBlockAction,
  modalBlockAction,
  slashCommand,
  viewSubmissionPayload,
} from './support/slack-requests.ts';
import { cardBlockIdIn, field } from './support/slack-answers.ts';
import { type SlackHarness, startSlackHarness, useSlackHarness } from './support/slack-harness.ts';

// Every action Lifeline renders, on every surface it appears on (bot/views, bot/ids.ts). The last describe derives
// the (action, surface) pairs from the views as rendered and fails on a pair without a test clicking it there:
//   account_open          ephemeral (the chooser), message (alerts, renewal checkpoints), Home tab
//   account_stage_select, account_set_sentiment, account_playbook_start
//                         ephemeral card, card shared in a conversation (message), card in a modal (from Home)
//   account_card_share    ephemeral card only
//   task_menu             ephemeral (/lifeline tasks, the card), message (morning DM, notes), modal card, Home tab
//   digest_*              message (the posted digest) and ephemeral (`/lifeline at-risk`, "Show more")
//   renewal_*             message (the checkpoint) and Home tab
//   handoff_*, lead_*     message only (test/bot-handoffs.test.ts, test/bot-leads.test.ts)
// Clicks on the Home tab and in modals carry no response_url: the answers there are views and DMs.

const HANDOFF_CHANNEL = 'C0HANDOFF9';

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let csm: User;
let viewer: User;
let sequence = 0;

useSlackHarness({ env: { SLACK_HANDOFF_CHANNEL: HANDOFF_CHANNEL }, delivery: { perTargetIntervalMs: 0 }, drainBetweenTests: true }, async (harness) => {
  ({ database, fake, lifeline, slack } = harness);
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'USURFCSM1' });
  viewer = await createUser(database.db, { role: 'viewer', name: 'Vic Reader', slackUserId: 'USURFVIEW1' });
});

function slackId(user: User): string {
  if (!user.slackUserId) throw new Error(`${user.name} has no Slack id`);
  return user.slackUserId;
}

function nextId(label: string): string {
  sequence += 1;
  return `${label}-${sequence}`;
}

async function answerTo(responseId: string, count = 1): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const found = fake.calls.filter((call) => call.responseId === responseId);
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${count} answers through ${responseId}: ${JSON.stringify(fake.calls.map((call) => call.method))}`);
}

async function ephemeralCard(user: User, accountName: string): Promise<{ blockId: string; responseUrl: string; responseId: string }> {
  const responseId = nextId('card');
  const responseUrl = fake.responseUrl(responseId);
  await slack.command(slashCommand({ text: `account ${accountName}`, user_id: slackId(user), response_url: responseUrl }));
  const [card] = await answerTo(responseId);
  fake.reset();
  return { blockId: cardBlockIdIn(card?.body.blocks), responseUrl, responseId };
}

/** The card modal opened from the Home tab, as Slack would send it back with a click inside it. */
function isBlock(value: unknown): value is Block {
  return typeof field(value, 'type') === 'string';
}

async function cardModalFromHome(user: User, account: Account): Promise<{ viewId: string; blocks: Block[] }> {
  await slack.blockAction(homeBlockAction({ userId: slackId(user) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
  const [opened] = await fake.waitForCalls('views.open', 1);
  const view = field(opened?.body, 'view');
  const blocks = field(view, 'blocks');
  fake.reset();
  return { viewId: nextId('VCARD'), blocks: Array.isArray(blocks) ? blocks.filter(isBlock) : [] };
}

describe('the payload of each surface, as Slack sends it', () => {
  it('a click on the Home tab or in a modal carries the view and no response_url, channel or message; an ephemeral click no message', () => {
    const button = clickedButton({ actionId: 'a', blockId: 'b', value: 'v' });
    for (const click of [homeBlockAction({ userId: 'U1' }, button), modalBlockAction({ userId: 'U1' }, button)]) {
      expect(click.container).toEqual({ type: 'view', view_id: click.view.id });
      expect(click).not.toHaveProperty('response_url');
      expect(click).not.toHaveProperty('channel');
      expect(click).not.toHaveProperty('message');
    }
    expect(homeBlockAction({ userId: 'U1' }, button).view.type).toBe('home');
    expect(modalBlockAction({ userId: 'U1' }, button).view.type).toBe('modal');
    const ephemeral = ephemeralBlockAction({ userId: 'U1', channelId: 'D1', responseUrl: 'http://x/r' }, button);
    expect(ephemeral).toMatchObject({ container: { type: 'message', is_ephemeral: true, channel_id: 'D1' }, response_url: 'http://x/r' });
    expect(ephemeral).not.toHaveProperty('message');
    const posted = messageBlockAction({ userId: 'U1', channelId: 'C1', messageTs: '1.2', responseUrl: 'http://x/r' }, button);
    expect(posted).toMatchObject({ container: { type: 'message', is_ephemeral: false, message_ts: '1.2' }, channel: { id: 'C1' }, message: { ts: '1.2' } });
  });
});

describe('Open', () => {
  it('on the Home tab opens the card in a modal, with its stage select and without a share button', async () => {
    const account = await createAccount(database.db, { name: 'Home Harbor Co', csmId: csm.id, stageKey: 'onboarding' });
    const response = await slack.blockAction(homeBlockAction({ userId: slackId(csm) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
    expect(response.status).toBe(200);
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(opened?.outcome).toBe('ok');
    const view = field(opened?.body, 'view');
    expect(validateView(view)).toEqual([]);
    expect(JSON.stringify(view)).toContain('Home Harbor Co');
    expect(cardBlockIdIn(field(view, 'blocks'))).toBe(cardBlockId(account.id, 1));
    expect(JSON.stringify(view)).not.toContain(ActionIds.shareCard);
    expect(fake.callsTo('response_url')).toEqual([]);
  });

  it('in the account chooser replaces the chooser with the card, only for the clicker', async () => {
    const account = await createAccount(database.db, { name: 'Chooser Pick Co', csmId: csm.id });
    const responseId = nextId('chooser');
    await slack.blockAction(
      ephemeralBlockAction({ userId: slackId(csm), channelId: 'C0SURF001', responseUrl: fake.responseUrl(responseId) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'chooser', value: account.id })),
    );
    const [card] = await answerTo(responseId);
    expect(card?.body).toMatchObject({ response_type: 'ephemeral', replace_original: true });
    expect(validateBlocks(card?.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(card?.body.blocks)).toContain(ActionIds.shareCard);
  });

  it('on an alert posted in a DM shows the card beside it, only for the clicker', async () => {
    const account = await createAccount(database.db, { name: 'Alert Beside Co', csmId: csm.id });
    const responseId = nextId('alert');
    await slack.blockAction(
      messageBlockAction(
        { userId: slackId(csm), channelId: `D${slackId(csm)}`, messageTs: '1700000001.000100', responseUrl: fake.responseUrl(responseId), text: 'alert' },
        clickedButton({ actionId: ActionIds.openAccount, blockId: `alert:${account.id}`, value: account.id }),
      ),
    );
    const [card] = await answerTo(responseId);
    expect(card?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(cardBlockIdIn(card?.body.blocks)).toBe(cardBlockId(account.id, 1));
  });

  it('on the Home tab, when it fails, the person is told why in a DM, since there is no response_url', async () => {
    const gone = '00000000-0000-4000-8000-00000000dead';
    await slack.blockAction(homeBlockAction({ userId: slackId(csm) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: gone })));
    const [dm] = await fake.waitForCalls('chat.postMessage', 1);
    expect(dm?.body.channel).toBe(slackId(csm));
    expect(String(dm?.body.text)).toMatch(/That account no longer exists in Lifeline/);
    expect(fake.callsTo('views.open')).toEqual([]);
  });
});

describe('the stage select on a card in a modal (opened from the Home tab)', () => {
  it('moves the stage and redraws the card in that modal', async () => {
    const account = await createAccount(database.db, { name: 'Modal Forward Co', csmId: csm.id, stageKey: 'onboarding' });
    const modal = await cardModalFromHome(csm, account);
    await slack.blockAction(
      modalBlockAction(
        { userId: slackId(csm), viewId: modal.viewId, blocks: modal.blocks },
        clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: cardBlockIdIn(modal.blocks), selectedValue: 'implementation' }),
      ),
    );
    const [updated] = await fake.waitForCalls('views.update', 1);
    expect(updated?.outcome).toBe('ok');
    expect(updated?.body.view_id).toBe(modal.viewId);
    expect(validateView(field(updated?.body, 'view'))).toEqual([]);
    expect(cardBlockIdIn(field(field(updated?.body, 'view'), 'blocks'))).toBe(cardBlockId(account.id, 2));
    expect(fake.callsTo('response_url')).toEqual([]);
  });

  it('asks for the reason of a backward move in a modal pushed on top, then redraws the card below it', async () => {
    const account = await createAccount(database.db, { name: 'Modal Backward Co', csmId: csm.id, stageKey: 'implementation' });
    const modal = await cardModalFromHome(csm, account);
    await slack.blockAction(
      modalBlockAction(
        { userId: slackId(csm), viewId: modal.viewId, blocks: modal.blocks },
        clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: cardBlockIdIn(modal.blocks), selectedValue: 'onboarding' }),
      ),
    );
    const [pushed] = await fake.waitForCalls('views.push', 1);
    expect(fake.callsTo('views.open')).toEqual([]);
    const reasonForm = field(pushed?.body, 'view');
    const privateMetadata = String(field(reasonForm, 'private_metadata'));
    fake.reset();
    const submitted = await slack.viewSubmission(
      viewSubmissionPayload({
        userId: slackId(csm),
        callbackId: CallbackIds.stageMove,
        privateMetadata,
        values: { [FieldIds.reason]: { [INPUT_ACTION]: { type: 'plain_text_input', value: 'Kickoff has to be redone' } } },
      }),
    );
    expect(submitted.status).toBe(200);
    const [updated] = await fake.waitForCalls('views.update', 1);
    expect(updated?.body.view_id).toBe(modal.viewId);
    expect(cardBlockIdIn(field(field(updated?.body, 'view'), 'blocks'))).toBe(cardBlockId(account.id, 2));
  });

  it('on a stale card, says who moved the account meanwhile inside the modal and shows it as it is now', async () => {
    const manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel', slackUserId: nextId('UMGR').toUpperCase().replace(/-/g, '') });
    const account = await createAccount(database.db, { name: 'Modal Stale Co', csmId: csm.id, stageKey: 'onboarding' });
    const modal = await cardModalFromHome(csm, account);
    const managerCard = await ephemeralCard(manager, 'Modal Stale Co');
    await slack.blockAction(
      ephemeralBlockAction(
        { userId: slackId(manager), channelId: 'C0SURF002', responseUrl: managerCard.responseUrl },
        clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: managerCard.blockId, selectedValue: 'implementation' }),
      ),
    );
    await answerTo(managerCard.responseId);
    fake.reset();
    await slack.blockAction(
      modalBlockAction(
        { userId: slackId(csm), viewId: modal.viewId, blocks: modal.blocks },
        clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: cardBlockIdIn(modal.blocks), selectedValue: 'early_adoption' }),
      ),
    );
    const [updated] = await fake.waitForCalls('views.update', 1);
    const view = JSON.stringify(field(updated?.body, 'view'));
    expect(view).toMatch(/Modal Stale Co changed since you loaded it .*Maya Patel moved it to Implementation/);
    expect(cardBlockIdIn(field(field(updated?.body, 'view'), 'blocks'))).toBe(cardBlockId(account.id, 2));
  });
});

describe('digest buttons, on the posted digest and on the ephemeral one', () => {
  function atRiskAccount(name: string): Promise<Account> {
    return createAccountWithHealth(database.db, { name, csmId: csm.id, stageKey: 'mature_adoption' }, { score: 30, status: 'critical', scoreDayAgo: 60, reasons: ['Fewer logins'] });
  }

  const surfaces = ['message', 'ephemeral'] as const;
  function click(surface: (typeof surfaces)[number], actionId: string, value: string, responseId: string) {
    const where = { userId: slackId(csm), channelId: `D${slackId(csm)}`, responseUrl: fake.responseUrl(responseId) };
    const button = clickedButton({ actionId, blockId: 'digest_item', value });
    return slack.blockAction(surface === 'message' ? messageBlockAction({ ...where, messageTs: '1700000002.000100', text: 'digest' }, button) : ephemeralBlockAction(where, button));
  }

  for (const surface of surfaces) {
    it(`on the ${surface} digest: acknowledge and snooze redraw it in place, open shows the card beside it, move stage opens a form, show more pages`, async () => {
      const account = await atRiskAccount(`Digest ${surface} Co`);
      const value = encodeDigestValue({ accountId: account.id, csmId: csm.id, page: 0 });

      for (const actionId of [ActionIds.digestAcknowledge, ActionIds.digestSnooze]) {
        const id = nextId(actionId);
        await click(surface, actionId, value, id);
        const [redrawn] = await answerTo(id);
        expect(redrawn?.body).toMatchObject({ replace_original: true });
        expect(validateBlocks(redrawn?.body.blocks, 'message')).toEqual([]);
      }

      const openId = nextId('open');
      await click(surface, ActionIds.digestOpenAccount, value, openId);
      const [card] = await answerTo(openId);
      expect(card?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(cardBlockIdIn(card?.body.blocks)).toBe(cardBlockId(account.id, 1));

      const moreId = nextId('more');
      await click(surface, ActionIds.digestShowMore, encodeDigestValue({ accountId: '', csmId: csm.id, page: 0 }), moreId);
      const [page] = await answerTo(moreId);
      // A page asked for in an ephemeral message replaces it; a posted digest stays for the others.
      expect(page?.body).toMatchObject({ response_type: 'ephemeral', replace_original: surface === 'ephemeral' });

      fake.reset();
      await click(surface, ActionIds.digestMoveStage, value, nextId('move'));
      const [opened] = await fake.waitForCalls('views.open', 1);
      expect(opened?.outcome).toBe('ok');
      expect(JSON.stringify(field(opened?.body, 'view'))).toContain(`Digest ${surface} Co`);
      await database.db.delete(accountHealth).where(eq(accountHealth.accountId, account.id));
    });
  }
});

describe('Share in channel', () => {
  it('from a card in a DM the bot is not in, posts it for everyone through the click, where chat.postMessage would fail', async () => {
    const account = await createAccount(database.db, { name: 'Private Share Co', csmId: csm.id });
    const card = await ephemeralCard(csm, 'Private Share Co');
    const dm = 'D0OTHERDM1';
    // As Slack answers for a conversation the bot is not a member of.
    fake.failWhen('chat.postMessage', ({ body }) => (body.channel === dm ? { error: 'channel_not_found' } : undefined));
    await slack.blockAction(
      ephemeralBlockAction({ userId: slackId(csm), channelId: dm, responseUrl: card.responseUrl }, clickedButton({ actionId: ActionIds.shareCard, blockId: card.blockId, value: account.id })),
    );
    const [shared, removed] = await answerTo(card.responseId, 2);
    expect(shared?.outcome).toBe('ok');
    expect(shared?.body).toMatchObject({ response_type: 'in_channel', replace_original: false });
    expect(cardBlockIdIn(shared?.body.blocks)).toBe(cardBlockId(account.id, 1));
    expect(removed?.body).toEqual({ delete_original: true });
    expect(JSON.stringify(fake.calls)).not.toMatch(/Something went wrong/);
  });
});

describe('Share in channel, where there is no conversation', () => {
  it('from a card in a modal, tells the person by DM how to share it instead of failing', async () => {
    const account = await createAccount(database.db, { name: 'Modal Share Co', csmId: csm.id });
    await slack.blockAction(modalBlockAction({ userId: slackId(csm) }, clickedButton({ actionId: ActionIds.shareCard, blockId: cardBlockId(account.id, 1), value: account.id })));
    const [dm] = await fake.waitForCalls('chat.postMessage', 1);
    expect(dm?.body.channel).toBe(slackId(csm));
    expect(String(dm?.body.text)).toBe(SHARE_NEEDS_A_CONVERSATION);
    expect(fake.callsTo('response_url')).toEqual([]);
  });
});

describe("the account's audit thread", () => {
  it('a card a viewer shared in a DM does not pull the audit notes in: they start a thread in the handoff channel and reply in it', async () => {
    const account = await createAccount(database.db, { name: 'Thread Keeper Co', csmId: csm.id, stageKey: 'onboarding' });
    const viewerCard = await ephemeralCard(viewer, 'Thread Keeper Co');
    const dm = `D${slackId(viewer)}`;
    await slack.blockAction(
      ephemeralBlockAction({ userId: slackId(viewer), channelId: dm, responseUrl: viewerCard.responseUrl }, clickedButton({ actionId: ActionIds.shareCard, blockId: viewerCard.blockId, value: account.id })),
    );
    const [shared] = await answerTo(viewerCard.responseId, 2);
    // A viewer may share what they can read.
    expect(shared?.body).toMatchObject({ response_type: 'in_channel' });
    fake.reset();

    // The CSM moves the stage twice on the shared card, in the DM.
    const sharedTs = '1700000003.000100';
    const moveOnSharedCard = async (toStage: string, version: number) => {
      const id = nextId('shared-move');
      await slack.blockAction(
        messageBlockAction(
          { userId: slackId(csm), channelId: dm, messageTs: sharedTs, responseUrl: fake.responseUrl(id), text: 'card' },
          clickedStaticSelect({ actionId: ActionIds.stageSelect, blockId: cardBlockId(account.id, version), selectedValue: toStage }),
        ),
      );
      const [redrawn] = await answerTo(id);
      expect(redrawn?.body).toMatchObject({ replace_original: true });
    };
    await moveOnSharedCard('implementation', 1);
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    const [first] = fake.callsTo('chat.postMessage');
    expect(first?.body.channel).toBe(HANDOFF_CHANNEL);
    expect(first?.body).not.toHaveProperty('thread_ts');
    const [thread] = await database.db.select().from(slackMessages).where(eq(slackMessages.messageKey, `account:${account.id}`));
    expect(thread?.channel).toBe(HANDOFF_CHANNEL);
    fake.reset();

    await moveOnSharedCard('early_adoption', 2);
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    const [second] = fake.callsTo('chat.postMessage');
    expect(second?.body.channel).toBe(HANDOFF_CHANNEL);
    expect(second?.body.thread_ts).toBe(thread?.ts);
    expect(fake.calls.filter((call) => call.body.channel === dm)).toEqual([]);
  });
});

describe('a modal that Slack is too busy to open', () => {
  let busy: SlackHarness;
  beforeAll(async () => {
    // The retries of interactive calls that production uses: only trigger-id calls must not retry.
    busy = await startSlackHarness({ slackRetryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2000 } });
  });
  afterAll(async () => {
    await busy?.close();
  });

  it('is tried once, not again after Retry-After with an expired trigger id, and the person is told to try again', async () => {
    const owner = await createUser(busy.database.db, { role: 'csm', name: 'Bea Busy', slackUserId: 'USURFBUSY1' });
    const account = await createAccount(busy.database.db, { name: 'Busy Slack Co', csmId: owner.id, stageKey: 'onboarding' });
    busy.fake.failWhen('views.open', () => ({ status: 429, retryAfterSeconds: 5 }));

    // From an ephemeral digest: the answer comes through the click's response_url.
    const responseUrl = busy.fake.responseUrl('busy-digest');
    await busy.slack.blockAction(
      ephemeralBlockAction(
        { userId: 'USURFBUSY1', channelId: 'DUSURFBUSY1', responseUrl },
        clickedButton({ actionId: ActionIds.digestMoveStage, blockId: 'digest_item', value: encodeDigestValue({ accountId: account.id, csmId: owner.id, page: 0 }) }),
      ),
    );
    const [told] = await busy.fake.waitForCalls('response_url', 1, 15_000);
    expect(told?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: SLACK_BUSY_MESSAGE });
    const opens = busy.fake.callsTo('views.open');
    expect(opens).toHaveLength(1);
    expect(opens[0]?.outcome).toBe('rate_limited');
    busy.fake.calls.length = 0;

    // From the Home tab: no response_url, so the answer is a DM.
    await busy.slack.blockAction(homeBlockAction({ userId: 'USURFBUSY1' }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
    const [dm] = await busy.fake.waitForCalls('chat.postMessage', 1, 15_000);
    expect(dm?.body).toMatchObject({ channel: 'USURFBUSY1', text: SLACK_BUSY_MESSAGE });
    expect(busy.fake.callsTo('views.open')).toHaveLength(1);
  });
});

describe('lists say what they left out', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  const longName = (index: number) => `Account${String(index).padStart(4, '0')}${'n'.repeat(192)}`;

  function longAccount(index: number, overrides: Partial<Account> = {}): Account {
    return accountRow({ id: rowId(index), name: longName(index), arrCents: 12_345_600, ...overrides });
  }

  function texts(value: unknown): string[] {
    if (Array.isArray(value)) return value.flatMap(texts);
    if (typeof value !== 'object' || value === null) return [];
    const own = typeof Reflect.get(value, 'text') === 'string' ? [String(Reflect.get(value, 'text'))] : [];
    return [...own, ...Object.values(value).flatMap(texts)];
  }

  /** How many of `names` the blocks show, plus how many an "…and N more" line with `hint` counts. */
  function accounted(blocks: unknown, names: string[], more: RegExp): { shown: number; counted: number } {
    const all = texts(blocks).join('\n');
    const shown = names.filter((name) => all.includes(name)).length;
    const match = more.exec(all);
    return { shown, counted: match ? Number(match[1]) : 0 };
  }

  it('the renewals answer shows or counts every one of 300 renewals with 200-character names, within Slack limits', () => {
    const renewals = Array.from({ length: 300 }, (_, index) => longAccount(index));
    const message = renewalsMessage(renewals, now, 90);
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect(texts(message.blocks).join('').length).toBeLessThan(12_000);
    const { shown, counted } = accounted(message.blocks, renewals.map((account) => account.name), /…and (\d+) more: the GraphQL query `renewals\(withinDays: 90\)` lists them all/);
    expect(shown).toBeGreaterThan(0);
    expect(shown + counted).toBe(300);
    expect(JSON.stringify(message.blocks)).toContain('*300 renewals* in the next 90 days');
  });

  it('App Home shows or counts every account, handoff, renewal and at-risk item with 200-character names, within 100 blocks', () => {
    const stages = Array.from({ length: 12 }, (_, index) => ({ ...defaultStages[0], key: `stage_${index}`, name: `Stage ${index}`, position: index, slaDays: null, terminal: false, ownerRole: 'csm' as const, entryCriteria: '', exitCriteria: '' }));
    const accounts = Array.from({ length: 240 }, (_, index) => longAccount(index, { stageKey: `stage_${index % 12}` }));
    const handoffAccounts = Array.from({ length: 150 }, (_, index) => longAccount(1000 + index));
    const book: Book = {
      accounts: accounts.map((account) => ({ account, health: null })),
      handoffsWaiting: handoffAccounts.map((account) => ({
        ...handoffRow({ id: account.id, opportunityId: `opp-${account.id}`, accountId: account.id, closedWonAt: now, slaDueAt: new Date('2026-11-28T00:00:00Z') }),
        accountName: account.name,
      })),
      renewals: accounts.slice(0, 150),
      atRisk: accounts.slice(0, 30).map((account) => ({ account, score: 30, status: 'critical' as const, scoreDayAgo: 50, drop: 20, reasons: ['Fewer logins'], renewalDate: null, csm: null, followUp: null })),
    };
    const home = appHome({ user: { name: 'Sam Okafor' }, book, stages, now, renewalWindowDays: 90 });
    expect(validateView(home)).toEqual([]);
    expect(home.blocks.length).toBeLessThanOrEqual(100);
    for (const block of home.blocks) {
      const text = field(field(block, 'text'), 'text');
      if (typeof text === 'string') expect(text.length).toBeLessThanOrEqual(3000);
    }
    const json = JSON.stringify(home.blocks);

    const handoffs = accounted(home.blocks, handoffAccounts.map((account) => account.name), /…and (\d+) more: the GraphQL query `handoffs` lists them all/);
    expect(handoffs.shown + handoffs.counted).toBe(150);
    expect(handoffs.counted).toBeGreaterThan(0);

    const renewalSection = home.blocks.slice(home.blocks.findIndex((block) => JSON.stringify(block).includes('*Renewals in the next 90 days*')));
    const renewals = accounted(
      renewalSection.slice(0, renewalSection.findIndex((block) => block.type === 'divider')),
      book.renewals.map((account) => account.name),
      /…and (\d+) more: `\/lifeline renewals` shows them all/,
    );
    expect(renewals.shown + renewals.counted).toBe(150);
    expect(json).toContain('…and 20 more: `/lifeline at-risk` lists them all.');

    // Accounts by stage: each stage shown says how many it holds and where to see the rest, and stages past
    // the eighth are counted with their accounts.
    const stageCounts = [...json.matchAll(/\*Stage (\d+)\* \((\d+)\)/g)].map((match) => Number(match[2]));
    expect(stageCounts).toHaveLength(8);
    expect(json).toContain('…and 5 more: the GraphQL query `accounts(filter: { stage: \\"stage_0\\" })` lists them all.');
    const hidden = /…and (\d+) more accounts in (\d+) more stages: the GraphQL query `accounts` lists them all/.exec(json);
    expect(Number(hidden?.[2])).toBe(4);
    expect(stageCounts.reduce((sum, count) => sum + count, 0) + Number(hidden?.[1])).toBe(240);
  });

  it('the escalation to managers shows or counts every unacknowledged account, within the message limits', () => {
    const accounts = Array.from({ length: 200 }, (_, index) => ({ name: longName(index), csmName: 'Sam Okafor', status: 'critical' as const, score: 10, firstListedOn: '2026-11-20' }));
    const message = escalationMessage(accounts, '2026-11-25');
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    expect(texts(message.blocks).join('').length).toBeLessThan(12_000);
    const { shown, counted } = accounted(message.blocks, accounts.map((account) => account.name), /…and (\d+) more: today's at-risk digest lists them all/);
    expect(shown + counted).toBe(200);
  });
});

describe('every action, on every surface it is shown on', () => {
  // The cases come from the views themselves: each is rendered from a realistic book (the real bot's answers where
  // it draws them, the builders for notifications), and every action id found on a surface needs a case below that
  // clicks it there with that surface's payload through the signed receiver. A new button, or an old one on a new
  // surface, fails here until it has one.
  type Surface = 'message' | 'ephemeral' | 'modal' | 'home';
  const knownActions = new Set<string>(Object.values(ActionIds));

  function actionIdsIn(value: unknown, found = new Set<string>()): Set<string> {
    if (Array.isArray(value)) for (const item of value) actionIdsIn(item, found);
    else if (typeof value === 'object' && value !== null) {
      const id = Reflect.get(value, 'action_id');
      if (typeof id === 'string' && knownActions.has(id)) found.add(id);
      for (const child of Object.values(value)) actionIdsIn(child, found);
    }
    return found;
  }

  /**
   * Where each (action, surface) pair is clicked end to end: a test file and (part of) the name of its test, as the
   * source writes it, so a test named by a template over its surfaces is matched by the template's text.
   */
  const cases: Record<string, { file: string; test: string }> = {
    [`${ActionIds.stageSelect} on ephemeral`]: { file: 'test/slack.test.ts', test: 'moves the stage, records one transition, and redraws the ephemeral card in place' },
    [`${ActionIds.stageSelect} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'a card a viewer shared in a DM does not pull the audit notes in' },
    [`${ActionIds.stageSelect} on modal`]: { file: 'test/slack-surfaces.test.ts', test: 'moves the stage and redraws the card in that modal' },
    [`${ActionIds.shareCard} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'from a card in a DM the bot is not in, posts it for everyone' },
    [`${ActionIds.setSentiment} on ephemeral`]: { file: 'test/bot-sentiment.test.ts', test: 'from an ephemeral card: the form opens' },
    [`${ActionIds.setSentiment} on message`]: { file: 'test/bot-sentiment.test.ts', test: 'from a card shared in a conversation: its CSM sets it' },
    [`${ActionIds.setSentiment} on modal`]: { file: 'test/bot-sentiment.test.ts', test: 'from a card in a modal opened from App Home' },
    [`${ActionIds.startPlaybook} on ephemeral`]: { file: 'test/bot-playbooks.test.ts', test: 'answered to /lifeline account' },
    [`${ActionIds.startPlaybook} on message`]: { file: 'test/bot-playbooks.test.ts', test: 'shared in a channel' },
    [`${ActionIds.startPlaybook} on modal`]: { file: 'test/bot-playbooks.test.ts', test: 'in a modal opened from App Home' },
    [`${ActionIds.openAccount} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'in the account chooser replaces the chooser with the card' },
    [`${ActionIds.openAccount} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'on an alert posted in a DM shows the card beside it' },
    [`${ActionIds.openAccount} on home`]: { file: 'test/slack-surfaces.test.ts', test: 'on the Home tab opens the card in a modal' },
    [`${ActionIds.taskMenu} on ephemeral`]: { file: 'test/bot-tasks.test.ts', test: 'on the ${surface}: done, snooze a day' },
    [`${ActionIds.taskMenu} on message`]: { file: 'test/bot-tasks.test.ts', test: 'on the ${surface}: done, snooze a day' },
    [`${ActionIds.taskMenu} on modal`]: { file: 'test/bot-tasks.test.ts', test: 'on the ${surface}: done, snooze a day' },
    [`${ActionIds.taskMenu} on home`]: { file: 'test/bot-tasks.test.ts', test: 'on the ${surface}: done, snooze a day' },
    [`${ActionIds.digestAcknowledge} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'digest: acknowledge and snooze redraw it in place' },
    [`${ActionIds.digestAcknowledge} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'digest: acknowledge and snooze redraw it in place' },
    [`${ActionIds.digestSnooze} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'digest: acknowledge and snooze redraw it in place' },
    [`${ActionIds.digestSnooze} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'digest: acknowledge and snooze redraw it in place' },
    [`${ActionIds.digestMoveStage} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'move stage opens a form' },
    [`${ActionIds.digestMoveStage} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'move stage opens a form' },
    [`${ActionIds.digestOpenAccount} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'open shows the card beside it' },
    [`${ActionIds.digestOpenAccount} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'open shows the card beside it' },
    [`${ActionIds.digestShowMore} on ephemeral`]: { file: 'test/slack-surfaces.test.ts', test: 'show more pages' },
    [`${ActionIds.digestShowMore} on message`]: { file: 'test/slack-surfaces.test.ts', test: 'show more pages' },
    [`${ActionIds.handoffConfirm} on message`]: { file: 'test/bot-handoffs.test.ts', test: 'advances in place as the AE confirms, the CSM accepts and picks a kickoff date' },
    [`${ActionIds.handoffEdit} on message`]: { file: 'test/bot-handoffs.test.ts', test: 'Edit context opens a modal whose required fields are enforced' },
    [`${ActionIds.handoffAccept} on message`]: { file: 'test/bot-handoffs.test.ts', test: 'advances in place as the AE confirms, the CSM accepts and picks a kickoff date' },
    [`${ActionIds.handoffKickoff} on message`]: { file: 'test/bot-handoffs.test.ts', test: 'advances in place as the AE confirms, the CSM accepts and picks a kickoff date' },
    [`${ActionIds.leadQualify} on message`]: { file: 'test/bot-leads.test.ts', test: 'the CSM qualifies the signal from its DM' },
    [`${ActionIds.leadAccept} on message`]: { file: 'test/bot-leads.test.ts', test: 'and the AE accepts it from theirs' },
    [`${ActionIds.leadDecline} on message`]: { file: 'test/bot-leads.test.ts', test: 'the AE declines with a reason, and the CSM hears why' },
    ...Object.fromEntries(
      (['message', 'home'] as const).flatMap((surface) => [
        ...Object.values(RenewalCallActions).map((actionId) => [`${actionId} on ${surface}`, { file: 'test/slack-surfaces.test.ts', test: 'the four forecast calls on the ${surface} each record the call' }]),
        [
          `${ActionIds.renewalRecordOutcome} on ${surface}`,
          surface === 'home'
            ? { file: 'test/slack-surfaces.test.ts', test: 'Record outcome… on the home opens the form with views.open' }
            : { file: 'test/bot-renewal-calls.test.ts', test: 'opens the form; churned without a reason is a field error' },
        ],
      ]),
    ),
  };

  let book: { account: Account; renewalId: string };

  beforeAll(async () => {
    const db = database.db;
    // A CSM's realistic book: an account at risk, renewing in 5 days (so App Home gives it call buttons), with an
    // open task of theirs due today, and a second account of a similar name for the chooser.
    const account = await createAccountWithHealth(
      db,
      { name: 'Every Surface Co', csmId: csm.id, stageKey: 'mature_adoption', arrCents: 1_200_000, contractEnd: isoDay(addDays(new Date(), 5)) },
      { score: 30, status: 'critical', scoreDayAgo: 60, reasons: ['Fewer logins'] },
    );
    await createAccount(db, { name: 'Every Surface Two', csmId: csm.id, stageKey: 'onboarding' });
    // More accounts at risk than a digest page holds, so the digest offers its next page.
    for (let index = 0; index < DIGEST_PAGE_SIZE; index += 1) {
      await createAccountWithHealth(db, { name: `Every Surface Risk ${index}`, csmId: csm.id, stageKey: 'mature_adoption' }, { score: 35, status: 'critical', scoreDayAgo: 50, reasons: ['Fewer logins'] });
    }
    await recordRevenueChange(db, { accountId: account.id, kind: 'new', mrrDeltaCents: 100_000, effectiveDate: isoDay(addDays(new Date(), -300)), actor: { userId: null, role: 'admin', label: 'Test admin' } });
    await openDueRenewals(db, { windowDays: 90, accountIds: [account.id] });
    const [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
    if (!renewal) throw new Error('no renewal was opened');
    await createTask(db, { accountId: account.id, title: 'Call the champion', dueOn: isoDay(new Date()), actor: actorFromUser(csm), now: new Date() });
    book = { account, renewalId: renewal.id };
  });

  /** What `user` is shown on each surface, drawn by the bot itself where it can be asked, by the builders otherwise. */
  async function renderedSurfaces(): Promise<{ view: string; surface: Surface; blocks: unknown }[]> {
    const { account } = book;
    const shown: { view: string; surface: Surface; blocks: unknown }[] = [];
    const command = async (text: string): Promise<unknown> => {
      const id = nextId('inventory');
      await slack.command(slashCommand({ text, user_id: slackId(csm), response_url: fake.responseUrl(id) }));
      const [answer] = await answerTo(id);
      return answer?.body.blocks;
    };

    fake.reset();
    await slack.event(appHomeOpenedEvent({ userId: slackId(csm) }));
    const [home] = await fake.waitForCalls('views.publish', 1);
    shown.push({ view: 'App Home', surface: 'home', blocks: field(field(home?.body, 'view'), 'blocks') });
    fake.reset();

    const card = await ephemeralCard(csm, account.name);
    const cardBlocks = await command(`account ${account.name}`);
    shown.push({ view: 'account card (/lifeline account)', surface: 'ephemeral', blocks: cardBlocks });
    shown.push({ view: 'account chooser', surface: 'ephemeral', blocks: await command('account Every Surface') });
    shown.push({ view: '/lifeline at-risk', surface: 'ephemeral', blocks: await command('at-risk') });
    shown.push({ view: '/lifeline tasks', surface: 'ephemeral', blocks: await command('tasks') });

    const shareId = card.responseId;
    fake.reset();
    await slack.blockAction(
      ephemeralBlockAction({ userId: slackId(csm), channelId: 'C0SURFINV', responseUrl: card.responseUrl }, clickedButton({ actionId: ActionIds.shareCard, blockId: card.blockId, value: account.id })),
    );
    const [shared] = await answerTo(shareId);
    shown.push({ view: 'account card shared in a conversation', surface: 'message', blocks: shared?.body.blocks });
    fake.reset();

    shown.push({ view: 'account card in a modal (from App Home)', surface: 'modal', blocks: (await cardModalFromHome(csm, account)).blocks });

    // Notifications, posted by delivery as messages.
    const now = new Date();
    const reader = actorFromUser(csm);
    const items = await listDigestItems(database.db, { now, csmId: csm.id, reader });
    const tasks = await loadDueTasks(database.db, { reader, ownerId: csm.id, now });
    shown.push({ view: 'the morning DM (digest with tasks)', surface: 'message', blocks: atRiskDigest(items, { day: isoDay(now), now, csmId: csm.id, tasks }).blocks });
    shown.push({ view: 'the renewal checkpoint', surface: 'message', blocks: (await renderRenewal({ db: database.db }, book.renewalId, reader)).blocks });
    shown.push({ view: 'an expansion alert', surface: 'message', blocks: alertMessage({ account, rule: 'expansion_signal', reason: 'seats near the plan limit', owner: csm, audience: 'owner', firingId: 1 }).blocks });
    const firstTask = tasks.items[0];
    if (!firstTask) throw new Error('the book has no due task');
    shown.push({ view: 'a task given to someone', surface: 'message', blocks: taskNoteMessage({ item: firstTask, now, list: { kind: 'assigned' }, intro: 'A task now with you:', emoji: ':inbox_tray:' }).blocks });
    for (const status of ['pending', 'confirmed', 'accepted'] as const) {
      const handoff = handoffRow({ accountId: account.id, status });
      shown.push({ view: `the handoff message (${status})`, surface: 'message', blocks: handoffMessage({ handoff, account, ae: csm, csm, confirmedBy: null, acceptedBy: null, now }).blocks });
    }
    const lead: Lead = leadRow({ accountId: account.id });
    shown.push({ view: 'a lead for its AE', surface: 'message', blocks: leadMessage({ lead, account, qualifiedBy: csm, ae: csm }).blocks });
    return shown;
  }

  it('every action rendered on a surface has a case that clicks it there, and every case is of a button still shown there', async () => {
    const pairs = new Map<string, string[]>();
    for (const { view, surface, blocks } of await renderedSurfaces()) {
      const actionIds = actionIdsIn(blocks);
      // Each view drawn here carries buttons: one without any means it was not drawn as the person sees it.
      expect(actionIds.size, `${view} shows no action`).toBeGreaterThan(0);
      for (const actionId of actionIds) pairs.set(`${actionId} on ${surface}`, [...(pairs.get(`${actionId} on ${surface}`) ?? []), view]);
    }
    // The inventory found what the views are known to hold, so an empty or partial rendering cannot pass.
    expect(pairs.has(`${ActionIds.renewalRecordOutcome} on home`)).toBe(true);
    expect(pairs.has(`${ActionIds.taskMenu} on modal`)).toBe(true);
    const missing = [...pairs.keys()].filter((pair) => !(pair in cases)).map((pair) => `${pair} (in ${pairs.get(pair)?.join(', ')})`);
    expect(missing, 'actions shown on a surface with no test clicking them there').toEqual([]);
    const stale = Object.keys(cases).filter((pair) => !pairs.has(pair));
    expect(stale, 'cases for actions no view shows on that surface').toEqual([]);
    for (const [pair, { file, test }] of Object.entries(cases)) {
      const source = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
      const named = source.split('\n').some((line) => /\bit\(/.test(line) && line.includes(test));
      expect(named, `${pair}: no test in ${file} is named like “${test}”`).toBe(true);
    }
  });

  /** App Home as published for the CSM now, and its blocks. */
  async function publishedHome(): Promise<unknown[]> {
    fake.reset();
    await slack.event(appHomeOpenedEvent({ userId: slackId(csm) }));
    const [home] = await fake.waitForCalls('views.publish', 1);
    const blocks = field(field(home?.body, 'view'), 'blocks');
    fake.reset();
    return Array.isArray(blocks) ? blocks : [];
  }

  /** The renewal checkpoint as delivered to the CSM's DM: its blocks, channel and ts. */
  async function postedCheckpoint(): Promise<{ blocks: unknown[]; channel: string; ts: string }> {
    const dedupeKey = nextId(`renewal_checkpoint:${book.account.id}`);
    await enqueueNotification(database.db, { kind: 'renewal_checkpoint', dedupeKey, target: userTarget(csm.id), payload: { accountId: book.account.id, renewalId: book.renewalId, daysLeft: 5, reason: '5-day checkpoint' } });
    fake.reset();
    await lifeline.delivery.drainOnce();
    const [row] = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, dedupeKey));
    const [posted] = fake.callsTo('chat.postMessage');
    if (!row?.slackChannel || !row.slackTs || !posted) throw new Error(`the checkpoint was not delivered: ${row?.lastError}`);
    fake.reset();
    return { blocks: Array.isArray(posted.body.blocks) ? posted.body.blocks : [], channel: row.slackChannel, ts: row.slackTs };
  }

  function renewalClick(surface: 'message' | 'home', actionId: string, where: { blocks: unknown[]; channel?: string; ts?: string }) {
    const button = clickedButton({ actionId, blockId: renewalActionsBlockId(book.renewalId), value: book.renewalId });
    if (surface === 'home') return slack.blockAction(homeBlockAction({ userId: slackId(csm), blocks: where.blocks.filter(isBlock) }, button));
    return slack.blockAction(
      messageBlockAction({ userId: slackId(csm), channelId: where.channel ?? '', messageTs: where.ts ?? '', responseUrl: fake.responseUrl(nextId('renewal')), blocks: where.blocks, text: 'renewal' }, button),
    );
  }

  /** The renewal's buttons in `blocks`, the call marked as current first. */
  function markedCall(blocks: unknown): string | undefined {
    const actions = (Array.isArray(blocks) ? blocks : []).find((block) => field(block, 'block_id') === renewalActionsBlockId(book.renewalId));
    const elements = field(actions, 'elements');
    const marked = (Array.isArray(elements) ? elements : []).find((element) => field(element, 'style') === 'primary');
    return marked === undefined ? undefined : String(field(marked, 'action_id'));
  }

  for (const surface of ['message', 'home'] as const) {
    it(`the four forecast calls on the ${surface} each record the call and redraw the renewal there with it marked`, async () => {
      for (const [call, actionId] of Object.entries(RenewalCallActions)) {
        const where: { blocks: unknown[]; channel?: string; ts?: string } = surface === 'home' ? { blocks: await publishedHome() } : await postedCheckpoint();
        expect(markedCall(where.blocks)).not.toBe(actionId);
        await renewalClick(surface, actionId, where);
        const [redrawn] = await fake.waitForCalls(surface === 'home' ? 'views.publish' : 'chat.update', 1);
        expect(redrawn?.outcome).toBe('ok');
        const blocks = surface === 'home' ? field(field(redrawn?.body, 'view'), 'blocks') : redrawn?.body.blocks;
        if (surface === 'message') expect(redrawn?.body).toMatchObject({ channel: where.channel, ts: where.ts });
        expect(markedCall(blocks)).toBe(actionId);
        const [latest] = await database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, book.renewalId)).orderBy(desc(renewalCalls.calledAt), desc(renewalCalls.id)).limit(1);
        expect(latest?.call).toBe(call);
        expect(fake.callsTo('response_url')).toEqual([]);
      }
    });
  }

  it('Record outcome… on the home opens the form with views.open, and once recorded App Home is published again saying so; a call on the old tab is refused by DM', async () => {
    const blocks = await publishedHome();
    await renewalClick('home', ActionIds.renewalRecordOutcome, { blocks });
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(opened?.outcome).toBe('ok');
    expect(fake.callsTo('views.push')).toEqual([]);
    const form = field(opened?.body, 'view');
    expect(validateView(form)).toEqual([]);
    expect(field(form, 'callback_id')).toBe(CallbackIds.renewalOutcome);
    expect(JSON.stringify(form)).toContain('Every Surface Co');
    fake.reset();

    const submitted = await slack.viewSubmission(
      viewSubmissionPayload({
        userId: slackId(csm),
        callbackId: CallbackIds.renewalOutcome,
        privateMetadata: String(field(form, 'private_metadata')),
        values: {
          [FieldIds.outcome]: { [INPUT_ACTION]: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: 'Renewed' }, value: 'renewed' } } },
          [FieldIds.newContractEnd]: { [INPUT_ACTION]: { type: 'datepicker', selected_date: isoDay(addDays(new Date(), 370)) } },
          [FieldIds.newArrCents]: { [INPUT_ACTION]: { type: 'number_input', value: '12000' } },
        },
      }),
    );
    expect(submitted.status).toBe(200);
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(published?.outcome).toBe('ok');
    expect(published?.body.user_id).toBe(slackId(csm));
    const view = field(published?.body, 'view');
    expect(validateView(view)).toEqual([]);
    expect(JSON.stringify(view)).toContain("Recorded the renewal's outcome: renewed.");
    // Closed, the renewal no longer takes calls on Home.
    expect(markedCall(field(view, 'blocks'))).toBeUndefined();
    expect(JSON.stringify(view)).not.toContain(renewalActionsBlockId(book.renewalId));
    const [outcome] = await database.db.select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, book.renewalId));
    expect(outcome?.outcome).toBe('renewed');
    expect(fake.callsTo('response_url')).toEqual([]);

    // A call clicked on the Home tab as it was before (no response_url there) is refused and explained by DM.
    fake.reset();
    const callsBefore = await database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, book.renewalId));
    await renewalClick('home', ActionIds.renewalCallCommit, { blocks });
    const [told] = await fake.waitForCalls('chat.postMessage', 1);
    expect(told?.body.channel).toBe(slackId(csm));
    expect(String(told?.body.text)).toMatch(/Every Surface Co's renewal of .* is closed \(renewed\); forecast calls are for renewals still to decide/);
    expect(await database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, book.renewalId))).toHaveLength(callsBefore.length);
    expect(fake.callsTo('response_url')).toEqual([]);
  });

});
