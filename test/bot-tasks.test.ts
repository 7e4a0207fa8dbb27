import type { Block } from '@slack/types';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { decodeDigestValue } from '../bot/views/digest.ts';
import { TaskMenuChoices, type TaskMenuChoice } from '../bot/views/tasks.ts';
import { type Account, type Task, type User, accountHealth, tasks, users } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { addDays, isoDay, startOfDay } from '../domain/dates.ts';
import { digestDay, queueDailyDigest } from '../domain/digest.ts';
import { userTarget } from '../domain/notifications.ts';
import { enqueueNotification } from '../domain/outbox.ts';
import { completeTask, createTask, queueOverdueTasks, snoozeTask } from '../domain/plays/tasks.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import {
  type SlackRequestClient,
  type ViewStateValues,
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
import { clickedOverflow, pickedDate, pickedUser, typedText } from './support/task-clicks.ts';

// Every task shown in Slack carries one menu (Done, Snooze 1 day / 1 week / until, Reassign), and it must work
// wherever the task is shown, each surface sending its own payload:
//   message     the morning DM, the DM to a task's new owner, the overdue note to a manager
//   ephemeral   `/lifeline tasks`, an account card from `/lifeline account`
//   home        App Home's "My tasks"
//   modal       an account card opened from App Home
// After an action the surface is redrawn: a message through its response_url, Home with views.publish, a card
// in a modal with views.update. Clicks on Home and in modals carry no response_url.

const AT_RISK_CHANNEL = 'C0TASKRISK';

let harness: SlackHarness;
let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let sequence = 0;

beforeAll(async () => {
  harness = await startSlackHarness({ env: { SLACK_AT_RISK_CHANNEL: AT_RISK_CHANNEL }, delivery: { perTargetIntervalMs: 0 } });
  ({ database, fake, lifeline, slack } = harness);
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(async () => {
  await lifeline.delivery.drainOnce();
  fake.reset();
});

// ---------------------------------------------------------------------------------------------------------------
// People, accounts, tasks

function nextId(label: string): string {
  sequence += 1;
  return `${label}${sequence}`;
}

async function person(role: User['role'], name: string): Promise<User> {
  return createUser(database.db, { role, name, slackUserId: nextId(`UT${role.toUpperCase()}`) });
}

function slackId(user: User): string {
  if (!user.slackUserId) throw new Error(`${user.name} has no Slack id`);
  return user.slackUserId;
}

async function reportsTo(user: User, manager: User): Promise<void> {
  await database.db.update(users).set({ managerId: manager.id }).where(eq(users.id, user.id));
}

/** The calendar day `days` from today. */
function day(days: number): string {
  return isoDay(addDays(new Date(), days));
}

/** A task through the domain, as a person adds it; one due in the past was added back then. */
async function newTask(input: { account: Account; by: User; title: string; due?: number; owner?: User }): Promise<Task> {
  const due = input.due ?? 0;
  return createTask(database.db, {
    accountId: input.account.id,
    title: input.title,
    dueOn: day(due),
    ...(input.owner ? { ownerId: input.owner.id } : {}),
    actor: actorFromUser(input.by),
    now: addDays(new Date(), Math.min(due, 0)),
  });
}

async function taskNow(id: string): Promise<Task> {
  const [row] = await database.db.select().from(tasks).where(eq(tasks.id, id));
  if (!row) throw new Error(`no task ${id}`);
  return row;
}

async function atRisk(account: Account, reasons = ['Weekly active users down 40%']): Promise<void> {
  await database.db.insert(accountHealth).values({ accountId: account.id, score: 30, status: 'critical', scoreDayAgo: 60, reasons, computedAt: new Date(), modelVersion: 1 });
}

// ---------------------------------------------------------------------------------------------------------------
// Reading what Slack received

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

function isBlock(value: unknown): value is Block {
  return typeof field(value, 'type') === 'string';
}

function blocksOf(value: unknown): Block[] {
  return Array.isArray(value) ? value.filter(isBlock) : [];
}

function viewOf(call: RecordedCall | undefined): unknown {
  return field(call?.body, 'view');
}

/** The task ids of the task sections in blocks, in order. */
function taskIdsIn(blocks: unknown): string[] {
  return blocksOf(blocks)
    .map((block) => String(block.block_id ?? ''))
    .filter((id) => id.startsWith('task:'))
    .map((id) => id.split(':')[1] ?? '');
}

function taskBlockIdIn(blocks: unknown, taskId: string): string {
  const found = blocksOf(blocks).find((block) => String(block.block_id ?? '').startsWith(`task:${taskId}:`));
  if (!found?.block_id) throw new Error(`task ${taskId} is not in ${JSON.stringify(blocks)}`);
  return found.block_id;
}

function texts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(texts);
  if (typeof value !== 'object' || value === null) return [];
  const own = typeof Reflect.get(value, 'text') === 'string' ? [String(Reflect.get(value, 'text'))] : [];
  return [...own, ...Object.values(value).flatMap(texts)];
}

function totalText(value: unknown): number {
  return texts(value).join('').length;
}

/** The number in an "…and N more" line, 0 without one. */
function moreCount(blocks: unknown, pattern: RegExp): number {
  const match = pattern.exec(texts(blocks).join('\n'));
  return match ? Number(match[1]) : 0;
}

async function answersTo(responseId: string, count = 1): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const found = fake.calls.filter((call) => call.responseId === responseId);
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`fewer than ${count} answers through ${responseId}: ${JSON.stringify(fake.calls.map((call) => call.method))}`);
}

async function lastAnswerTo(responseId: string, count: number): Promise<RecordedCall> {
  const found = await answersTo(responseId, count);
  const last = found[count - 1];
  if (!last) throw new Error(`no answer ${count} through ${responseId}`);
  return last;
}

// ---------------------------------------------------------------------------------------------------------------
// Clicks, from each surface

type Where =
  | { kind: 'message'; channelId: string; responseId: string; blocks: unknown }
  | { kind: 'ephemeral'; channelId: string; responseId: string }
  | { kind: 'home'; blocks: unknown }
  | { kind: 'modal'; viewId: string; blocks: unknown };

async function choose(user: User, where: Where, blockId: string, choice: TaskMenuChoice): Promise<void> {
  const menu = clickedOverflow({ actionId: ActionIds.taskMenu, blockId, value: choice });
  const userId = slackId(user);
  const response =
    where.kind === 'message'
      ? await slack.blockAction(
          messageBlockAction(
            { userId, channelId: where.channelId, messageTs: '1700000500.000100', responseUrl: fake.responseUrl(where.responseId), blocks: blocksOf(where.blocks), text: 'tasks' },
            menu,
          ),
        )
      : where.kind === 'ephemeral'
        ? await slack.blockAction(ephemeralBlockAction({ userId, channelId: where.channelId, responseUrl: fake.responseUrl(where.responseId) }, menu))
        : where.kind === 'home'
          ? await slack.blockAction(homeBlockAction({ userId, blocks: blocksOf(where.blocks) }, menu))
          : await slack.blockAction(modalBlockAction({ userId, viewId: where.viewId, blocks: blocksOf(where.blocks) }, menu));
  expect(response.status).toBe(200);
}

/** `/lifeline tasks`, answered through its response_url. */
async function myTasks(user: User): Promise<{ responseId: string; answer: RecordedCall }> {
  const responseId = nextId('tasks');
  await slack.command(slashCommand({ text: 'tasks', user_id: slackId(user), response_url: fake.responseUrl(responseId) }));
  const [answer] = await answersTo(responseId);
  if (!answer) throw new Error('no answer');
  return { responseId, answer };
}

/** The form a menu choice opened (or pushed), and submitting it with `values` as Slack would. */
async function openedForm(method: 'views.open' | 'views.push' = 'views.open'): Promise<{ view: unknown; submit: (user: User, values: ViewStateValues) => ReturnType<SlackRequestClient['viewSubmission']> }> {
  const [opened] = await fake.waitForCalls(method, 1);
  expect(opened?.outcome).toBe('ok');
  const view = viewOf(opened);
  expect(validateView(view)).toEqual([]);
  return {
    view,
    submit: (user, values) =>
      slack.viewSubmission(
        viewSubmissionPayload({
          userId: slackId(user),
          callbackId: String(field(view, 'callback_id')),
          privateMetadata: String(field(view, 'private_metadata')),
          blocks: blocksOf(field(view, 'blocks')),
          values,
        }),
      ),
  };
}

function input(blockId: string, value: ViewStateValues[string][string]): ViewStateValues {
  return { [blockId]: { [INPUT_ACTION]: value } };
}

async function homeOf(user: User): Promise<unknown> {
  await slack.event(appHomeOpenedEvent({ userId: slackId(user) }));
  const [published] = await fake.waitForCalls('views.publish', 1);
  fake.reset();
  return viewOf(published);
}

async function cardModalFromHome(user: User, account: Account): Promise<{ viewId: string; blocks: unknown }> {
  await slack.blockAction(homeBlockAction({ userId: slackId(user) }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })));
  const [opened] = await fake.waitForCalls('views.open', 1);
  const view = viewOf(opened);
  expect(validateView(view)).toEqual([]);
  fake.reset();
  return { viewId: nextId('VCARD'), blocks: field(view, 'blocks') };
}

async function ephemeralCard(user: User, account: Account): Promise<{ responseId: string; blocks: unknown }> {
  const responseId = nextId('card');
  await slack.command(slashCommand({ text: `account ${account.name}`, user_id: slackId(user), response_url: fake.responseUrl(responseId) }));
  const [card] = await answersTo(responseId);
  expect(validateBlocks(card?.body.blocks, 'message')).toEqual([]);
  return { responseId, blocks: card?.body.blocks };
}

// ---------------------------------------------------------------------------------------------------------------

describe('/lifeline tasks', () => {
  it("lists the person's own open tasks, overdue and due today first, each with its menu; nobody else's", async () => {
    const sam = await person('csm', 'Sam Okafor');
    const lena = await person('csm', 'Lena Fischer');
    const account = await createAccount(database.db, { name: 'Acme Tasks Co', csmId: sam.id });
    const later = await newTask({ account, by: sam, title: 'Plan the QBR', due: 10 });
    const today = await newTask({ account, by: sam, title: 'Send the usage review', due: 0 });
    const overdue = await newTask({ account, by: sam, title: 'Call the champion', due: -3 });
    const others = await createAccount(database.db, { name: 'Lena Co', csmId: lena.id });
    await newTask({ account: others, by: lena, title: 'Lena only task' });

    const { answer } = await myTasks(sam);
    expect(answer.body.response_type).toBe('ephemeral');
    expect(validateBlocks(answer.body.blocks, 'message')).toEqual([]);
    expect(taskIdsIn(answer.body.blocks)).toEqual([overdue.id, today.id, later.id]);
    const json = JSON.stringify(answer.body.blocks);
    expect(json).toContain('*3 open tasks: 1 overdue, 1 due today*');
    expect(json).toContain(`*Call the champion* · Acme Tasks Co\\n:rotating_light: *overdue* since ${day(-3)} (3 days)`);
    expect(json).toContain('*Send the usage review* · Acme Tasks Co\\n*due today*');
    expect(json).toContain(`due ${day(10)} (in 10 days)`);
    expect(json).not.toContain('Lena only task');
    const section = blocksOf(answer.body.blocks).find((block) => String(block.block_id).startsWith(`task:${overdue.id}:`));
    expect(field(field(section, 'accessory'), 'type')).toBe('overflow');
    const options = field(field(section, 'accessory'), 'options');
    expect(Array.isArray(options) ? options.map((option) => field(option, 'value')) : []).toEqual(Object.values(TaskMenuChoices));
    expect(String(answer.body.text)).toMatch(/^3 open tasks: 1 overdue, 1 due today, soonest due first: Call the champion \(Acme Tasks Co, due /);
  });

  it('says so when there is nothing open, and help names the subcommand', async () => {
    const idle = await person('csm', 'Ida Idle');
    const { answer } = await myTasks(idle);
    expect(answer.body.text).toBe('You have no open tasks. :tada:');
    const helpId = nextId('help');
    await slack.command(slashCommand({ text: 'help', user_id: slackId(idle), response_url: fake.responseUrl(helpId) }));
    const [help] = await answersTo(helpId);
    expect(String(help?.body.text)).toContain('`/lifeline tasks`: your open tasks');
  });

  it('Snooze 1 day in the ephemeral list snoozes the task and replaces the list, which no longer shows it', async () => {
    const sam = await person('csm', 'Sam Snooze');
    const account = await createAccount(database.db, { name: 'Snooze Day Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Check the renewal quote' });
    const other = await newTask({ account, by: sam, title: 'Book the kickoff' });
    const { responseId, answer } = await myTasks(sam);
    const before = Date.now();

    await choose(sam, { kind: 'ephemeral', channelId: `D${slackId(sam)}`, responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.snoozeDay);
    const redrawn = await lastAnswerTo(responseId, 2);
    expect(redrawn.body).toMatchObject({ replace_original: true });
    expect(validateBlocks(redrawn.body.blocks, 'message')).toEqual([]);
    expect(taskIdsIn(redrawn.body.blocks)).toEqual([other.id]);
    expect(JSON.stringify(redrawn.body.blocks)).toContain(`:zzz: Snoozed “Check the renewal quote” until ${day(1)}`);
    expect(JSON.stringify(redrawn.body.blocks)).toContain('(and 1 snoozed)');

    const snoozed = await taskNow(task.id);
    expect(snoozed.status).toBe('snoozed');
    expect(snoozed.snoozedUntil?.getTime()).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
    expect(snoozed.snoozedUntil?.getTime()).toBeLessThanOrEqual(Date.now() + 86_400_000);
    expect(fake.callsTo('views.open')).toEqual([]);
  });

  it('Mark done… opens a form; done with an outcome note, the ephemeral list is redrawn without the task', async () => {
    const sam = await person('csm', 'Sam Done');
    const account = await createAccount(database.db, { name: 'Outcome Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Confirm the renewal plan' });
    const { responseId, answer } = await myTasks(sam);

    await choose(sam, { kind: 'ephemeral', channelId: 'C0TASKS001', responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.done);
    const form = await openedForm();
    expect(field(form.view, 'callback_id')).toBe(CallbackIds.taskDone);
    expect(JSON.stringify(form.view)).toContain('*Confirm the renewal plan* · Outcome Co');
    expect(String(field(form.view, 'private_metadata')).length).toBeLessThanOrEqual(3000);

    const submitted = await form.submit(sam, input(FieldIds.outcomeNote, typedText('  Champion confirmed on a call; paperwork next week.  ')));
    expect(submitted.status).toBe(200);
    expect(submitted.text).toBe('');
    const redrawn = await lastAnswerTo(responseId, 2);
    expect(redrawn.body).toMatchObject({ replace_original: true, text: expect.stringMatching(/^:white_check_mark: Marked “Confirm the renewal plan” done\. You have no open tasks/) });

    const done = await taskNow(task.id);
    expect(done).toMatchObject({ status: 'done', completedBy: sam.id, outcomeNote: 'Champion confirmed on a call; paperwork next week.', version: 2 });
  });
});

describe('the morning DM', () => {
  it("lists the person's tasks due today and overdue above their at-risk accounts; the channel's digest has none", async () => {
    const sam = await person('csm', 'Sam Morning');
    const risky = await createAccount(database.db, { name: 'Morning Risk Co', csmId: sam.id, stageKey: 'mature_adoption' });
    await atRisk(risky);
    const overdue = await newTask({ account: risky, by: sam, title: 'Reach the champion', due: -2 });
    const today = await newTask({ account: risky, by: sam, title: 'Review usage with the customer', due: 0 });
    const later = await newTask({ account: risky, by: sam, title: 'Prepare the exec sponsor call', due: 3 });

    await queueDailyDigest(database.db, { now: new Date() });
    await lifeline.delivery.drainOnce();
    const posts = fake.callsTo('chat.postMessage');
    const dm = posts.find((call) => call.body.channel === slackId(sam));
    expect(dm?.outcome).toBe('ok');
    expect(validateBlocks(dm?.body.blocks, 'message')).toEqual([]);
    expect(dm?.warnings).toEqual([]);
    expect(String(dm?.body.text)).toMatch(new RegExp(`^Tasks due ${digestDay(new Date())}: 2, soonest first: Reach the champion \\(Morning Risk Co, due ${day(-2)}\\), Review usage.* At-risk digest`));
    expect(taskIdsIn(dm?.body.blocks)).toEqual([overdue.id, today.id]);
    const json = JSON.stringify(dm?.body.blocks);
    expect(json).toContain(`Your tasks due · ${digestDay(new Date())}`);
    expect(json).toContain('*2 tasks* due today or overdue (1 overdue)');
    expect(json).toContain('Your at-risk accounts');
    expect(json).toContain('*Morning Risk Co* · :red_circle: Critical 30');
    expect(json).not.toContain(later.title);

    const channel = posts.find((call) => call.body.channel === AT_RISK_CHANNEL);
    expect(channel?.outcome).toBe('ok');
    expect(taskIdsIn(channel?.body.blocks)).toEqual([]);
    expect(JSON.stringify(channel?.body.blocks)).not.toContain('Reach the champion');

    // Snooze 1 week from the DM (a posted message): the DM is redrawn with the accounts and the task left.
    const responseId = nextId('dm');
    const where: Where = { kind: 'message', channelId: `D${slackId(sam)}`, responseId, blocks: dm?.body.blocks };
    await choose(sam, where, taskBlockIdIn(dm?.body.blocks, overdue.id), TaskMenuChoices.snoozeWeek);
    const redrawn = await lastAnswerTo(responseId, 1);
    expect(redrawn.body).toMatchObject({ replace_original: true });
    expect(validateBlocks(redrawn.body.blocks, 'message')).toEqual([]);
    expect(taskIdsIn(redrawn.body.blocks)).toEqual([today.id]);
    expect(JSON.stringify(redrawn.body.blocks)).toContain('*Morning Risk Co* · :red_circle: Critical 30');
    expect((await taskNow(overdue.id)).status).toBe('snoozed');

    // A digest button on that DM redraws it with the tasks still there.
    const actions = blocksOf(redrawn.body.blocks).find((block) => block.type === 'actions' && String(block.block_id).startsWith('digest_item:'));
    const elements = field(actions, 'elements');
    const acknowledge = Array.isArray(elements) ? elements.find((element) => field(element, 'action_id') === ActionIds.digestAcknowledge) : undefined;
    const value = String(field(acknowledge, 'value'));
    expect(decodeDigestValue(value)).toMatchObject({ accountId: risky.id, csmId: sam.id, page: 0, withTasks: true });
    await slack.blockAction(
      messageBlockAction(
        { userId: slackId(sam), channelId: `D${slackId(sam)}`, messageTs: '1700000500.000100', responseUrl: fake.responseUrl(responseId), text: 'digest' },
        clickedButton({ actionId: ActionIds.digestAcknowledge, blockId: `digest_item:${risky.id}`, value }),
      ),
    );
    const acknowledged = await lastAnswerTo(responseId, 2);
    expect(acknowledged.body).toMatchObject({ replace_original: true });
    expect(taskIdsIn(acknowledged.body.blocks)).toEqual([today.id]);
    expect(JSON.stringify(acknowledged.body.blocks)).toContain(':white_check_mark: Acknowledged by Sam Morning');
    await database.db.delete(accountHealth).where(eq(accountHealth.accountId, risky.id));
  });

  it('to a person with due tasks and no account at risk is the tasks alone; done from it, the DM says nothing is left', async () => {
    const ae = await person('ae', 'Tom Becker');
    const csm = await person('csm', 'Cara Owner');
    const account = await createAccount(database.db, { name: 'Quiet Co', csmId: csm.id, aeId: ae.id });
    const task = await newTask({ account, by: ae, title: 'Send the order form', due: 0 });
    const now = new Date();
    // The digest job queues this DM for everyone with tasks due, as it does for CSMs with accounts at risk.
    await queueDailyDigest(database.db, { now });
    await lifeline.delivery.drainOnce();
    const dm = fake.callsTo('chat.postMessage').find((call) => call.body.channel === slackId(ae));
    expect(validateBlocks(dm?.body.blocks, 'message')).toEqual([]);
    expect(taskIdsIn(dm?.body.blocks)).toEqual([task.id]);
    const json = JSON.stringify(dm?.body.blocks);
    expect(json).not.toContain('at-risk accounts');
    expect(json).not.toContain('No account needs attention');
    expect(String(dm?.body.text)).toBe(`Tasks due ${digestDay(now)}: 1, soonest first: Send the order form (Quiet Co, due ${day(0)})`);

    const responseId = nextId('aedm');
    await choose(ae, { kind: 'message', channelId: `D${slackId(ae)}`, responseId, blocks: dm?.body.blocks }, taskBlockIdIn(dm?.body.blocks, task.id), TaskMenuChoices.done);
    const form = await openedForm();
    expect((await form.submit(ae, input(FieldIds.outcomeNote, typedText(null)))).status).toBe(200);
    const redrawn = await lastAnswerTo(responseId, 1);
    expect(taskIdsIn(redrawn.body.blocks)).toEqual([]);
    expect(JSON.stringify(redrawn.body.blocks)).toContain(':white_check_mark: Nothing left due today.');
    expect(JSON.stringify(redrawn.body.blocks)).not.toContain('at-risk accounts');
    expect(await taskNow(task.id)).toMatchObject({ status: 'done', completedBy: ae.id, outcomeNote: null });
  });
});

describe('App Home', () => {
  it('shows My tasks, due and overdue first; Snooze 1 day there republishes the tab for the person', async () => {
    const sam = await person('csm', 'Sam Home');
    const account = await createAccount(database.db, { name: 'Home Tasks Co', csmId: sam.id });
    const later = await newTask({ account, by: sam, title: 'Draft the success plan', due: 5 });
    const overdue = await newTask({ account, by: sam, title: 'Chase the signed order', due: -1 });
    const home = await homeOf(sam);
    expect(validateView(home)).toEqual([]);
    const json = JSON.stringify(home);
    expect(json).toContain('*My tasks* · 2 open tasks: 1 overdue, 0 due today');
    expect(taskIdsIn(field(home, 'blocks'))).toEqual([overdue.id, later.id]);

    await choose(sam, { kind: 'home', blocks: field(home, 'blocks') }, taskBlockIdIn(field(home, 'blocks'), overdue.id), TaskMenuChoices.snoozeDay);
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(published?.outcome).toBe('ok');
    expect(published?.body.user_id).toBe(slackId(sam));
    expect(validateView(viewOf(published))).toEqual([]);
    expect(taskIdsIn(field(viewOf(published), 'blocks'))).toEqual([later.id]);
    expect(JSON.stringify(viewOf(published))).toContain(':zzz: Snoozed “Chase the signed order”');
    expect(fake.callsTo('response_url')).toEqual([]);
    expect((await taskNow(overdue.id)).status).toBe('snoozed');
  });

  it('Reassign… opens a form; given to a linked CSM, the task is theirs, Home is republished and they get a DM with its menu', async () => {
    const sam = await person('csm', 'Sam Giver');
    const lena = await person('csm', 'Lena Taker');
    const account = await createAccount(database.db, { name: 'Handover Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Run the onboarding workshop', due: 2 });
    const home = await homeOf(sam);

    await choose(sam, { kind: 'home', blocks: field(home, 'blocks') }, taskBlockIdIn(field(home, 'blocks'), task.id), TaskMenuChoices.reassign);
    const form = await openedForm();
    expect(JSON.stringify(form.view)).toContain('users_select');
    fake.reset();
    const submitted = await form.submit(sam, input(FieldIds.ownerId, pickedUser(slackId(lena))));
    expect(submitted.status).toBe(200);
    expect(submitted.text).toBe('');
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(published?.body.user_id).toBe(slackId(sam));
    expect(taskIdsIn(field(viewOf(published), 'blocks'))).toEqual([]);
    expect(JSON.stringify(viewOf(published))).toContain(':arrow_right: Gave “Run the onboarding workshop” to Lena Taker');
    expect(await taskNow(task.id)).toMatchObject({ ownerId: lena.id, version: 2 });

    // task_assigned: a DM to the new owner with the task and its menu.
    await lifeline.delivery.drainOnce();
    const dm = fake.callsTo('chat.postMessage').find((call) => call.body.channel === slackId(lena));
    expect(dm?.outcome).toBe('ok');
    expect(validateBlocks(dm?.body.blocks, 'message')).toEqual([]);
    expect(String(dm?.body.text)).toBe(`Sam Giver gave you a task: Run the onboarding workshop (Handover Co), due ${day(2)}.`);
    expect(taskIdsIn(dm?.body.blocks)).toEqual([task.id]);
    expect(JSON.stringify(dm?.body.blocks)).toContain('You get this because the task is yours now.');

    // Done from that DM, the note is redrawn with how it ended.
    const responseId = nextId('assigned');
    await choose(lena, { kind: 'message', channelId: `D${slackId(lena)}`, responseId, blocks: dm?.body.blocks }, taskBlockIdIn(dm?.body.blocks, task.id), TaskMenuChoices.done);
    const done = await openedForm();
    await done.submit(lena, input(FieldIds.outcomeNote, typedText('Workshop held with 12 people')));
    const redrawn = await lastAnswerTo(responseId, 1);
    expect(validateBlocks(redrawn.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(redrawn.body.blocks)).toMatch(/:white_check_mark: Done by Lena Taker <!date\^\d+\^[^>]+>: “Workshop held with 12 people”/);
    expect(taskIdsIn(redrawn.body.blocks)).toEqual([]);
    expect(await taskNow(task.id)).toMatchObject({ status: 'done', completedBy: lena.id });
  });
});

describe('the account card', () => {
  it("shows the account's open tasks with their owners and menus; Snooze until… a day snoozes to that day and redraws the ephemeral card", async () => {
    const sam = await person('csm', 'Sam Card');
    const ae = await person('ae', 'Abe Seller');
    const account = await createAccount(database.db, { name: 'Card Tasks Co', csmId: sam.id, aeId: ae.id });
    const mine = await newTask({ account, by: sam, title: 'Map the stakeholders', due: 1 });
    const aes = await newTask({ account, by: sam, title: 'Introduce the new CSM', due: 4, owner: ae });
    const card = await ephemeralCard(sam, account);
    expect(taskIdsIn(card.blocks)).toEqual([mine.id, aes.id]);
    const json = JSON.stringify(card.blocks);
    expect(json).toContain('*Open tasks* (2)');
    expect(json).toContain('owner Abe Seller');
    expect(json).toContain(ActionIds.shareCard);

    await choose(sam, { kind: 'ephemeral', channelId: 'C0CARDS001', responseId: card.responseId }, taskBlockIdIn(card.blocks, mine.id), TaskMenuChoices.snoozeUntil);
    const form = await openedForm();
    expect(field(form.view, 'callback_id')).toBe(CallbackIds.taskSnooze);
    expect(JSON.stringify(form.view)).toContain('"type":"datepicker"');
    expect((await form.submit(sam, input(FieldIds.until, pickedDate(day(6))))).status).toBe(200);
    const redrawn = await lastAnswerTo(card.responseId, 2);
    expect(redrawn.body).toMatchObject({ replace_original: true });
    expect(validateBlocks(redrawn.body.blocks, 'message')).toEqual([]);
    expect(taskIdsIn(redrawn.body.blocks)).toEqual([mine.id, aes.id]);
    expect(JSON.stringify(redrawn.body.blocks)).toMatch(/\*Map the stakeholders\* · Card Tasks Co\\n.*:zzz: snoozed until <!date\^/);
    expect(JSON.stringify(redrawn.body.blocks)).toContain(ActionIds.shareCard);
    const snoozed = await taskNow(mine.id);
    expect(snoozed.status).toBe('snoozed');
    expect(snoozed.snoozedUntil?.toISOString()).toBe(startOfDay(day(6)).toISOString());
  });

  it('in a modal opened from App Home: Snooze 1 week updates that modal; Mark done pushes a form, then updates the card below it', async () => {
    const sam = await person('csm', 'Sam Modal');
    const account = await createAccount(database.db, { name: 'Modal Tasks Co', csmId: sam.id });
    const first = await newTask({ account, by: sam, title: 'Share the health report', due: 0 });
    const second = await newTask({ account, by: sam, title: 'Agree on success metrics', due: 1 });
    const modal = await cardModalFromHome(sam, account);
    expect(taskIdsIn(modal.blocks)).toEqual([first.id, second.id]);

    await choose(sam, { kind: 'modal', viewId: modal.viewId, blocks: modal.blocks }, taskBlockIdIn(modal.blocks, first.id), TaskMenuChoices.snoozeWeek);
    const [updated] = await fake.waitForCalls('views.update', 1);
    expect(updated?.outcome).toBe('ok');
    expect(updated?.body.view_id).toBe(modal.viewId);
    expect(validateView(viewOf(updated))).toEqual([]);
    expect(JSON.stringify(viewOf(updated))).toContain(':zzz: Snoozed “Share the health report”');
    expect(fake.callsTo('response_url')).toEqual([]);
    expect((await taskNow(first.id)).status).toBe('snoozed');
    const blocks = field(viewOf(updated), 'blocks');
    fake.reset();

    await choose(sam, { kind: 'modal', viewId: modal.viewId, blocks }, taskBlockIdIn(blocks, second.id), TaskMenuChoices.done);
    const form = await openedForm('views.push');
    expect(fake.callsTo('views.open')).toEqual([]);
    expect((await form.submit(sam, input(FieldIds.outcomeNote, typedText('Metrics agreed: weekly active seats')))).status).toBe(200);
    const [again] = await fake.waitForCalls('views.update', 1);
    expect(again?.body.view_id).toBe(modal.viewId);
    expect(validateView(viewOf(again))).toEqual([]);
    expect(taskIdsIn(field(viewOf(again), 'blocks'))).toEqual([first.id]);
    expect(await taskNow(second.id)).toMatchObject({ status: 'done', outcomeNote: 'Metrics agreed: weekly active seats' });
  });
});

describe('every choice of the menu, from every surface', () => {
  const surfaces = ['message', 'ephemeral', 'home', 'modal'] as const;
  type Surface = (typeof surfaces)[number];

  /** The person's tasks shown on `surface`, and where a click on them comes from. */
  async function shown(surface: Surface, owner: User, account: Account): Promise<{ where: Where; blocks: unknown }> {
    if (surface === 'message') {
      // The morning DM, queued for this person alone (the digest job queues it with the same key for everyone due).
      const now = new Date();
      await enqueueNotification(database.db, {
        kind: 'at_risk_digest',
        dedupeKey: `at_risk_digest:user:${owner.id}:${digestDay(now)}`,
        target: userTarget(owner.id),
        payload: { day: digestDay(now), csmId: owner.id },
      });
      await lifeline.delivery.drainOnce();
      const dm = fake.callsTo('chat.postMessage').find((call) => call.body.channel === slackId(owner));
      const blocks = dm?.body.blocks;
      return { where: { kind: 'message', channelId: `D${slackId(owner)}`, responseId: nextId('matrix'), blocks }, blocks };
    }
    if (surface === 'ephemeral') {
      const { responseId, answer } = await myTasks(owner);
      return { where: { kind: 'ephemeral', channelId: 'C0MATRIX01', responseId }, blocks: answer.body.blocks };
    }
    if (surface === 'home') {
      const blocks = field(await homeOf(owner), 'blocks');
      return { where: { kind: 'home', blocks }, blocks };
    }
    const modal = await cardModalFromHome(owner, account);
    return { where: { kind: 'modal', viewId: modal.viewId, blocks: modal.blocks }, blocks: modal.blocks };
  }

  /** The surface was redrawn in place: replaced through its response_url, republished, or updated. */
  async function redrawnOn(where: Where, owner: User): Promise<void> {
    if (where.kind === 'message' || where.kind === 'ephemeral') {
      const found = await answersTo(where.responseId);
      expect(found.at(-1)?.body).toMatchObject({ replace_original: true });
      expect(validateBlocks(found.at(-1)?.body.blocks, 'message')).toEqual([]);
    } else if (where.kind === 'home') {
      const [published] = await fake.waitForCalls('views.publish', 1);
      expect(published?.body.user_id).toBe(slackId(owner));
      expect(validateView(viewOf(published))).toEqual([]);
    } else {
      const [updated] = await fake.waitForCalls('views.update', 1);
      expect(updated?.body.view_id).toBe(where.viewId);
      expect(validateView(viewOf(updated))).toEqual([]);
    }
    expect(fake.callsTo('chat.postMessage')).toEqual([]);
  }

  for (const surface of surfaces) {
    it(`on the ${surface}: done, snooze a day, a week, until a day, and reassign each change the task and redraw the ${surface}`, async () => {
      const owner = await person('csm', `Mia ${surface}`);
      const taker = await person('csm', `Noor ${surface}`);
      const account = await createAccount(database.db, { name: `Matrix ${surface} Co`, csmId: owner.id });
      const made: Record<TaskMenuChoice, Task> = {
        done: await newTask({ account, by: owner, title: 'Finish me', due: -1 }),
        snooze_day: await newTask({ account, by: owner, title: 'Snooze me a day', due: -1 }),
        snooze_week: await newTask({ account, by: owner, title: 'Snooze me a week', due: 0 }),
        snooze_until: await newTask({ account, by: owner, title: 'Snooze me until', due: 0 }),
        reassign: await newTask({ account, by: owner, title: 'Give me away', due: 0 }),
      };
      const { where, blocks } = await shown(surface, owner, account);
      expect(taskIdsIn(blocks).sort()).toEqual(Object.values(made).map((task) => task.id).sort());
      // Forms open on top of a modal (views.push) and anywhere else with views.open.
      const formMethod = surface === 'modal' ? 'views.push' : 'views.open';
      const act = async (choice: TaskMenuChoice, values?: ViewStateValues) => {
        fake.reset();
        await choose(owner, where, taskBlockIdIn(blocks, made[choice].id), choice);
        if (values) {
          const form = await openedForm(formMethod);
          fake.reset();
          const submitted = await form.submit(owner, values);
          expect(submitted.text).toBe('');
        }
        await redrawnOn(where, owner);
      };

      await act(TaskMenuChoices.done, input(FieldIds.outcomeNote, typedText('Done and dusted')));
      expect(await taskNow(made.done.id)).toMatchObject({ status: 'done', completedBy: owner.id, outcomeNote: 'Done and dusted' });
      await act(TaskMenuChoices.snoozeDay);
      expect(await taskNow(made.snooze_day.id)).toMatchObject({ status: 'snoozed' });
      await act(TaskMenuChoices.snoozeWeek);
      const week = await taskNow(made.snooze_week.id);
      expect(Math.round(((week.snoozedUntil?.getTime() ?? 0) - Date.now()) / 86_400_000)).toBe(7);
      await act(TaskMenuChoices.snoozeUntil, input(FieldIds.until, pickedDate(day(3))));
      expect((await taskNow(made.snooze_until.id)).snoozedUntil?.toISOString()).toBe(startOfDay(day(3)).toISOString());
      await act(TaskMenuChoices.reassign, input(FieldIds.ownerId, pickedUser(slackId(taker))));
      expect(await taskNow(made.reassign.id)).toMatchObject({ ownerId: taker.id, status: 'open' });
    });
  }
});

describe('the forms say what is wrong on the input, and change nothing', () => {
  async function reassignForm(owner: User): Promise<{ task: Task; form: Awaited<ReturnType<typeof openedForm>>; responseId: string }> {
    const account = await createAccount(database.db, { name: nextId('Form Co '), csmId: owner.id });
    const task = await newTask({ account, by: owner, title: 'Hand the account over' });
    const { responseId, answer } = await myTasks(owner);
    await choose(owner, { kind: 'ephemeral', channelId: 'C0FORMS001', responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.reassign);
    return { task, form: await openedForm(), responseId };
  }

  it('reassigning to a Slack user not linked to Lifeline asks for an admin to link them', async () => {
    const sam = await person('csm', 'Sam Unlinked');
    const { task, form, responseId } = await reassignForm(sam);
    const submitted = await form.submit(sam, input(FieldIds.ownerId, pickedUser('UNOTLINKED9')));
    expect(submitted.json()).toEqual({
      response_action: 'errors',
      errors: { [FieldIds.ownerId]: "That person's Slack account is not linked to Lifeline, so they cannot own tasks yet. Ask a Lifeline admin to link them, or choose someone else." },
    });
    expect(await taskNow(task.id)).toMatchObject({ ownerId: sam.id, version: 1 });
    expect(fake.calls.filter((call) => call.responseId === responseId)).toHaveLength(1);
  });

  it('reassigning to a viewer says who can own tasks', async () => {
    const sam = await person('csm', 'Sam Viewer');
    const vic = await person('viewer', 'Vic Reader');
    const { task, form } = await reassignForm(sam);
    const submitted = await form.submit(sam, input(FieldIds.ownerId, pickedUser(slackId(vic))));
    expect(submitted.json()).toEqual({
      response_action: 'errors',
      errors: { [FieldIds.ownerId]: 'Vic Reader is a viewer and cannot own tasks. Choose a CSM, an account executive, a manager or an admin.' },
    });
    expect(await taskNow(task.id)).toMatchObject({ ownerId: sam.id, version: 1 });
  });

  it('snoozing until today asks for a later day', async () => {
    const sam = await person('csm', 'Sam Today');
    const account = await createAccount(database.db, { name: 'Snooze Today Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Follow up on the ticket' });
    const { responseId, answer } = await myTasks(sam);
    await choose(sam, { kind: 'ephemeral', channelId: 'C0FORMS002', responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.snoozeUntil);
    const form = await openedForm();
    const submitted = await form.submit(sam, input(FieldIds.until, pickedDate(day(0))));
    expect(submitted.json()).toEqual({ response_action: 'errors', errors: { [FieldIds.until]: 'A snooze must end in the future; choose a later day.' } });
    expect(await taskNow(task.id)).toMatchObject({ status: 'open', version: 1 });
  });
});

describe('who may act', () => {
  it("another CSM's task: the menu on the card tells them why before any form opens; nothing changes", async () => {
    const sam = await person('csm', 'Sam Owner');
    const lena = await person('csm', 'Lena Other');
    const account = await createAccount(database.db, { name: 'Not Yours Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Send the ROI summary' });
    const card = await ephemeralCard(lena, account);

    await choose(lena, { kind: 'ephemeral', channelId: 'C0RIGHTS01', responseId: card.responseId }, taskBlockIdIn(card.blocks, task.id), TaskMenuChoices.snoozeDay);
    const told = await lastAnswerTo(card.responseId, 2);
    expect(told.body).toMatchObject({
      response_type: 'ephemeral',
      replace_original: false,
      text: "Only the task's owner, Not Yours Co's own CSM, their manager or an admin can snooze “Send the ROI summary”.",
    });

    await choose(lena, { kind: 'ephemeral', channelId: 'C0RIGHTS01', responseId: card.responseId }, taskBlockIdIn(card.blocks, task.id), TaskMenuChoices.done);
    const refused = await lastAnswerTo(card.responseId, 3);
    expect(refused.body).toMatchObject({
      response_type: 'ephemeral',
      replace_original: false,
      text: "Only the task's owner, Not Yours Co's own CSM, their manager or an admin can mark done “Send the ROI summary”.",
    });
    expect(fake.callsTo('views.open')).toEqual([]);
    expect(await taskNow(task.id)).toMatchObject({ status: 'open', version: 1, ownerId: sam.id });
  });

  it('a form whose task was finished by someone else while it was open is refused in place, saying who; nothing changes', async () => {
    const sam = await person('csm', 'Sam Owner');
    const account = await createAccount(database.db, { name: 'Raced Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Book the kickoff' });
    const card = await ephemeralCard(sam, account);
    await choose(sam, { kind: 'ephemeral', channelId: 'C0RIGHTS02', responseId: card.responseId }, taskBlockIdIn(card.blocks, task.id), TaskMenuChoices.done);
    const form = await openedForm();
    await completeTask(database.db, { taskId: task.id, actor: { userId: null, role: 'admin', label: 'Ada Admin' }, now: new Date() });
    const refused = await form.submit(sam, input(FieldIds.outcomeNote, typedText('done')));
    const answer = refused.json();
    expect(field(answer, 'response_action')).toBe('update');
    expect(JSON.stringify(field(answer, 'view'))).toContain('“Book the kickoff” was already marked done');
    expect(await taskNow(task.id)).toMatchObject({ status: 'done', version: 2, completedBy: null });
  });

  it("an account executive on a task not theirs, in a card opened from Home, is told why by DM; their own task they may snooze", async () => {
    const sam = await person('csm', 'Sam Csm');
    const abe = await person('ae', 'Abe Account');
    const account = await createAccount(database.db, { name: 'Sold By Abe Co', csmId: sam.id, aeId: abe.id });
    const csmTask = await newTask({ account, by: sam, title: 'Schedule the QBR' });
    const aeTask = await newTask({ account, by: sam, title: 'Introduce the buyer', owner: abe });
    await lifeline.delivery.drainOnce();
    fake.reset();
    const modal = await cardModalFromHome(abe, account);
    expect(taskIdsIn(modal.blocks).sort()).toEqual([csmTask.id, aeTask.id].sort());

    await choose(abe, { kind: 'modal', viewId: modal.viewId, blocks: modal.blocks }, taskBlockIdIn(modal.blocks, csmTask.id), TaskMenuChoices.snoozeWeek);
    const [dm] = await fake.waitForCalls('chat.postMessage', 1);
    expect(dm?.body).toMatchObject({ channel: slackId(abe), text: 'Account executives can snooze only the tasks assigned to them, and “Schedule the QBR” is someone else\'s.' });
    expect(fake.callsTo('views.update')).toEqual([]);
    expect(await taskNow(csmTask.id)).toMatchObject({ status: 'open', version: 1 });

    fake.reset();
    await choose(abe, { kind: 'modal', viewId: modal.viewId, blocks: modal.blocks }, taskBlockIdIn(modal.blocks, aeTask.id), TaskMenuChoices.snoozeWeek);
    const [updated] = await fake.waitForCalls('views.update', 1);
    expect(updated?.body.view_id).toBe(modal.viewId);
    expect((await taskNow(aeTask.id)).status).toBe('snoozed');
  });

  it('a task already done: the person is told who did it, and nothing changes', async () => {
    const sam = await person('csm', 'Sam Late');
    const account = await createAccount(database.db, { name: 'Already Done Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Send the welcome pack' });
    const { responseId, answer } = await myTasks(sam);
    const done = await completeTask(database.db, { taskId: task.id, actor: actorFromUser(sam), now: new Date() });

    await choose(sam, { kind: 'ephemeral', channelId: 'C0DONE0001', responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.snoozeWeek);
    const told = await lastAnswerTo(responseId, 2);
    expect(told.body.text).toBe(`“Send the welcome pack” was already marked done by Sam Late on ${day(0)}, so there is nothing to snooze.`);
    expect(await taskNow(task.id)).toEqual(done);
  });

  it('a list older than the task: nothing changes, and the list is redrawn saying why', async () => {
    const sam = await person('csm', 'Sam Stale');
    const account = await createAccount(database.db, { name: 'Stale List Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Update the account plan' });
    const { responseId, answer } = await myTasks(sam);
    const elsewhere = await snoozeTask(database.db, { taskId: task.id, actor: actorFromUser(sam), now: new Date(), days: 3 });

    await choose(sam, { kind: 'ephemeral', channelId: 'C0STALE001', responseId }, taskBlockIdIn(answer.body.blocks, task.id), TaskMenuChoices.snoozeDay);
    const redrawn = await lastAnswerTo(responseId, 2);
    expect(redrawn.body).toMatchObject({ replace_original: true });
    expect(String(redrawn.body.text)).toMatch(/^Nothing changed: “Update the account plan” changed since you looked \(version 2, you had 1\)\. Reload it and try again\./);
    expect(await taskNow(task.id)).toEqual(elsewhere);
  });
});

describe("the overdue note to the owner's manager", () => {
  it('shows the task with its menu and why the manager gets it; the manager snoozes it from there and the note is redrawn', async () => {
    const ruth = await person('manager', 'Ruth Lead');
    const sam = await person('csm', 'Sam Behind');
    await reportsTo(sam, ruth);
    const account = await createAccount(database.db, { name: 'Overdue Co', csmId: sam.id });
    const task = await newTask({ account, by: sam, title: 'Escalate to the exec sponsor', due: -2 });

    await queueOverdueTasks(database.db, { now: new Date() });
    await lifeline.delivery.drainOnce();
    const note = fake.callsTo('chat.postMessage').find((call) => call.body.channel === slackId(ruth) && taskIdsIn(call.body.blocks).includes(task.id));
    expect(note?.outcome).toBe('ok');
    expect(validateBlocks(note?.body.blocks, 'message')).toEqual([]);
    expect(String(note?.body.text)).toBe(`Sam Behind's task is overdue: Escalate to the exec sponsor (Overdue Co), due ${day(-2)}.`);
    const json = JSON.stringify(note?.body.blocks);
    expect(json).toContain(`:rotating_light: *overdue* since ${day(-2)} (2 days) · owner Sam Behind`);
    expect(json).toContain('You get this because Sam Behind reports to you.');

    const responseId = nextId('overdue');
    await choose(ruth, { kind: 'message', channelId: `D${slackId(ruth)}`, responseId, blocks: note?.body.blocks }, taskBlockIdIn(note?.body.blocks, task.id), TaskMenuChoices.snoozeWeek);
    const redrawn = await lastAnswerTo(responseId, 1);
    expect(redrawn.body).toMatchObject({ replace_original: true });
    expect(validateBlocks(redrawn.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(redrawn.body.blocks)).toMatch(/:zzz: snoozed until <!date\^/);
    expect(await taskNow(task.id)).toMatchObject({ status: 'snoozed', version: 2 });
  });
});

describe('Block Kit stays within Slack limits for a person with 200 open tasks', () => {
  const long = (label: string, index: number) => `${label} ${String(index).padStart(3, '0')} ${'with a very long description '.repeat(7)}`.slice(0, 200);

  it('on every surface: /lifeline tasks, App Home, the card (ephemeral and in a modal), the morning DM, the notes and the forms', async () => {
    const ruth = await person('manager', 'Ruth Bulk');
    const bulk = await person('csm', 'Bea Bulk');
    await reportsTo(bulk, ruth);
    const account = await createAccount(database.db, { name: long('Account', 0), csmId: bulk.id, stageKey: 'mature_adoption' });
    const created: Task[] = [];
    for (let index = 0; index < 200; index += 1) {
      created.push(await newTask({ account, by: bulk, title: long('Task', index), due: (index % 30) - 8 }));
    }
    const due = created.filter((task) => task.dueOn <= day(0)).length;
    const risky: Account[] = [];
    for (let index = 0; index < 12; index += 1) {
      const other = await createAccount(database.db, { name: long('Risky', index), csmId: bulk.id, stageKey: 'mature_adoption' });
      await atRisk(other, Array.from({ length: 5 }, (_, reason) => `Reason ${reason}: ${'usage fell sharply across every team '.repeat(8)}`));
      risky.push(other);
    }
    const withinMessage = (blocks: unknown) => {
      expect(validateBlocks(blocks, 'message')).toEqual([]);
      expect(blocksOf(blocks).length).toBeLessThanOrEqual(50);
      expect(totalText(blocks)).toBeLessThan(12_000);
    };

    const { answer } = await myTasks(bulk);
    withinMessage(answer.body.blocks);
    const listed = taskIdsIn(answer.body.blocks).length;
    expect(listed).toBeGreaterThan(0);
    expect(listed + moreCount(answer.body.blocks, /…and (\d+) more: finish or snooze some to see the next, or list them all with the GraphQL query `tasks`/)).toBe(200);

    const home = await homeOf(bulk);
    expect(validateView(home)).toEqual([]);
    expect(blocksOf(field(home, 'blocks')).length).toBeLessThanOrEqual(100);
    const onHome = taskIdsIn(field(home, 'blocks')).length;
    expect(onHome + moreCount(field(home, 'blocks'), /…and (\d+) more: `\/lifeline tasks` lists more, the GraphQL query `tasks` all of them/)).toBe(200);

    const card = await ephemeralCard(bulk, account);
    withinMessage(card.blocks);
    expect(taskIdsIn(card.blocks).length + moreCount(card.blocks, /…and (\d+) more: the GraphQL query `tasks\(filter: \{ accountId: "[^"]+" \}\)` lists them all/)).toBe(200);
    fake.reset();
    const modal = await cardModalFromHome(bulk, account);
    expect(blocksOf(modal.blocks).length).toBeLessThanOrEqual(100);

    // The morning DM: a full page of long at-risk accounts and the tasks due, in one message.
    await queueDailyDigest(database.db, { now: new Date() });
    await lifeline.delivery.drainOnce();
    const dm = fake.callsTo('chat.postMessage').find((call) => call.body.channel === slackId(bulk));
    expect(dm?.outcome).toBe('ok');
    withinMessage(dm?.body.blocks);
    const dueShown = taskIdsIn(dm?.body.blocks).length;
    expect(dueShown + moreCount(dm?.body.blocks, /…and (\d+) more due: `\/lifeline tasks` lists your open tasks/)).toBe(due);
    expect(JSON.stringify(dm?.body.blocks)).toContain('*12 accounts* need attention');
    expect(JSON.stringify(dm?.body.blocks)).toContain(`*${due} tasks* due today or overdue`);

    // The overdue notes to the manager, and a reassigned task's note, with 200-character titles and names.
    fake.reset();
    await queueOverdueTasks(database.db, { now: new Date() });
    await lifeline.delivery.drainOnce();
    const notes = fake.callsTo('chat.postMessage').filter((call) => call.body.channel === slackId(ruth));
    expect(notes.length).toBeGreaterThan(0);
    for (const note of notes) {
      expect(note.outcome).toBe('ok');
      withinMessage(note.body.blocks);
    }

    // The forms, with a 200-character title and account name.
    fake.reset();
    const responseId = nextId('bulk');
    const firstShown = taskIdsIn(answer.body.blocks)[0] ?? '';
    for (const choice of [TaskMenuChoices.done, TaskMenuChoices.snoozeUntil, TaskMenuChoices.reassign]) {
      await choose(bulk, { kind: 'ephemeral', channelId: 'C0BULK0001', responseId }, taskBlockIdIn(answer.body.blocks, firstShown), choice);
      await openedForm();
      fake.reset();
    }
    await database.db.delete(accountHealth).where(inArray(accountHealth.accountId, risky.map((entry) => entry.id)));
  });
});
