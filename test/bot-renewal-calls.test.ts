import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, renewalActionsBlockId, renewalNoteBlockId } from '../bot/ids.ts';
import { type Account, type Renewal, type User, accounts, outbox, renewalCalls, renewals, revenueChanges } from '../db/schema.ts';
import type { Actor } from '../domain/actors.ts';
import { actorFromUser } from '../domain/actors.ts';
import { addDays, isoDay } from '../domain/dates.ts';
import { userTarget } from '../domain/notifications.ts';
import { enqueueNotification } from '../domain/outbox.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { callRenewal } from '../domain/renewals/calls.ts';
import { openDueRenewals } from '../domain/renewals/window.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import { createAccount, createUser } from './support/factories.ts';
import type { RecordedCall } from './support/fake-slack.ts';
import { type ViewStateValues, appHomeOpenedEvent, clickedButton, homeBlockAction, messageBlockAction, viewSubmissionPayload } from './support/slack-requests.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { pickedDate, typedText } from './support/task-clicks.ts';

// The renewal checkpoint message carries the forecast calls (Commit / Likely / At risk / Churning) and "Record
// outcome…": a click records the call and updates the message in place; the outcome form checks its inputs and
// writes the ledger. Everything goes through signed requests to the real Bolt receiver and the fake Slack.

const admin: Actor = { userId: null, role: 'admin', label: 'Test admin' };
let harness: SlackHarness;
let csm: User;
let otherCsm: User;
let sequence = 0;

beforeAll(async () => {
  harness = await startSlackHarness({ delivery: { perTargetIntervalMs: 0 } });
  csm = await createUser(harness.database.db, { role: 'csm', name: 'Casey Renewals', slackUserId: 'URENCSM1' });
  otherCsm = await createUser(harness.database.db, { role: 'csm', name: 'Olive Other', slackUserId: 'URENCSM2' });
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(async () => {
  await harness.lifeline.delivery.drainOnce();
  harness.fake.reset();
});

const day = (days: number) => isoDay(addDays(new Date(), days));
const field = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined);

/** An account of Casey's with 1,000.00 MRR (12,000.00 ARR) whose renewal, 30 days out unless said, is open. */
async function openRenewal(name: string, daysLeft = 30): Promise<{ account: Account; renewal: Renewal }> {
  const db = harness.database.db;
  const account = await createAccount(db, { name, csmId: csm.id, stageKey: 'mature_adoption', arrCents: 1_200_000, contractEnd: day(daysLeft) });
  await recordRevenueChange(db, { accountId: account.id, kind: 'new', mrrDeltaCents: 100_000, effectiveDate: day(-300), actor: admin });
  await openDueRenewals(db, { windowDays: 90, accountIds: [account.id] });
  const [renewal] = await db.select().from(renewals).where(eq(renewals.accountId, account.id));
  if (!renewal) throw new Error('no renewal');
  return { account, renewal };
}

/** The checkpoint message delivered to Casey's DM: its blocks, channel and ts. */
async function checkpointMessage(account: Account, renewal: Renewal): Promise<{ blocks: unknown[]; channel: string; ts: string }> {
  sequence += 1;
  const dedupeKey = `renewal_checkpoint:${account.id}:test-${sequence}`;
  await enqueueNotification(harness.database.db, { kind: 'renewal_checkpoint', dedupeKey, target: userTarget(csm.id), payload: { accountId: account.id, renewalId: renewal.id, daysLeft: 30, reason: '30-day checkpoint' } });
  await harness.lifeline.delivery.drainOnce();
  const [row] = await harness.database.db.select().from(outbox).where(eq(outbox.dedupeKey, dedupeKey));
  const posted = harness.fake.callsTo('chat.postMessage').find((call) => JSON.stringify(call.body.blocks).includes(renewal.id));
  if (!row?.slackChannel || !row.slackTs || !posted) throw new Error(`the checkpoint was not delivered: ${row?.lastError}`);
  const blocks = posted.body.blocks;
  return { blocks: Array.isArray(blocks) ? blocks : [], channel: row.slackChannel, ts: row.slackTs };
}

function click(user: User, message: { blocks: unknown[]; channel: string; ts: string }, actionId: string, renewalId: string, note?: string) {
  sequence += 1;
  const payload = messageBlockAction(
    { userId: user.slackUserId ?? '', channelId: message.channel, messageTs: message.ts, responseUrl: harness.fake.responseUrl(`renewal-${sequence}`), blocks: message.blocks as never },
    clickedButton({ actionId, blockId: renewalActionsBlockId(renewalId), value: renewalId }),
  );
  // A message with inputs sends their state with the click.
  if (note !== undefined) Reflect.set(payload, 'state', { values: { [renewalNoteBlockId(renewalId)]: { [INPUT_ACTION]: typedText(note) } } });
  return { responseId: `renewal-${sequence}`, send: () => harness.slack.blockAction(payload) };
}

function buttonsOf(blocks: unknown, renewalId: string): { text: string; style: unknown; action: string }[] {
  const block = (Array.isArray(blocks) ? blocks : []).find((candidate) => field(candidate, 'block_id') === renewalActionsBlockId(renewalId));
  const elements = field(block, 'elements');
  return (Array.isArray(elements) ? elements : []).map((element) => ({ text: String(field(field(element, 'text'), 'text')), style: field(element, 'style'), action: String(field(element, 'action_id')) }));
}

describe('forecast calls on the renewal checkpoint message', () => {
  it('carries the four calls and Record outcome; a click records the call with its note and updates the message in place', async () => {
    const { account, renewal } = await openRenewal('Quill Renewals');
    const message = await checkpointMessage(account, renewal);
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    expect(buttonsOf(message.blocks, renewal.id).map((button) => button.text)).toEqual(['Commit', 'Likely', 'At risk', 'Churning', 'Record outcome…']);
    expect(JSON.stringify(message.blocks)).toContain('No forecast call yet');

    const { send } = click(csm, message, ActionIds.renewalCallCommit, renewal.id, 'Order form with legal');
    expect((await send()).status).toBe(200);
    const [updated] = await harness.fake.waitForCalls('chat.update', 1);
    expect(updated?.outcome).toBe('ok');
    expect(updated?.body.channel).toBe(message.channel);
    expect(updated?.body.ts).toBe(message.ts);
    expect(validateBlocks(updated?.body.blocks, 'message')).toEqual([]);
    const buttons = buttonsOf(updated?.body.blocks, renewal.id);
    expect(buttons[0]).toEqual({ text: '✓ Commit', style: 'primary', action: ActionIds.renewalCallCommit });
    expect(buttons.slice(1).every((button) => button.style === undefined)).toBe(true);
    expect(JSON.stringify(updated?.body.blocks)).toContain('Forecast call: *Commit* by Casey Renewals');
    expect(JSON.stringify(updated?.body.blocks)).toContain('“Order form with legal”');

    const stored = await harness.database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id));
    expect(stored.map((row) => [row.call, row.note, row.calledBy])).toEqual([['commit', 'Order form with legal', csm.id]]);
  });

  it('someone who is not the account\'s CSM, AE or a manager is told why, and nothing is called', async () => {
    const { account, renewal } = await openRenewal('Quill Refused');
    const message = await checkpointMessage(account, renewal);
    const { responseId, send } = click(otherCsm, message, ActionIds.renewalCallAtRisk, renewal.id);
    await send();
    const [answer] = await waitForAnswer(responseId);
    expect(answer?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(answer?.body.text)).toContain("Only Quill Refused's CSM or account executive, a manager or an admin can call Quill Refused's renewal");
    expect(await harness.database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id))).toEqual([]);
    expect(harness.fake.callsTo('chat.update')).toEqual([]);
  });

  it('stays within Slack limits with a long call history and notes at the limit; the last three earlier calls show', async () => {
    const { account, renewal } = await openRenewal(`Quill ${'Long'.repeat(40)}`);
    const kinds = ['likely', 'at_risk', 'commit', 'churning'] as const;
    for (let index = 0; index < 12; index += 1) {
      await callRenewal(harness.database.db, { renewalId: renewal.id, call: kinds[index % 4] ?? 'likely', note: `${index} ${'n'.repeat(1980)} <!channel>`, actor: actorFromUser(csm), now: new Date(Date.now() - (12 - index) * 60_000) });
    }
    const message = await checkpointMessage(account, renewal);
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    const history = (message.blocks as unknown[]).find((block) => field(block, 'type') === 'context');
    const lines = field(history, 'elements');
    expect(Array.isArray(lines) ? lines.length : 0).toBe(4);
    expect(JSON.stringify(history)).toContain('…and 8 earlier calls');
    expect(JSON.stringify(message.blocks)).not.toContain('<!channel>');
  });
});

describe('forecast calls on App Home', () => {
  it('the first renewals listed carry the call buttons; a click there records the call and publishes Home again with it marked', async () => {
    // Sooner than every other renewal of Casey's, so it is among the first App Home lists.
    const { renewal } = await openRenewal('Quill Home', 5);
    await harness.slack.event(appHomeOpenedEvent({ userId: csm.slackUserId ?? '' }));
    const [home] = await harness.fake.waitForCalls('views.publish', 1);
    const view = field(home?.body, 'view');
    expect(validateView(view)).toEqual([]);
    const blocks = field(view, 'blocks');
    expect(buttonsOf(blocks, renewal.id).map((button) => button.text)).toEqual(['Commit', 'Likely', 'At risk', 'Churning', 'Record outcome…']);
    harness.fake.reset();

    await harness.slack.blockAction(homeBlockAction({ userId: csm.slackUserId ?? '', blocks: blocks as never }, clickedButton({ actionId: ActionIds.renewalCallLikely, blockId: renewalActionsBlockId(renewal.id), value: renewal.id })));
    const [again] = await harness.fake.waitForCalls('views.publish', 1);
    expect(again?.outcome).toBe('ok');
    const republished = field(field(again?.body, 'view'), 'blocks');
    expect(validateView(field(again?.body, 'view'))).toEqual([]);
    expect(buttonsOf(republished, renewal.id)[1]).toEqual({ text: '✓ Likely', style: 'primary', action: ActionIds.renewalCallLikely });
    expect(JSON.stringify(republished)).toContain("Called Quill Home's renewal *Likely*.");
    expect(JSON.stringify(republished)).toContain('Forecast call: *Likely* by Casey Renewals');
    const stored = await harness.database.db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id));
    expect(stored.map((row) => row.call)).toEqual(['likely']);
  });
});

async function waitForAnswer(responseId: string): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    const found = harness.fake.calls.filter((call) => call.responseId === responseId);
    if (found.length > 0) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no answer through ${responseId}`);
}

describe('Record outcome…', () => {
  it('opens the form; churned without a reason is a field error; renewed with uplift writes the expansion and updates the message', async () => {
    const { account, renewal } = await openRenewal('Quill Outcome');
    const message = await checkpointMessage(account, renewal);
    await click(csm, message, ActionIds.renewalRecordOutcome, renewal.id).send();
    const [opened] = await harness.fake.waitForCalls('views.open', 1);
    expect(opened?.outcome).toBe('ok');
    const view = field(opened?.body, 'view');
    expect(validateView(view)).toEqual([]);
    expect(field(view, 'callback_id')).toBe(CallbackIds.renewalOutcome);
    const submit = (values: ViewStateValues) =>
      harness.slack.viewSubmission(
        viewSubmissionPayload({ userId: csm.slackUserId ?? '', callbackId: CallbackIds.renewalOutcome, privateMetadata: String(field(view, 'private_metadata')), blocks: field(view, 'blocks') as never, values }),
      );
    const outcome = (value: string) => ({ [FieldIds.outcome]: { [INPUT_ACTION]: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text' as const, text: value }, value } } } });

    const churned = await submit({ ...outcome('churned'), [FieldIds.newContractEnd]: { [INPUT_ACTION]: pickedDate(day(395)) } });
    expect(churned.status).toBe(200);
    expect(churned.json()).toEqual({ response_action: 'errors', errors: { [FieldIds.churnReasonKey]: 'churnReasonKey: a churned renewal needs a churn reason (the churnReasons query lists them)' } });

    // 12,000.00 → 14,400.00 ARR: (1,440,000 − 1,200,000) ÷ 12 = 20,000 cents of MRR expansion.
    const renewed = await submit({ ...outcome('renewed'), [FieldIds.newContractEnd]: { [INPUT_ACTION]: pickedDate(day(395)) }, [FieldIds.newArrCents]: { [INPUT_ACTION]: { type: 'number_input', value: '14400' } }, [FieldIds.note]: { [INPUT_ACTION]: typedText('Two more seats') } });
    expect(renewed.status).toBe(200);
    const ledger = await harness.database.db.select().from(revenueChanges).where(and(eq(revenueChanges.accountId, account.id), eq(revenueChanges.kind, 'expansion')));
    expect(ledger.map((row) => [row.mrrDeltaCents, row.effectiveDate])).toEqual([[20_000, renewal.contractEnd]]);
    const [updated] = await harness.fake.waitForCalls('chat.update', 1);
    expect(updated?.body.ts).toBe(message.ts);
    expect(validateBlocks(updated?.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(updated?.body.blocks)).toContain(`*Outcome: Renewed*, ARR $12,000 → $14,400, contract to ${day(395)}`);
    expect(buttonsOf(updated?.body.blocks, renewal.id)).toEqual([]);
  });
});

describe('the stage-move form', () => {
  it('refuses a move to Churned without a churn reason, as an error on the reason field', async () => {
    const account = await createAccount(harness.database.db, { name: 'Quill Churn', csmId: csm.id, stageKey: 'mature_adoption' });
    const blocks = [{ type: 'input', block_id: FieldIds.churnReasonKey, label: { type: 'plain_text', text: 'Churn reason' }, element: { type: 'static_select', action_id: INPUT_ACTION, options: [] } }];
    const answer = await harness.slack.viewSubmission(
      viewSubmissionPayload({
        userId: csm.slackUserId ?? '',
        callbackId: CallbackIds.stageMove,
        privateMetadata: JSON.stringify({ accountId: account.id, version: account.version, toStage: 'churned' }),
        blocks: blocks as never,
        values: { [FieldIds.reason]: { [INPUT_ACTION]: typedText('They went with a competitor') } },
      }),
    );
    expect(answer.status).toBe(200);
    const body: unknown = answer.json();
    expect(field(body, 'response_action')).toBe('errors');
    expect(Object.keys(field(body, 'errors') as object)).toEqual([FieldIds.churnReasonKey]);
    const [row] = await harness.database.db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(row?.stageKey).toBe('mature_adoption');
  });
});
