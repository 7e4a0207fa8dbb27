import type { Block } from '@slack/types';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { runningPlaysBlock, startPlaybookModal } from '../bot/views/playbooks.ts';
import { type Account, type User, playbookRuns, tasks } from '../db/schema.ts';
import { actorFromUser, systemReader } from '../domain/actors.ts';
import { addDays, isoDay } from '../domain/dates.ts';
import { listPlaybooks, requirePlaybook } from '../domain/plays/playbooks.ts';
import { startPlaybook } from '../domain/plays/playbook-runs.ts';
import type { Lifeline } from '../server.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import {
  type SlackRequestClient,
  appHomeOpenedEvent,
  clickedButton,
  ephemeralBlockAction,
  homeBlockAction,
  messageBlockAction,
  modalBlockAction,
  slashCommand,
  viewSubmissionPayload,
} from './support/slack-requests.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { pickedOption } from './support/task-clicks.ts';

// The account card lists the plays running on the account and offers "Start playbook" to those who may start one.
// The card is shown in an ephemeral answer (`/lifeline account`), as a message once shared in a channel, and in a
// modal opened from App Home; the button opens the form with views.open, or views.push on top of a modal.

let harness: SlackHarness;
let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let sequence = 0;

beforeAll(async () => {
  harness = await startSlackHarness({ delivery: { perTargetIntervalMs: 0 } });
  ({ database, fake, lifeline, slack } = harness);
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(async () => {
  await lifeline.delivery.drainOnce();
  fake.reset();
});

function nextId(label: string): string {
  sequence += 1;
  return `${label}${sequence}`;
}

async function person(role: User['role'], name: string): Promise<User> {
  return createUser(database.db, { role, name, slackUserId: nextId(`UP${role.toUpperCase()}`) });
}

function slackId(user: User): string {
  if (!user.slackUserId) throw new Error(`${user.name} has no Slack id`);
  return user.slackUserId;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

function blocksOf(value: unknown): Block[] {
  return Array.isArray(value) ? value.filter((block): block is Block => typeof field(block, 'type') === 'string') : [];
}

async function answersTo(responseId: string, count = 1): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const found = fake.calls.filter((call) => call.responseId === responseId);
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${count} answers through ${responseId}`);
}

/** The "Start playbook" button in a card's blocks, with its block id. */
function startButtonIn(blocks: unknown): { blockId: string; value: string } {
  for (const block of blocksOf(blocks)) {
    for (const element of (field(block, 'elements') as unknown[] | undefined) ?? []) {
      if (field(element, 'action_id') === ActionIds.startPlaybook) return { blockId: String(block.block_id), value: String(field(element, 'value')) };
    }
  }
  throw new Error(`no Start playbook button in ${JSON.stringify(blocks)}`);
}

async function ephemeralCard(user: User, account: Account): Promise<{ responseId: string; blocks: unknown }> {
  const responseId = nextId('card');
  await slack.command(slashCommand({ text: `account ${account.name}`, user_id: slackId(user), response_url: fake.responseUrl(responseId) }));
  const [card] = await answersTo(responseId);
  expect(validateBlocks(card?.body.blocks, 'message')).toEqual([]);
  fake.reset();
  return { responseId, blocks: card?.body.blocks };
}

async function cardModalFromHome(user: User, account: Account): Promise<{ viewId: string; blocks: unknown }> {
  await slack.blockAction(homeBlockAction({ userId: slackId(user) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
  const [opened] = await fake.waitForCalls('views.open', 1);
  const view = field(opened?.body, 'view');
  expect(validateView(view)).toEqual([]);
  fake.reset();
  return { viewId: nextId('VCARD'), blocks: field(view, 'blocks') };
}

type Where = { kind: 'message'; responseId: string; blocks: unknown } | { kind: 'ephemeral'; responseId: string; blocks: unknown } | { kind: 'modal'; viewId: string; blocks: unknown };

async function clickStart(user: User, where: Where): Promise<void> {
  const { blockId, value } = startButtonIn(where.blocks);
  const click = clickedButton({ actionId: ActionIds.startPlaybook, blockId, value });
  const userId = slackId(user);
  const response =
    where.kind === 'message'
      ? await slack.blockAction(
          messageBlockAction({ userId, channelId: 'C0PLAYS01', messageTs: '1700000600.000100', responseUrl: fake.responseUrl(where.responseId), blocks: blocksOf(where.blocks), text: 'card' }, click),
        )
      : where.kind === 'ephemeral'
        ? await slack.blockAction(ephemeralBlockAction({ userId, channelId: 'C0PLAYS01', responseUrl: fake.responseUrl(where.responseId) }, click))
        : await slack.blockAction(modalBlockAction({ userId, viewId: where.viewId, blocks: blocksOf(where.blocks) }, click));
  expect(response.status).toBe(200);
}

async function submitForm(user: User, view: unknown, playbookId: string) {
  return slack.viewSubmission(
    viewSubmissionPayload({
      userId: slackId(user),
      callbackId: String(field(view, 'callback_id')),
      privateMetadata: String(field(view, 'private_metadata')),
      blocks: blocksOf(field(view, 'blocks')),
      values: { [FieldIds.playbookId]: { [INPUT_ACTION]: pickedOption(playbookId) } },
    }),
  );
}

async function runsOf(accountId: string) {
  return database.db.select().from(playbookRuns).where(eq(playbookRuns.accountId, accountId)).orderBy(asc(playbookRuns.startedAt));
}

describe('the account card', () => {
  it('lists the running plays with their open tasks, and offers Start playbook to the CSM but not to an AE or a viewer', async () => {
    const sam = await person('csm', 'Sam Plays');
    const ae = await person('ae', 'Tom Plays');
    const viewer = await person('viewer', 'Vic Plays');
    const account = await createAccount(database.db, { name: 'Plover Inc', csmId: sam.id, aeId: ae.id, stageKey: 'mature_adoption' });
    await startPlaybook(database.db, { accountId: account.id, playbookKey: 'risk', actor: actorFromUser(sam), now: new Date() });
    const card = await ephemeralCard(sam, account);
    const json = JSON.stringify(card.blocks);
    expect(json).toContain(':clipboard: Running plays: *Risk* (3 open tasks)');
    expect(startButtonIn(card.blocks).value).toBe(account.id);
    for (const other of [ae, viewer]) {
      const theirs = await ephemeralCard(other, account);
      expect(JSON.stringify(theirs.blocks)).not.toContain(ActionIds.startPlaybook);
    }
  });
});

describe('Start playbook', () => {
  for (const surface of ['ephemeral', 'message', 'modal'] as const) {
    it(`from a card ${surface === 'modal' ? 'in a modal opened from App Home' : surface === 'message' ? 'shared in a channel' : 'answered to /lifeline account'}: the form lists the active playbooks and starting one creates its tasks`, async () => {
      const sam = await person('csm', `Sam ${surface}`);
      const ae = await person('ae', `Tom ${surface}`);
      const account = await createAccount(database.db, { name: `Sandpiper ${surface} Co`, csmId: sam.id, aeId: ae.id, stageKey: 'mature_adoption' });
      const where: Where =
        surface === 'modal'
          ? { kind: 'modal', ...(await cardModalFromHome(sam, account)) }
          : { kind: surface, ...(await ephemeralCard(sam, account)) };
      await clickStart(sam, where);
      const method = surface === 'modal' ? 'views.push' : 'views.open';
      const [opened] = await fake.waitForCalls(method, 1);
      expect(opened?.outcome).toBe('ok');
      const view = field(opened?.body, 'view');
      expect(validateView(view)).toEqual([]);
      expect(field(view, 'callback_id')).toBe(CallbackIds.playbookStart);
      const active = await listPlaybooks(database.db, { reader: systemReader });
      const options = JSON.stringify(field(view, 'blocks'));
      for (const { playbook } of active) expect(options).toContain(playbook.id);

      const expansion = await requirePlaybook(database.db, { key: 'expansion' });
      fake.reset();
      const submitted = await submitForm(sam, view, expansion.playbook.id);
      expect(submitted.status).toBe(200);
      // The ack closes the form; what was created comes by DM.
      expect(submitted.text).toBe('');
      const [dm] = await fake.waitForCalls('chat.postMessage', 1);
      expect(dm?.body.channel).toBe(slackId(sam));
      expect(validateBlocks(dm?.body.blocks, 'message')).toEqual([]);
      expect(String(dm?.body.text)).toContain(`Started *Expansion* on *Sandpiper ${surface} Co*:`);
      expect(String(dm?.body.text)).toContain(`• Take the qualified expansion to the customer · Tom ${surface} · due ${isoDay(addDays(new Date(), 14))}`);
      if (surface === 'modal') {
        // The card below the form is redrawn with the play it now runs.
        const [updated] = await fake.waitForCalls('views.update', 1);
        expect(updated?.body.view_id).toBe(where.kind === 'modal' ? where.viewId : '');
        expect(JSON.stringify(field(updated?.body, 'view'))).toContain('Running plays: *Expansion* (2 open tasks)');
      }
      const [run] = await runsOf(account.id);
      expect(run).toMatchObject({ trigger: 'manual', status: 'running', startedBy: sam.id });
      const rows = await database.db.select().from(tasks).where(eq(tasks.playbookRunId, run!.id)).orderBy(asc(tasks.dueOn));
      expect(rows.map((t) => [t.ownerId, t.dueOn])).toEqual([
        [sam.id, isoDay(addDays(new Date(), 7))],
        [ae.id, isoDay(addDays(new Date(), 14))],
      ]);

      // Starting it again while it runs is refused inside the form, saying why.
      const again = await submitForm(sam, view, expansion.playbook.id);
      expect(JSON.stringify(again.json())).toContain(`“Expansion” is already running for Sandpiper ${surface} Co since`);
      expect(await runsOf(account.id)).toHaveLength(1);
    });
  }

  it("on a card shared in a channel, another CSM's click is told why and no form opens", async () => {
    const sam = await person('csm', 'Sam Shared');
    const lena = await person('csm', 'Lena Shared');
    const account = await createAccount(database.db, { name: 'Gannet Shared Co', csmId: sam.id, stageKey: 'mature_adoption' });
    const card = await ephemeralCard(sam, account);
    const responseId = nextId('shared');
    await clickStart(lena, { kind: 'message', responseId, blocks: card.blocks });
    const [told] = await answersTo(responseId);
    expect(told?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: "Only Gannet Shared Co's own CSM, their manager or an admin can start playbooks on it." });
    expect(fake.callsTo('views.open')).toEqual([]);
    expect(await runsOf(account.id)).toEqual([]);
  });

  it('App Home and the morning work show playbook tasks with the playbook they belong to', async () => {
    const sam = await person('csm', 'Sam Home');
    const account = await createAccount(database.db, { name: 'Tern Home Co', csmId: sam.id, stageKey: 'onboarding' });
    await startPlaybook(database.db, { accountId: account.id, playbookKey: 'onboarding', actor: actorFromUser(sam), now: addDays(new Date(), -6) });
    await slack.event(appHomeOpenedEvent({ userId: slackId(sam) }));
    const [published] = await fake.waitForCalls('views.publish', 1);
    const view = field(published?.body, 'view');
    expect(validateView(view)).toEqual([]);
    const json = JSON.stringify(view);
    expect(json).toContain('*Hold the kickoff with the champion and agree the success plan* · Tern Home Co');
    expect(json).toContain('Why: Onboarding playbook');
  });
});

describe('Block Kit limits', () => {
  it('a card with many plays and a form with 150 playbooks stay within them', async () => {
    const [risk] = await listPlaybooks(database.db, { reader: systemReader });
    if (!risk) throw new Error('no playbooks');
    const many = Array.from({ length: 150 }, (_, i) => ({ ...risk, playbook: { ...risk.playbook, id: `p${i}`, name: `${'Long playbook name '.repeat(10)}${i}` } }));
    const modal = startPlaybookModal('A'.repeat(400), many, JSON.stringify({ accountId: 'x' }));
    expect(validateView(modal)).toEqual([]);
    const runs = many.map((p, i) => ({ run: { status: 'running' as const }, playbookName: p.playbook.name, openTasks: i }));
    const block = runningPlaysBlock(runs);
    expect(validateBlocks([block], 'message')).toEqual([]);
  });
});
