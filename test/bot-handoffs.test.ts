import type { BlockAction, DatepickerAction } from '@slack/bolt';
import { systemReader } from '../domain/actors.ts';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { type User, handoffs, outbox, users } from '../db/schema.ts';
import { queueOverdueHandoffs } from '../domain/escalations.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { getHandoff } from '../domain/handoffs/handoffs.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { type SlackRequestClient, type ViewStateValues, buttonAction, viewSubmissionPayload } from './support/slack-requests.ts';
import { useSlackHarness } from './support/slack-harness.ts';

const HANDOFF_CHANNEL = 'C0HANDOFF1';

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let ae: User;
let csm: User;
let manager: User;

useSlackHarness({ env: { SLACK_HANDOFF_CHANNEL: HANDOFF_CHANNEL }, delivery: { pollMs: 50, perTargetIntervalMs: 0 } }, async (harness) => {
  ({ database, fake, lifeline, slack } = harness);
  // The real delivery loop runs, woken by each click: the handoff message updates the way it does in production.
  lifeline.delivery.start();
  ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UAE00001' });
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
  manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel', slackUserId: 'UMGR0001' });
});

let opportunity = 0;
async function closedWon(name: string, closedWonAt = new Date()) {
  opportunity += 1;
  const { handoff } = await recordClosedWon(database.db, {
    opportunityId: `opp-${opportunity}-${name}`,
    account: { externalId: `crm-${opportunity}`, name, segment: 'enterprise', arrCents: 9_600_000, contractStart: '2026-12-01', contractEnd: '2027-11-30' },
    aeId: ae.id,
    csmId: csm.id,
    closedWonAt,
    context: { goals: 'Cut onboarding time for new hires in half.', promises: 'SSO by January.', stakeholders: 'Dana (VP People), champion', risks: null },
    actor: { userId: null, role: 'integration', label: 'CRM' },
  });
  if (!handoff) throw new Error(`${name} was recorded as an existing customer: no handoff`);
  return handoff;
}

/** The delivery loop records the ts just after Slack answers: wait for the row to say so. */
async function sentRow(dedupeKey: string) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const [row] = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, dedupeKey));
    if (row?.status === 'sent') return row;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${dedupeKey} was not delivered`);
}

function blocksJson(call: RecordedCall | undefined): string {
  return JSON.stringify(call?.body.blocks);
}

function handoffButton(userId: string, actionId: string, handoffId: string, ts: string) {
  return slack.blockAction(
    buttonAction({
      userId,
      actionId,
      blockId: `handoff:${handoffId}:1`,
      value: handoffId,
      responseUrl: fake.responseUrl(`${actionId}-${userId}`),
      container: { type: 'message', channelId: HANDOFF_CHANNEL, messageTs: ts, isEphemeral: false },
      message: { blocks: [], text: 'handoff', ts },
    }),
  );
}

describe('the new-customer handoff', () => {
  it('is posted to the handoff channel with the deal, both people, the sales context and its SLA clock', async () => {
    const handoff = await closedWon('Northwind Traders');
    const [post] = await fake.waitForCalls('chat.postMessage', 1);
    expect(post?.outcome).toBe('ok');
    expect(post?.warnings).toEqual([]);
    expect(post?.body.channel).toBe(HANDOFF_CHANNEL);
    expect(validateBlocks(post?.body.blocks, 'message')).toEqual([]);
    expect(post?.body.text).toBe('New customer Northwind Traders: ARR $96,000, AE Tom Becker, CSM Sam Okafor. Next: Tom Becker to confirm the context.');
    const json = blocksJson(post);
    for (const expected of ['New customer: Northwind Traders', 'Enterprise', '2026-12-01 → 2027-11-30', '<@UAE00001>', '<@UCSM0001>', 'Cut onboarding time', 'SSO by January', 'Kickoff to be scheduled by', ActionIds.handoffConfirm, ActionIds.handoffEdit]) {
      expect(json).toContain(expected);
    }
    expect(json).toContain('*Risks*\\n_not filled in yet_');
    expect(await sentRow(`handoff:${handoff.id}:v1`)).toMatchObject({ status: 'sent', slackChannel: HANDOFF_CHANNEL });
  });

  it('advances in place as the AE confirms, the CSM accepts and picks a kickoff date', async () => {
    const handoff = await closedWon('Contoso Pharma');
    const [post] = await fake.waitForCalls('chat.postMessage', 1);
    const ts = (await sentRow(`handoff:${handoff.id}:v1`)).slackTs ?? '';

    expect((await handoffButton('UAE00001', ActionIds.handoffConfirm, handoff.id, ts)).status).toBe(200);
    const [confirmed] = await fake.waitForCalls('chat.update', 1);
    expect(confirmed?.body).toMatchObject({ channel: post?.body.channel, ts });
    expect(blocksJson(confirmed)).toContain('Context confirmed; waiting for the CSM to accept');
    expect(blocksJson(confirmed)).toContain(ActionIds.handoffAccept);

    await handoffButton('UCSM0001', ActionIds.handoffAccept, handoff.id, ts);
    const accepted = await fake.waitForCalls('chat.update', 2);
    expect(blocksJson(accepted[1])).toContain('Accepted by the CSM; waiting for a kickoff date');
    expect(blocksJson(accepted[1])).toContain('"type":"datepicker"');

    const base = buttonAction({
      userId: 'UCSM0001',
      actionId: ActionIds.handoffKickoff,
      blockId: `handoff:${handoff.id}:3`,
      value: '',
      responseUrl: fake.responseUrl('kickoff'),
      container: { type: 'message', channelId: HANDOFF_CHANNEL, messageTs: ts, isEphemeral: false },
      message: { blocks: [], text: 'handoff', ts },
    });
    // A kickoff a week from now: the deal closed today, and a kickoff cannot be before it.
    const kickoffDay = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const datepicker: BlockAction<DatepickerAction> = {
      ...base,
      actions: [{ type: 'datepicker', action_id: ActionIds.handoffKickoff, block_id: `handoff:${handoff.id}:3`, selected_date: kickoffDay, action_ts: '1700000000.1' }],
    };
    await slack.blockAction(datepicker);
    const scheduled = await fake.waitForCalls('chat.update', 3);
    expect(blocksJson(scheduled[2])).toContain('Kickoff scheduled');
    expect(blocksJson(scheduled[2])).toContain(`"initial_date":"${kickoffDay}"`);
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
    expect((await getHandoff(database.db, { id: handoff.id, reader: systemReader }))?.kickoffAt?.toISOString()).toBe(`${kickoffDay}T12:00:00.000Z`);
  });

  it('someone other than the AE pressing Confirm is told who can, and nothing changes', async () => {
    const handoff = await closedWon('Fabrikam Studios');
    await fake.waitForCalls('chat.postMessage', 1);
    await handoffButton('UCSM0001', ActionIds.handoffConfirm, handoff.id, '1700000000.000001');
    const [reply] = await fake.waitForCalls('response_url', 1);
    expect(reply?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(reply?.body.text)).toBe('Only the account executive on this handoff (Tom Becker) can confirm its context, or a manager.');
    expect((await getHandoff(database.db, { id: handoff.id, reader: systemReader }))?.status).toBe('pending');
  });

  it('Edit context opens a modal whose required fields are enforced, and saving it confirms the handoff', async () => {
    const handoff = await closedWon('Litware Systems');
    await fake.waitForCalls('chat.postMessage', 1);
    await handoffButton('UAE00001', ActionIds.handoffEdit, handoff.id, '1700000000.000002');
    const [opened] = await fake.waitForCalls('views.open', 1);
    const view: unknown = opened?.body.view;
    expect(validateView(view)).toEqual([]);
    expect(JSON.stringify(view)).toContain('Cut onboarding time for new hires in half.');

    const text = (value: string | null) => ({ [INPUT_ACTION]: { type: 'plain_text_input', value } });
    const values = (risks: string | null): ViewStateValues => ({
      [FieldIds.goals]: text('Halve onboarding time.'),
      [FieldIds.promises]: text('SSO by January.'),
      [FieldIds.stakeholders]: text('Dana, VP People.'),
      [FieldIds.risks]: text(risks),
      [FieldIds.notes]: text(null),
    });
    const submit = (risks: string | null) =>
      slack.viewSubmission(
        viewSubmissionPayload({
          userId: 'UAE00001',
          callbackId: CallbackIds.handoffContext,
          privateMetadata: JSON.stringify({ handoffId: handoff.id }),
          values: values(risks),
          blocks: Array.isArray(Reflect.get(view ?? {}, 'blocks')) ? Reflect.get(view ?? {}, 'blocks') : [],
        }),
      );
    const missing = await submit('   ');
    expect(missing.json()).toEqual({
      response_action: 'errors',
      errors: { [FieldIds.risks]: 'Risks are needed before the CSM takes over. Write what you know, even briefly.' },
    });
    expect((await getHandoff(database.db, { id: handoff.id, reader: systemReader }))?.status).toBe('pending');

    const saved = await submit('Budget owner is new.');
    expect(saved.status).toBe(200);
    const [updated] = await fake.waitForCalls('chat.update', 1);
    expect(blocksJson(updated)).toContain('Budget owner is new.');
    expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toMatchObject({ status: 'confirmed', risks: 'Budget owner is new.', confirmedBy: ae.id });
  });

  it('an overdue handoff turns its clock red and is re-surfaced to the managers, once', async () => {
    const handoff = await closedWon('Tailspin Toys', new Date(Date.now() - 5 * 86_400_000));
    await fake.waitForCalls('chat.postMessage', 1);
    expect(await queueOverdueHandoffs(database.db, { now: new Date() })).toEqual({ overdueHandoffs: expect.any(Number) });
    lifeline.delivery.wake();
    const [update] = await fake.waitForCalls('chat.update', 1);
    expect(blocksJson(update)).toContain('SLA breached');
    const posts = await fake.waitForCalls('chat.postMessage', 2);
    const dm = posts.find((call) => call.body.channel === 'UMGR0001');
    expect(dm?.body.text).toBe('Handoff of Tailspin Toys is overdue; CSM Sam Okafor.');
    expect(blocksJson(dm)).toContain('You get this because you manage the team');

    await queueOverdueHandoffs(database.db, { now: new Date() });
    const rows = await database.db.select().from(outbox).where(eq(outbox.kind, 'handoff_overdue'));
    expect(rows.filter((row) => row.payload.handoffId === handoff.id)).toHaveLength(1);
    expect(manager.role).toBe('manager');
    await database.db.update(handoffs).set({ status: 'completed' }).where(eq(handoffs.id, handoff.id));
  });

  // Last: a second manager changes who hears about overdue handoffs (every manager, for owners who report to nobody).
  it("in Slack, only the absent AE's own manager may confirm for them, and the handoff keeps who confirmed", async () => {
    const ruth = await createUser(database.db, { role: 'manager', name: 'Ruth Lead', slackUserId: 'URUTHLEAD1' });
    await database.db.update(users).set({ managerId: ruth.id }).where(eq(users.id, ae.id));
    try {
      const handoff = await closedWon('Northwind Dental');
      await fake.waitForCalls('chat.postMessage', 1);
      const ts = (await sentRow(`handoff:${handoff.id}:v1`)).slackTs ?? '';
      await handoffButton('UMGR0001', ActionIds.handoffConfirm, handoff.id, ts);
      const [reply] = await fake.waitForCalls('response_url', 1);
      expect(reply?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(String(reply?.body.text)).toMatch(
        /^Managers can confirm handoffs only for accounts whose CSM or account executive reports to them, and Tom Becker reports to Ruth Lead\. Ask that manager or an admin/,
      );
      expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toMatchObject({ status: 'pending', confirmedBy: null });

      await handoffButton('URUTHLEAD1', ActionIds.handoffConfirm, handoff.id, ts);
      const [updated] = await fake.waitForCalls('chat.update', 1);
      expect(blocksJson(updated)).toContain('Context confirmed; waiting for the CSM to accept');
      expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toMatchObject({ status: 'confirmed', aeId: ae.id, confirmedBy: ruth.id });
    } finally {
      await database.db.update(users).set({ managerId: null }).where(eq(users.id, ae.id));
    }
  });
});
