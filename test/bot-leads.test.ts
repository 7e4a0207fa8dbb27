import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../bot/ids.ts';
import { type Account, type User, accounts, leads, outbox } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { qualifyLead } from '../domain/leads.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { recordEventFirings } from '../domain/rules.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { type SlackRequestClient, type ViewStateValues, buttonAction, viewSubmissionPayload } from './support/slack-requests.ts';
import { useSlackHarness } from './support/slack-harness.ts';

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let csm: User;
let ae: User;

useSlackHarness({ delivery: { pollMs: 50, perTargetIntervalMs: 0 } }, async (harness) => {
  ({ database, fake, lifeline, slack } = harness);
  lifeline.delivery.start();
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
  ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UAE00001' });
  await createUser(database.db, { role: 'csm', name: 'Olive Other', slackUserId: 'UCSM0002' });
});

let made = 0;
async function customer(name: string): Promise<Account> {
  made += 1;
  const account = await createAccount(database.db, { name, csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption', arrCents: 1_200_000 });
  await database.db.update(accounts).set({ externalId: `crm-lead-${made}` }).where(eq(accounts.id, account.id));
  await recordRevenueChange(database.db, { accountId: account.id, kind: 'new', mrrDeltaCents: 100_000, effectiveDate: '2025-06-01', actor: { userId: null, role: 'admin', label: 'Test' } });
  return { ...account, externalId: `crm-lead-${made}` };
}

/** The expansion rule fires for the account: its alert goes to the CSM, as the scheduled rule sends it. */
async function expansionSignal(account: Account): Promise<number> {
  const [firing] = await database.db.transaction((tx) =>
    recordEventFirings(tx, new Date(), sql`select 'expansion_signal', ${account.id}::uuid, '2026-12', 'advanced-feature events up 80% against the 28 days before', '{}'::jsonb`),
  );
  if (!firing) throw new Error('the signal did not fire');
  lifeline.delivery.wake();
  return firing.id;
}

function blocksJson(call: RecordedCall | undefined): string {
  return JSON.stringify(call?.body.blocks);
}

async function dmTo(slackUserId: string, count = 1): Promise<RecordedCall[]> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const posts = fake.callsTo('chat.postMessage').filter((call) => call.body.channel === slackUserId && call.outcome === 'ok');
    if (posts.length >= count) return posts;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no DM to ${slackUserId}`);
}

function click(userId: string, actionId: string, value: string, tag: string, channel: string) {
  return slack.blockAction(
    buttonAction({
      userId,
      actionId,
      blockId: 'lead',
      value,
      responseUrl: fake.responseUrl(tag),
      triggerId: tag,
      container: { type: 'message', channelId: channel, messageTs: '1700000000.000100', isEphemeral: false },
      message: { blocks: [], text: 'lead', ts: '1700000000.000100' },
    }),
  );
}

const qualifyValues = (wants: string, dollars: string): ViewStateValues => ({
  [FieldIds.wants]: { [INPUT_ACTION]: { type: 'plain_text_input', value: wants } },
  [FieldIds.estimatedMrrCents]: { [INPUT_ACTION]: { type: 'number_input', value: dollars } },
  [FieldIds.urgency]: { [INPUT_ACTION]: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'High' }, value: 'high' } } },
});

type SubmittedBlocks = NonNullable<Parameters<typeof viewSubmissionPayload>[0]['blocks']>;

/** The blocks of the modal that was opened, submitted back as Slack does. */
function viewBlocks(view: unknown): SubmittedBlocks {
  const blocks: unknown = Reflect.get(typeof view === 'object' && view !== null ? view : {}, 'blocks');
  return Array.isArray(blocks) ? (blocks as SubmittedBlocks) : [];
}

function submitQualify(userId: string, firingId: number, values: ViewStateValues, blocks: SubmittedBlocks = []) {
  return slack.viewSubmission(viewSubmissionPayload({ userId, callbackId: CallbackIds.leadQualify, privateMetadata: JSON.stringify({ firingId }), values, blocks }));
}

async function leadsOf(accountId: string) {
  return database.db.select().from(leads).where(eq(leads.accountId, accountId));
}

describe('expansion leads in Slack', () => {
  it('the CSM qualifies the signal from its DM, and the AE accepts it from theirs', async () => {
    const account = await customer('Northwind Traders');
    const firingId = await expansionSignal(account);
    const [alert] = await dmTo('UCSM0001');
    expect(validateBlocks(alert?.body.blocks, 'message')).toEqual([]);
    expect(blocksJson(alert)).toContain(ActionIds.leadQualify);
    expect(blocksJson(alert)).toContain(`"value":"${firingId}"`);

    await click('UCSM0001', ActionIds.leadQualify, String(firingId), 'qualify-1', 'DCSM0001');
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(opened?.body.trigger_id).toBe('qualify-1');
    expect(validateView(opened?.body.view)).toEqual([]);
    expect(JSON.stringify(opened?.body.view)).toContain('Northwind Traders');

    const bad = await submitQualify('UCSM0001', firingId, qualifyValues('Fifty more seats', 'lots'), viewBlocks(opened?.body.view));
    expect(bad.json()).toMatchObject({ response_action: 'errors', errors: { [FieldIds.estimatedMrrCents]: expect.stringContaining('number of dollars') } });
    const saved = await submitQualify('UCSM0001', firingId, qualifyValues('Fifty more seats', '1250.50'));
    expect(saved.status).toBe(200);
    const [lead] = await leadsOf(account.id);
    expect(lead).toMatchObject({ firingId, wants: 'Fifty more seats', estimatedMrrCents: 125_050, urgency: 'high', status: 'qualified', createdBy: csm.id, aeId: ae.id });

    lifeline.delivery.wake();
    const [handed] = await dmTo('UAE00001');
    expect(validateBlocks(handed?.body.blocks, 'message')).toEqual([]);
    expect(blocksJson(handed)).toContain('Fifty more seats');
    expect(blocksJson(handed)).toContain(ActionIds.leadAccept);
    expect(blocksJson(handed)).toContain(ActionIds.leadDecline);

    await click('UAE00001', ActionIds.leadAccept, lead?.id ?? '', 'accept-1', String(handed?.body.channel));
    const [redrawn] = await fake.waitForCalls('chat.update', 1);
    expect(blocksJson(redrawn)).toContain('Accepted');
    expect(blocksJson(redrawn)).not.toContain(ActionIds.leadAccept);
    expect((await leadsOf(account.id))[0]).toMatchObject({ status: 'accepted', acceptedBy: ae.id });
    const csmDms = await dmTo('UCSM0001', 2);
    expect(csmDms.some((call) => String(call.body.text).startsWith('Lead on Northwind Traders: accepted'))).toBe(true);
  });

  it('the same signal qualified twice makes one lead', async () => {
    const account = await customer('Contoso');
    const firingId = await expansionSignal(account);
    const [first, second] = await Promise.all([
      submitQualify('UCSM0001', firingId, qualifyValues('SSO add-on', '300')),
      submitQualify('UCSM0001', firingId, qualifyValues('SSO add-on', '300')),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await leadsOf(account.id)).toHaveLength(1);
    // Once qualified, the button says so instead of opening the form again.
    await click('UCSM0001', ActionIds.leadQualify, String(firingId), 'qualify-again', 'DCSM0001');
    const [reply] = await fake.waitForCalls('response_url', 1);
    expect(reply?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(reply?.body.text)).toMatch(/already qualified this signal as a lead/);
    expect(fake.callsTo('views.open')).toHaveLength(0);
  });

  it('someone without the right is told why, and nothing changes', async () => {
    const account = await customer('Fabrikam');
    const firingId = await expansionSignal(account);
    await click('UCSM0002', ActionIds.leadQualify, String(firingId), 'qualify-other', 'DCSM0002');
    const [reply] = await fake.waitForCalls('response_url', 1);
    expect(reply?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(reply?.body.text)).toBe("Only the account's CSM (Sam Okafor), their manager or an admin can qualify a lead on it.");
    const refused = await submitQualify('UCSM0002', firingId, qualifyValues('More', '10'));
    expect(JSON.stringify(refused.json())).toContain("Only the account's CSM (Sam Okafor)");
    expect(await leadsOf(account.id)).toHaveLength(0);

    const { lead } = await qualifyLead(database.db, { accountId: account.id, wants: 'Training', estimatedMrrCents: 10_000, urgency: 'low', actor: actorFromUser(csm) });
    await click('UCSM0001', ActionIds.leadAccept, lead.id, 'accept-csm', 'DCSM0001');
    const replies = await fake.waitForCalls('response_url', 2);
    expect(String(replies[1]?.body.text)).toBe("Only the account's account executive (Tom Becker), a manager or an admin can accept this lead.");
    expect((await leadsOf(account.id))[0]?.status).toBe('qualified');
  });

  it('the AE declines with a reason, and the CSM hears why', async () => {
    const account = await customer('Litware');
    const { lead } = await qualifyLead(database.db, { accountId: account.id, wants: 'A second workspace', estimatedMrrCents: 20_000, urgency: 'medium', actor: actorFromUser(csm) });
    lifeline.delivery.wake();
    const [handed] = await dmTo('UAE00001');
    await click('UAE00001', ActionIds.leadDecline, lead.id, 'decline-1', String(handed?.body.channel));
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(validateView(opened?.body.view)).toEqual([]);
    const decline = (reason: string) =>
      slack.viewSubmission(
        viewSubmissionPayload({ userId: 'UAE00001', callbackId: CallbackIds.leadDecline, privateMetadata: JSON.stringify({ leadId: lead.id }), values: { [FieldIds.reason]: { [INPUT_ACTION]: { type: 'plain_text_input', value: reason } } }, blocks: viewBlocks(opened?.body.view) }),
      );
    expect((await decline('  ')).json()).toMatchObject({ response_action: 'errors', errors: { [FieldIds.reason]: expect.stringContaining('say why') } });
    expect((await decline('Already in their plan')).status).toBe(200);
    expect((await leadsOf(account.id))[0]).toMatchObject({ status: 'declined', declineReason: 'Already in their plan', declinedBy: ae.id });
    lifeline.delivery.wake();
    const csmDms = await dmTo('UCSM0001');
    const outcome = csmDms.find((call) => String(call.body.text).startsWith('Lead on Litware: declined'));
    expect(blocksJson(outcome)).toContain('Already in their plan');
    expect(validateBlocks(outcome?.body.blocks, 'message')).toEqual([]);
  });

  it('a closed-won deal closes the lead won, once, and the CSM hears once', async () => {
    const account = await customer('Tailspin');
    const { lead } = await qualifyLead(database.db, { accountId: account.id, wants: 'Enterprise tier', estimatedMrrCents: 50_000, urgency: 'high', actor: actorFromUser(csm) });
    const deal = () =>
      recordClosedWon(database.db, {
        opportunityId: 'opp-tailspin-expansion',
        account: { externalId: account.externalId ?? '', name: 'Tailspin', segment: 'mid_market', arrCents: 1_800_000, contractStart: null, contractEnd: null },
        closedWonAt: new Date(),
        context: {},
        actor: { userId: null, role: 'integration', label: 'CRM' },
      });
    await deal();
    await deal();
    // 18,000 ÷ 12 − 1,000 = 500 dollars of MRR added.
    expect(await leadsOf(account.id)).toMatchObject([{ id: lead.id, status: 'won', wonOpportunityId: 'opp-tailspin-expansion', wonMrrCents: 50_000 }]);
    // One outcome queued for the CSM, delivered as one DM.
    expect(await database.db.select().from(outbox).where(eq(outbox.dedupeKey, `lead_outcome:${lead.id}:won`))).toHaveLength(1);
    lifeline.delivery.wake();
    const csmDms = await dmTo('UCSM0001');
    const won = csmDms.filter((call) => String(call.body.text).startsWith('Lead on Tailspin: won'));
    expect(won).toHaveLength(1);
    expect(blocksJson(won[0])).toContain('$500');
  });
});
