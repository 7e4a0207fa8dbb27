import type { Block } from '@slack/types';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { type Account, type ContactRole, type User, csmSentiments } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { DAY_MS } from '../domain/dates.ts';
import { markContactLeft, upsertContacts } from '../domain/people/contacts.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { cardBlockIdIn, field } from './support/slack-answers.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import {
  type SlackRequestClient,
  type ViewStateValues,
  clickedButton,
  ephemeralBlockAction,
  homeBlockAction,
  messageBlockAction,
  modalBlockAction,
  slashCommand,
  viewSubmissionPayload,
} from './support/slack-requests.ts';
import { typedText } from './support/task-clicks.ts';

// "Set sentiment" on the account card, wherever the card is: an ephemeral answer to `/lifeline account`, a card
// shared in a conversation (a message everyone there can click), and a card in a modal opened from App Home. The
// form opens on top (views.push in a modal, views.open elsewhere); once submitted, the card is redrawn where it is
// with the sentiment and its date beside the score. Someone without the right is told why, privately.

let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let cara: User;
let otto: User;
let vera: User;
let sequence = 0;

useSlackHarness({ delivery: { perTargetIntervalMs: 0 }, drainBetweenTests: true }, async (started) => {
  ({ database, fake, slack } = started);
  cara = await createUser(database.db, { role: 'csm', name: 'Cara Csm', slackUserId: 'USENTCARA' });
  otto = await createUser(database.db, { role: 'csm', name: 'Otto Othercsm', slackUserId: 'USENTOTTO' });
  vera = await createUser(database.db, { role: 'viewer', name: 'Vera Viewer', slackUserId: 'USENTVERA' });
});

function nextId(label: string): string {
  sequence += 1;
  return `${label}${sequence}`;
}

function slackId(user: User): string {
  if (!user.slackUserId) throw new Error(`${user.name} has no Slack id`);
  return user.slackUserId;
}

function isBlock(value: unknown): value is Block {
  return typeof field(value, 'type') === 'string';
}

function blocksOf(value: unknown): Block[] {
  return Array.isArray(value) ? value.filter(isBlock) : [];
}

async function answersTo(responseId: string, count = 1): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const found = fake.calls.filter((call) => call.responseId === responseId);
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${count} answers through ${responseId}: ${JSON.stringify(fake.calls.map((call) => call.method))}`);
}

async function accountOf(name: string): Promise<Account> {
  return createAccount(database.db, { name: `${name} ${nextId('')}`, csmId: cara.id });
}

/** The card as `/lifeline account` answers it: ephemeral, through the command's response_url. */
async function ephemeralCard(user: User, account: Account): Promise<{ responseId: string; blocks: unknown }> {
  const responseId = nextId('card');
  await slack.command(slashCommand({ text: `account ${account.name}`, user_id: slackId(user), response_url: fake.responseUrl(responseId) }));
  const [card] = await answersTo(responseId);
  expect(card?.body.response_type).toBe('ephemeral');
  expect(validateBlocks(card?.body.blocks, 'message')).toEqual([]);
  fake.reset();
  return { responseId, blocks: card?.body.blocks };
}

/** The card in a modal, as "Open" on App Home shows it. */
async function cardModalFromHome(user: User, account: Account): Promise<{ viewId: string; blocks: unknown }> {
  await slack.blockAction(homeBlockAction({ userId: slackId(user) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
  const [opened] = await fake.waitForCalls('views.open', 1);
  const view = field(opened?.body, 'view');
  expect(validateView(view)).toEqual([]);
  fake.reset();
  return { viewId: nextId('VCARD'), blocks: field(view, 'blocks') };
}

/** The "Set sentiment" button as the card shows it. */
function sentimentButton(blocks: unknown) {
  const actions = blocksOf(blocks).find((block) => block.type === 'actions');
  const element = (field(actions, 'elements') as unknown[] | undefined)?.find((item) => field(item, 'action_id') === ActionIds.setSentiment);
  if (!element) throw new Error(`no Set sentiment button in ${JSON.stringify(blocks)}`);
  return clickedButton({ actionId: ActionIds.setSentiment, blockId: cardBlockIdIn(blocks), value: String(field(element, 'value')), text: 'Set sentiment' });
}

function hasSentimentButton(blocks: unknown): boolean {
  return JSON.stringify(blocks).includes(ActionIds.setSentiment);
}

function chose(sentiment: string | null, note: string | null): ViewStateValues {
  return {
    [FieldIds.sentiment]: { [INPUT_ACTION]: sentiment ? { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: sentiment }, value: sentiment } } : { type: 'radio_buttons', selected_option: null } },
    [FieldIds.note]: { [INPUT_ACTION]: typedText(note) },
  };
}

/** The form the click opened (views.open, or views.push over a modal), and submitting it as Slack would. */
async function openedForm(method: 'views.open' | 'views.push') {
  const [opened] = await fake.waitForCalls(method, 1);
  expect(opened?.outcome).toBe('ok');
  const view = field(opened?.body, 'view');
  expect(validateView(view)).toEqual([]);
  expect(field(view, 'callback_id')).toBe(CallbackIds.setSentiment);
  return {
    view,
    submit: (user: User, values: ViewStateValues) =>
      slack.viewSubmission(
        viewSubmissionPayload({
          userId: slackId(user),
          callbackId: CallbackIds.setSentiment,
          privateMetadata: String(field(view, 'private_metadata')),
          blocks: blocksOf(field(view, 'blocks')),
          values,
        }),
      ),
  };
}

async function sentimentsOf(account: Account) {
  return database.db.select().from(csmSentiments).where(eq(csmSentiments.accountId, account.id));
}

/** The CSM sentiment field of a card, as Slack received it. */
function sentimentFieldIn(blocks: unknown): string {
  for (const block of blocksOf(blocks)) {
    for (const item of (field(block, 'fields') as unknown[] | undefined) ?? []) {
      const text = String(field(item, 'text'));
      if (text.startsWith('*CSM sentiment*')) return text;
    }
  }
  return '';
}

describe('Set sentiment on the account card', () => {
  it('from an ephemeral card: the form opens, and the card is redrawn with the sentiment and its date beside the score', async () => {
    const account = await accountOf('Ephemeral Sentiment Co');
    const card = await ephemeralCard(cara, account);
    expect(sentimentFieldIn(card.blocks)).toBe('*CSM sentiment*\n_not set_');
    const click = await slack.blockAction(ephemeralBlockAction({ userId: slackId(cara), channelId: 'C0SENT1', responseUrl: fake.responseUrl(card.responseId) }, sentimentButton(card.blocks)));
    expect(click.status).toBe(200);
    const form = await openedForm('views.open');

    const submitted = await form.submit(cara, chose('negative', 'Budget freeze announced'));
    expect(submitted.status).toBe(200);
    expect(submitted.text).toBe('');
    const [redrawn] = await answersTo(card.responseId);
    expect(redrawn?.body.replace_original).toBe(true);
    expect(validateBlocks(redrawn?.body.blocks, 'message')).toEqual([]);
    const shown = sentimentFieldIn(redrawn?.body.blocks);
    expect(shown).toMatch(/^\*CSM sentiment\*\n:red_circle: Negative · <!date\^\d+\^\{date_short_pretty\} at \{time\}\|\d{4}-\d\d-\d\dT[^>]+>\n“Budget freeze announced”$/);
    // Only an ephemeral card offers to share itself: the redrawn one still does.
    expect(JSON.stringify(redrawn?.body.blocks)).toContain(ActionIds.shareCard);
    expect(String(redrawn?.body.text)).toContain('CSM sentiment negative');
    expect((await sentimentsOf(account)).map((row) => [row.sentiment, row.note, row.authorId])).toEqual([['negative', 'Budget freeze announced', cara.id]]);
  });

  it('from a card shared in a conversation: its CSM sets it; a viewer who clicks the same card is told why, privately', async () => {
    const account = await accountOf('Shared Sentiment Co');
    const card = await ephemeralCard(cara, account);
    // The card as posted for everyone, through "Share in channel".
    const shareId = nextId('share');
    await slack.blockAction(
      ephemeralBlockAction({ userId: slackId(cara), channelId: 'C0SENT2', responseUrl: fake.responseUrl(shareId) }, clickedButton({ actionId: ActionIds.shareCard, blockId: cardBlockIdIn(card.blocks), value: account.id })),
    );
    const [shared] = (await answersTo(shareId, 2)).filter((call) => call.body.response_type === 'in_channel');
    expect(hasSentimentButton(shared?.body.blocks)).toBe(true);
    fake.reset();

    const messageResponse = nextId('message');
    const clickOnMessage = (user: User) =>
      slack.blockAction(
        messageBlockAction(
          { userId: slackId(user), channelId: 'C0SENT2', messageTs: '1700000600.000100', responseUrl: fake.responseUrl(messageResponse), blocks: blocksOf(shared?.body.blocks), text: String(shared?.body.text) },
          sentimentButton(shared?.body.blocks),
        ),
      );
    expect((await clickOnMessage(vera)).status).toBe(200);
    const [refusal] = await answersTo(messageResponse);
    expect(refusal?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(refusal?.body.text)).toBe(`Your role (viewer) cannot set the sentiment of ${account.name}. Ask ${account.name}'s CSM, their manager or an admin.`);
    expect(fake.callsTo('views.open')).toEqual([]);
    fake.reset();

    await clickOnMessage(cara);
    const form = await openedForm('views.open');
    expect(JSON.stringify(form.view)).not.toContain('Now:');
    expect((await form.submit(cara, chose('positive', null))).status).toBe(200);
    const [redrawn] = await answersTo(messageResponse);
    expect(redrawn?.body.replace_original).toBe(true);
    expect(redrawn?.body.response_type).toBeUndefined();
    expect(sentimentFieldIn(redrawn?.body.blocks)).toMatch(/^\*CSM sentiment\*\n:large_green_circle: Positive · <!date/);
    // A card in a conversation is for everyone there: it does not offer to share itself again.
    expect(JSON.stringify(redrawn?.body.blocks)).not.toContain(ActionIds.shareCard);
    expect((await sentimentsOf(account)).map((row) => row.sentiment)).toEqual(['positive']);
  });

  it('from a card in a modal opened from App Home: the form is pushed on top, then the card below is updated', async () => {
    const account = await accountOf('Modal Sentiment Co');
    const modal = await cardModalFromHome(cara, account);
    await slack.blockAction(modalBlockAction({ userId: slackId(cara), viewId: modal.viewId, blocks: blocksOf(modal.blocks) }, sentimentButton(modal.blocks)));
    const form = await openedForm('views.push');
    expect(fake.callsTo('views.open')).toEqual([]);
    expect((await form.submit(cara, chose('neutral', 'Waiting on their reorg'))).status).toBe(200);
    const [updated] = await fake.waitForCalls('views.update', 1);
    expect(updated?.body.view_id).toBe(modal.viewId);
    expect(validateView(field(updated?.body, 'view'))).toEqual([]);
    expect(sentimentFieldIn(field(field(updated?.body, 'view'), 'blocks'))).toContain(':white_circle: Neutral · <!date');

    // The form shows the current one, chosen already.
    fake.reset();
    await slack.blockAction(modalBlockAction({ userId: slackId(cara), viewId: modal.viewId, blocks: blocksOf(modal.blocks) }, sentimentButton(modal.blocks)));
    const again = await openedForm('views.push');
    expect(JSON.stringify(again.view)).toContain('"initial_option":{"text":{"type":"plain_text","text":"Neutral","emoji":true},"value":"neutral"}');
  });

  it('another CSM is refused from an ephemeral card and from a modal (where the answer is a DM), and the form says what is missing', async () => {
    const account = await accountOf('Refused Sentiment Co');
    const card = await ephemeralCard(cara, account);
    // The card as Otto sees it offers no Set sentiment: the account is not his.
    expect(hasSentimentButton((await ephemeralCard(otto, account)).blocks)).toBe(false);
    const refusedId = nextId('refused');
    await slack.blockAction(ephemeralBlockAction({ userId: slackId(otto), channelId: 'C0SENT3', responseUrl: fake.responseUrl(refusedId) }, sentimentButton(card.blocks)));
    const [refusal] = await answersTo(refusedId);
    expect(refusal?.body.response_type).toBe('ephemeral');
    expect(String(refusal?.body.text)).toBe(`Only ${account.name}'s own CSM, their manager or an admin can set the sentiment of ${account.name}. Ask them.`);

    fake.reset();
    const modal = await cardModalFromHome(cara, account);
    await slack.blockAction(modalBlockAction({ userId: slackId(otto), viewId: modal.viewId, blocks: blocksOf(modal.blocks) }, sentimentButton(modal.blocks)));
    const [dm] = await fake.waitForCalls('chat.postMessage', 1);
    expect(dm?.body.channel).toBe(slackId(otto));
    expect(String(dm?.body.text)).toContain('Only');
    expect(fake.callsTo('views.push')).toEqual([]);

    // Submitting without a choice comes back on the input; a form submitted by someone without the right is replaced.
    fake.reset();
    await slack.blockAction(ephemeralBlockAction({ userId: slackId(cara), channelId: 'C0SENT3', responseUrl: fake.responseUrl(card.responseId) }, sentimentButton(card.blocks)));
    const form = await openedForm('views.open');
    const empty = await form.submit(cara, chose(null, null));
    expect(empty.json()).toEqual({ response_action: 'errors', errors: { [FieldIds.sentiment]: 'Choose positive, neutral or negative.' } });
    const forged = await form.submit(otto, chose('positive', null));
    expect(field(forged.json(), 'response_action')).toBe('update');
    expect(JSON.stringify(forged.json())).toContain('own CSM, their manager or an admin');
    expect(await sentimentsOf(account)).toEqual([]);
  });

  it('shows the champion and sponsor compactly, and a champion who left, within Slack limits for an account with 200 contacts', async () => {
    const account = await accountOf('Crowded Contacts Co');
    const rows: { accountId: string; name: string; email: string; role: ContactRole }[] = [];
    const roles: ContactRole[] = ['champion', 'executive_sponsor', 'admin', 'user'];
    for (let index = 0; index < 200; index += 1) {
      const role = roles[index % 4] ?? 'user';
      rows.push({ accountId: account.id, name: `${role === 'champion' ? 'Champ' : 'Person'} ${String(index).padStart(3, '0')} ${'x'.repeat(150)}`, email: `p${index}@crowded.example`, role });
    }
    const { contacts } = await upsertContacts(database.db, { actor: actorFromUser(cara), contacts: rows });
    const champion = contacts[0];
    if (!champion) throw new Error('no champion');
    await markContactLeft(database.db, { actor: actorFromUser(cara), contactId: champion.id, leftAt: new Date(Date.now() - 12 * DAY_MS - 3_600_000) });

    const card = await ephemeralCard(cara, account);
    const json = JSON.stringify(card.blocks);
    expect(json).toContain('*Champions* Champ 004');
    expect(json).toContain('+46 more');
    expect(json).toContain('*Sponsors* Person 001');
    expect(json).toContain('+47 more');
    expect(json).toContain(':warning: champion left 12 days ago (Champ 000');
    expect(json).not.toContain('Person 002');
    const modal = await cardModalFromHome(cara, account);
    expect(JSON.stringify(modal.blocks)).toContain('champion left 12 days ago');
  });
});
