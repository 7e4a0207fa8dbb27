import type { Block } from '@slack/types';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, cardBlockId } from '../bot/ids.ts';
import { SHARE_NEEDS_A_CONVERSATION } from '../bot/listeners/actions/card-buttons.ts';
import { SLACK_BUSY_MESSAGE } from '../bot/replies.ts';
import { encodeDigestValue, escalationMessage } from '../bot/views/digest.ts';
import { appHome, renewalsMessage } from '../bot/views/home.ts';
import { type Account, type User, accountHealth, slackMessages } from '../db/schema.ts';
import type { Book } from '../domain/accounts/book.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { createAccountWithHealth } from './support/health.ts';
import { accountRow, handoffRow, rowId } from './support/rows.ts';
import {
  type SlackRequestClient,
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

// Every action Lifeline renders, on every surface it appears on (bot/views, bot/ids.ts):
//   account_open          ephemeral (the chooser), message (alerts, renewal notes), Home tab
//   account_stage_select  ephemeral card, card shared in a conversation (message), card in a modal (from Home)
//   account_card_share    ephemeral card only
//   digest_*              message (the posted digest) and ephemeral (`/lifeline at-risk`, "Show more")
//   handoff_*             message only (the handoff message in the handoff channel): test/bot-handoffs.test.ts
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
