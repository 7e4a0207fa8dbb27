import { eq, inArray } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { ActionIds } from '../bot/ids.ts';
import { DIGEST_PAGE_SIZE, encodeDigestValue } from '../bot/views/digest.ts';
import { type Account, type HealthStatus, type User, accountHealth, atRiskFollowUps, outbox, users } from '../db/schema.ts';
import { queueDailyDigest } from '../domain/digest.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { validateBlocks } from './support/block-kit.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { createAccountWithHealth } from './support/health.ts';
import { textOf } from './support/slack-answers.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { type SlackRequestClient, buttonAction, slashCommand } from './support/slack-requests.ts';
import { DAY_MS } from '../domain/dates.ts';

const AT_RISK_CHANNEL = 'C0ATRISK01';

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let slack: SlackRequestClient;
let sam: User;
let lena: User;
let manager: User;
/**
 * The digest runs "today" and "tomorrow": the clock the bot and the worker see. Today is the next 09:00 UTC at
 * least a few hours after the wall clock, so the clicks the bot stamps with the wall clock fall before it.
 */
const TODAY = nextMorning(new Date());
let now = TODAY;

function nextMorning(from: Date): Date {
  const morning = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + 1, 9));
  return morning.getTime() - from.getTime() < 9 * 3_600_000 ? new Date(morning.getTime() + DAY_MS) : morning;
}

/** The calendar day `days` after today, as the digest prints it. */
function day(days: number): string {
  return new Date(TODAY.getTime() + days * DAY_MS).toISOString().slice(0, 10);
}

// The worker's clock also decides when rows are due: keep it at least at the wall clock.
// No per-channel pacing: these tests post several digests to one channel within a second on purpose.
useSlackHarness(
  { env: { SLACK_AT_RISK_CHANNEL: AT_RISK_CHANNEL }, delivery: { clock: () => (now.getTime() > Date.now() ? now : new Date()), perTargetIntervalMs: 0 } },
  async (harness) => {
    ({ database, fake, lifeline, slack } = harness);
    sam = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
    lena = await createUser(database.db, { role: 'csm', name: 'Lena Fischer', slackUserId: 'UCSM0002' });
    manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel', slackUserId: 'UMGR0001' });
  },
);
beforeEach(async () => {
  // Each test starts from an empty digest: no health rows, no follow-ups, nothing queued.
  await database.db.delete(atRiskFollowUps);
  await database.db.delete(accountHealth);
  await database.db.delete(outbox);
  now = TODAY;
});

function withHealth(name: string, csm: User | null, score: number, status: HealthStatus, scoreDayAgo: number | null, reasons: string[], contractEnd = day(68)) {
  return createAccountWithHealth(database.db, { name, csmId: csm?.id ?? null, stageKey: 'mature_adoption', contractEnd }, { score, status, scoreDayAgo, reasons, computedAt: now });
}

/** A click on an account's item of the digest posted in the at-risk channel. */
function clickItemInChannel(account: Account, click: { userId: string; actionId: string; responseId: string; messageTs: string }) {
  return slack.blockAction(
    buttonAction({
      userId: click.userId,
      actionId: click.actionId,
      blockId: `digest_item:${account.id}`,
      value: encodeDigestValue({ accountId: account.id, csmId: null, page: 0 }),
      responseUrl: fake.responseUrl(click.responseId),
      container: { type: 'message', channelId: AT_RISK_CHANNEL, messageTs: click.messageTs, isEphemeral: false },
    }),
  );
}

function blocksOf(call: RecordedCall | undefined): unknown[] {
  const blocks = call?.body.blocks;
  return Array.isArray(blocks) ? blocks : [];
}

function totalText(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + totalText(item), 0);
  if (typeof value !== 'object' || value === null) return 0;
  return Object.entries(value).reduce((sum, [key, item]) => sum + (key === 'text' && typeof item === 'string' ? item.length : totalText(item)), 0);
}


describe('the daily at-risk digest', () => {
  it('goes to the at-risk channel and to each CSM for their own accounts, biggest drop first, each saying why', async () => {
    await withHealth('Acme Analytics', sam, 35, 'critical', 60, ['Weekly active users down 48% in 14 days', '3 urgent tickets open'], day(51));
    await withHealth('Borealis Bank', sam, 55, 'at_risk', 58, ['NPS detractor: "too slow"']);
    await withHealth('Crescent Foods', lena, 72, 'healthy', 90, ['Usage fell by a third this week']);
    await withHealth('Dynamo Health', lena, 88, 'healthy', 90, ['All good']);

    const run = await queueDailyDigest(database.db, { now });
    expect(run).toEqual({ items: 3, channelDigests: 1, csmDigests: 2, escalated: 0 });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 3, retried: 0, parked: 0 });

    const posts = fake.callsTo('chat.postMessage');
    const channel = posts.find((call) => call.body.channel === AT_RISK_CHANNEL);
    expect(validateBlocks(channel?.body.blocks, 'message')).toEqual([]);
    expect(channel?.warnings).toEqual([]);
    expect(textOf(channel)).toBe(
      `At-risk digest ${day(0)}: 3 accounts need attention, biggest drop first: Acme Analytics (Critical 35, down 25), Crescent Foods (Healthy 72, down 18), Borealis Bank (At risk 55, down 3)`,
    );
    const json = JSON.stringify(channel?.body.blocks);
    expect(json).toContain('1 Critical, 1 At risk, 1 Healthy but falling fast');
    expect(json).toContain('*Acme Analytics* · :red_circle: Critical 35 (▼25 since yesterday)');
    expect(json).toContain('• Weekly active users down 48% in 14 days');
    expect(json).toContain(`renews ${day(51)} (in 51 days) · CSM <@UCSM0001>`);
    for (const actionId of [ActionIds.digestAcknowledge, ActionIds.digestSnooze, ActionIds.digestMoveStage, ActionIds.digestOpenAccount]) expect(json).toContain(actionId);
    expect(json).not.toContain('Dynamo Health');

    const samDm = posts.find((call) => call.body.channel === 'UCSM0001');
    expect(textOf(samDm)).toMatch(new RegExp(`^At-risk digest ${day(0)}: 2 accounts need attention.*Acme Analytics.*Borealis Bank`));
    expect(JSON.stringify(samDm?.body.blocks)).not.toContain('Crescent Foods');
    expect(JSON.stringify(samDm?.body.blocks)).toContain('Your at-risk accounts');

    // The job running again the same day (a retry, another replica) queues nothing new.
    expect(await queueDailyDigest(database.db, { now })).toMatchObject({ channelDigests: 0, csmDigests: 0 });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 0 });
  });

  it('never lists an account without a score (not enough data), even one that had a score yesterday', async () => {
    await withHealth('Lumen Labs', sam, 32, 'critical', 45, ['2 open urgent tickets, oldest 9 days']);
    const silent = await createAccountWithHealth(
      database.db,
      { name: 'Mute Mining', csmId: sam.id, stageKey: 'mature_adoption', contractEnd: day(20) },
      {
        score: null,
        status: 'insufficient_data',
        scoreDayAgo: 90,
        reasons: ['not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches'],
        computedAt: now,
      },
    );

    expect(await queueDailyDigest(database.db, { now })).toMatchObject({ items: 1 });
    await lifeline.delivery.drainOnce();
    const channel = fake.callsTo('chat.postMessage').find((call) => call.body.channel === AT_RISK_CHANNEL);
    expect(textOf(channel)).toMatch(/: 1 account needs? attention, biggest drop first: Lumen Labs \(Critical 32, down 13\)$/);
    expect(JSON.stringify(channel?.body.blocks)).toContain('1 Critical, 0 At risk.');
    expect(JSON.stringify(fake.calls)).not.toContain('Mute Mining');
    // Not listed, so never escalated the day after either.
    now = new Date(now.getTime() + DAY_MS);
    expect(await queueDailyDigest(database.db, { now })).toMatchObject({ items: 1, escalated: 1 });
    const [followUp] = await database.db.select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, silent.id));
    expect(followUp).toBeUndefined();
  });

  it('with 300 at-risk accounts stays valid Block Kit: one page, a summary, and "show more" for the next', async () => {
    const owned = await Promise.all(
      Array.from({ length: 3 }, (_, index) => createUser(database.db, { role: 'csm', name: `Bulk CSM ${index}`, slackUserId: `UBULK000${index}` })),
    );
    const inserted = [];
    for (let index = 0; index < 300; index += 1) {
      inserted.push(
        await createAccountWithHealth(
          database.db,
          {
            name: `Bulk ${String(index).padStart(3, '0')} ${'Very Long Company Name '.repeat(6)}`,
            segment: 'smb',
            stageKey: 'mature_adoption',
            csmId: owned[index % 3]?.id ?? null,
            contractEnd: day(96),
          },
          {
            score: 20 + (index % 45),
            status: index % 45 < 20 ? 'critical' : 'at_risk',
            scoreDayAgo: 70,
            reasons: Array.from({ length: 6 }, (_, reason) => `Reason ${reason}: ${'usage fell sharply across every team '.repeat(8)}`),
            computedAt: now,
          },
        ),
      );
    }
    await queueDailyDigest(database.db, { now });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 4, retried: 0, parked: 0 });
    const channel = fake.callsTo('chat.postMessage').find((call) => call.body.channel === AT_RISK_CHANNEL);
    expect(channel?.outcome).toBe('ok');
    expect(validateBlocks(channel?.body.blocks, 'message')).toEqual([]);
    expect(blocksOf(channel).length).toBeLessThanOrEqual(50);
    // Slack refuses a message whose blocks hold more than about 12k characters of text (msg_blocks_too_long).
    expect(totalText(channel?.body.blocks)).toBeLessThan(12_000);
    const json = JSON.stringify(channel?.body.blocks);
    expect(json).toContain('*300 accounts* need attention');
    expect(json).toContain(`Showing 1–${DIGEST_PAGE_SIZE} of 300.`);
    expect(json).toContain(ActionIds.digestShowMore);

    await slack.blockAction(
      buttonAction({
        userId: 'UMGR0001',
        actionId: ActionIds.digestShowMore,
        blockId: 'digest_more',
        value: encodeDigestValue({ accountId: '', csmId: null, page: 1 }),
        responseUrl: fake.responseUrl('more'),
        container: { type: 'message', channelId: AT_RISK_CHANNEL, messageTs: '1700000000.000100', isEphemeral: false },
      }),
    );
    const [more] = await fake.waitForCalls('response_url', 1);
    expect(more?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(validateBlocks(more?.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(more?.body.blocks)).toContain(`Showing ${DIGEST_PAGE_SIZE + 1}–${2 * DIGEST_PAGE_SIZE} of 300.`);
    await database.db.delete(accountHealth).where(inArray(accountHealth.accountId, inserted.map((row) => row.id)));
  });

  it('Acknowledge records who is on it and redraws the digest; another CSM cannot acknowledge it', async () => {
    const account = await withHealth('Ember Logistics', sam, 30, 'critical', 50, ['Champion left']);
    const click = (userId: string, actionId: string, id: string) => clickItemInChannel(account, { userId, actionId, responseId: id, messageTs: '1700000000.000200' });
    await click('UCSM0002', ActionIds.digestAcknowledge, 'lena-ack');
    const [refused] = await fake.waitForCalls('response_url', 1);
    expect(textOf(refused)).toBe("Only Ember Logistics's own CSM or a manager can acknowledge or snooze it; it belongs to another CSM.");
    fake.reset();

    await click('UCSM0001', ActionIds.digestAcknowledge, 'sam-ack');
    const [redrawn] = await fake.waitForCalls('response_url', 1);
    expect(redrawn?.body.replace_original).toBe(true);
    expect(validateBlocks(redrawn?.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(redrawn?.body.blocks)).toContain(':white_check_mark: Acknowledged by Sam Okafor');
    const [followUp] = await database.db.select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, account.id));
    expect(followUp?.acknowledgedBy).toBe(sam.id);
  });

  it("a manager acknowledges an at-risk account of a CSM who reports to them, shown by name; another manager is told whose it is", async () => {
    const ruth = await createUser(database.db, { role: 'manager', name: 'Ruth Lead', slackUserId: 'URUTHLEAD1' });
    const ivy = await createUser(database.db, { role: 'csm', name: 'Ivy Away', slackUserId: 'UIVYAWAY01' });
    await database.db.update(users).set({ managerId: ruth.id }).where(eq(users.id, ivy.id));
    const account = await withHealth('Harbor Labs', ivy, 32, 'critical', 55, ['Champion left']);
    const click = (userId: string, actionId: string, id: string) => clickItemInChannel(account, { userId, actionId, responseId: id, messageTs: '1700000000.000300' });
    await click('UMGR0001', ActionIds.digestSnooze, 'maya-snooze');
    const [refused] = await fake.waitForCalls('response_url', 1);
    expect(textOf(refused)).toBe(
      'Managers can acknowledge or snooze at-risk accounts only for accounts whose CSM or account executive reports to them, and Ivy Away reports to Ruth Lead. Ask that manager or an admin, or the people on Harbor Labs.',
    );
    expect(await database.db.select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, account.id))).toEqual([]);
    fake.reset();

    await click('URUTHLEAD1', ActionIds.digestAcknowledge, 'ruth-ack');
    const [redrawn] = await fake.waitForCalls('response_url', 1);
    expect(JSON.stringify(redrawn?.body.blocks)).toContain(':white_check_mark: Acknowledged by Ruth Lead');
    const [followUp] = await database.db.select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, account.id));
    expect(followUp?.acknowledgedBy).toBe(ruth.id);
  });

  it('Snooze hides the account for a week, from the redrawn digest and from the next ones', async () => {
    const account = await withHealth('Falcon Air', sam, 45, 'at_risk', 50, ['Fewer logins']);
    await withHealth('Gale Media', sam, 44, 'at_risk', 46, ['Tickets piling up']);
    await slack.blockAction(
      buttonAction({
        userId: 'UCSM0001',
        actionId: ActionIds.digestSnooze,
        blockId: `digest_item:${account.id}`,
        value: encodeDigestValue({ accountId: account.id, csmId: sam.id, page: 0 }),
        responseUrl: fake.responseUrl('snooze'),
        container: { type: 'message', channelId: 'DUCSM0001', messageTs: '1700000000.000300', isEphemeral: false },
      }),
    );
    const [redrawn] = await fake.waitForCalls('response_url', 1);
    expect(JSON.stringify(redrawn?.body.blocks)).not.toContain('Falcon Air');
    expect(JSON.stringify(redrawn?.body.blocks)).toContain('Gale Media');

    now = new Date(now.getTime() + 3 * DAY_MS);
    expect((await queueDailyDigest(database.db, { now })).items).toBe(1);
    now = new Date(now.getTime() + 5 * DAY_MS);
    expect((await queueDailyDigest(database.db, { now })).items).toBe(2);
  });

  it('an item nobody acknowledged by the next digest is escalated to the managers, saying why', async () => {
    await withHealth('Harbor Freight', sam, 25, 'critical', 40, ['No logins in 10 days']);
    const handled = await withHealth('Iris Optics', lena, 50, 'at_risk', 52, ['Renewal at risk']);
    await queueDailyDigest(database.db, { now });
    await database.db.update(atRiskFollowUps).set({ acknowledgedAt: now, acknowledgedBy: lena.id }).where(eq(atRiskFollowUps.accountId, handled.id));
    await lifeline.delivery.drainOnce();
    fake.reset();

    now = new Date(now.getTime() + DAY_MS);
    expect(await queueDailyDigest(database.db, { now })).toMatchObject({ items: 2, escalated: 1 });
    await lifeline.delivery.drainOnce();
    const escalation = fake.callsTo('chat.postMessage').find((call) => call.body.channel === 'UMGR0001');
    expect(validateBlocks(escalation?.body.blocks, 'message')).toEqual([]);
    expect(textOf(escalation)).toMatch(/^1 at-risk account went a whole day on the digest without anyone acknowledging it\. You get this because you are a manager/);
    expect(JSON.stringify(escalation?.body.blocks)).toContain(`*Harbor Freight* · :red_circle: Critical 25 · CSM Sam Okafor · listed since ${day(0)}`);
    expect(JSON.stringify(escalation?.body.blocks)).not.toContain('Iris Optics');

    // Escalated once: the day after brings no second escalation for the same item.
    now = new Date(now.getTime() + DAY_MS);
    expect(await queueDailyDigest(database.db, { now })).toMatchObject({ escalated: 0 });
    expect(manager.role).toBe('manager');
  });
});

describe('/lifeline at-risk and renewals', () => {
  it('at-risk answers, only to the person, with their own accounts', async () => {
    await withHealth('Juniper Schools', sam, 38, 'critical', 41, ['Seats unused']);
    await withHealth('Kestrel Motors', lena, 38, 'critical', 41, ['Seats unused']);
    await slack.command(slashCommand({ text: 'at-risk', user_id: 'UCSM0001', response_url: fake.responseUrl('at-risk') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(validateBlocks(answer?.body.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(answer?.body.blocks)).toContain('Juniper Schools');
    expect(JSON.stringify(answer?.body.blocks)).not.toContain('Kestrel Motors');
  });

  it('renewals lists the person’s renewals in the next 90 days, soonest first', async () => {
    const today = new Date();
    const inDays = (days: number) => new Date(today.getTime() + days * DAY_MS).toISOString().slice(0, 10);
    const olga = await createUser(database.db, { role: 'csm', name: 'Olga Renew', slackUserId: 'UCSM0009' });
    await createAccount(database.db, { name: 'Later Renewal', csmId: olga.id, contractEnd: inDays(60) });
    await createAccount(database.db, { name: 'Soon Renewal', csmId: olga.id, contractEnd: inDays(10) });
    await createAccount(database.db, { name: 'Far Renewal', csmId: olga.id, contractEnd: inDays(200) });
    await createAccount(database.db, { name: 'Not Mine Renewal', csmId: lena.id, contractEnd: inDays(5) });
    await slack.command(slashCommand({ text: 'renewals', user_id: 'UCSM0009', response_url: fake.responseUrl('renewals') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).toBe(`2 renewals in the next 90 days: Soon Renewal (${inDays(10)}), Later Renewal (${inDays(60)})`);
  });

  it('help lists every subcommand', async () => {
    await slack.command(slashCommand({ text: 'help', user_id: 'UCSM0001', response_url: fake.responseUrl('help') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    for (const subcommand of ['account <name>', 'at-risk', 'renewals', 'help']) expect(textOf(answer)).toContain(`/lifeline ${subcommand}`);
  });
});
