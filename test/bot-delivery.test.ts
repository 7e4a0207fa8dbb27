import { WebClient } from '@slack/web-api';
import { asc, eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDeliveryWorker } from '../bot/delivery.ts';
import { createNotificationRenderer } from '../bot/notifications.ts';
import { parseConfig } from '../config.ts';
import { type User, outbox, slackMessages } from '../db/schema.ts';
import type { NotificationTarget } from '../domain/notifications.ts';
import { claimDueNotifications, enqueueNotification, markNotificationPosting } from '../domain/outbox.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { createGraphqlClient, silentLogger } from './support/graphql.ts';
import { useSlackHarness } from './support/slack-harness.ts';

const HANDOFF_CHANNEL = 'C0HANDOFF1';
const AT_RISK_CHANNEL = 'C0ATRISK01';

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let csm: User;
/** The worker's clock runs ahead of the wall clock by this much, so tests can "wait" for backoffs instantly. */
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);

useSlackHarness(
  {
    env: { SLACK_HANDOFF_CHANNEL: HANDOFF_CHANNEL, SLACK_AT_RISK_CHANNEL: AT_RISK_CHANNEL },
    // Pacing (one new message a second per channel) has its own test below; here it would only slow things down.
    delivery: { clock, backoff: { baseMs: 5_000, maxMs: 60_000 }, maxAttempts: 3, perTargetIntervalMs: 0 },
  },
  async (harness) => {
    ({ database, fake, lifeline } = harness);
    csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UCSM0001' });
  },
);
beforeEach(() => {
  offsetMs = 0;
});

/** A delivery worker beside the server's, on the same database and fake Slack, as on another replica. */
function anotherWorker(options: Partial<Parameters<typeof createDeliveryWorker>[0]>) {
  return createDeliveryWorker({
    db: database.db,
    client: new WebClient('xoxb-test-token', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true }),
    logger: silentLogger,
    channels: { handoffs: HANDOFF_CHANNEL, atRisk: AT_RISK_CHANNEL },
    render: createNotificationRenderer(database.db),
    ...options,
  });
}

async function rowByKey(dedupeKey: string) {
  const [row] = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, dedupeKey));
  if (!row) throw new Error(`no outbox row ${dedupeKey}`);
  return row;
}

async function queueAlert(key: string, target: NotificationTarget<'alert'>, accountName = `Alerted ${key}`) {
  const account = await createAccount(database.db, { name: accountName, csmId: csm.id });
  await enqueueNotification(database.db, {
    kind: 'alert',
    dedupeKey: key,
    target,
    payload: { accountId: account.id, rule: 'usage_drop', reason: 'Weekly active users fell from 40 to 12 (-70%) in 7 days.' },
  });
  return account;
}

describe('the outbox delivery worker', () => {
  it('posts a queued alert to its owner as a DM that says why, records channel and ts, and never posts it twice', async () => {
    const account = await queueAlert('alert:dm', `user:${csm.id}`, 'Harbor Freight Co');
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 1, retried: 0, parked: 0 });
    const [post] = fake.callsTo('chat.postMessage');
    expect(post?.outcome).toBe('ok');
    expect(post?.warnings).toEqual([]);
    expect(post?.body.channel).toBe('UCSM0001');
    expect(post?.body.text).toMatch(/^Usage dropped: Harbor Freight Co\. Weekly active users fell from 40 to 12/);
    expect(JSON.stringify(post?.body.blocks)).toContain('You get this because you are the CSM of Harbor Freight Co');

    const row = await rowByKey('alert:dm');
    expect(row).toMatchObject({ status: 'sent', slackChannel: 'DUCSM0001', attempts: 1, lastError: null });
    expect(row.slackTs).toMatch(/^\d+\.\d+$/);

    // A restart, a second drain or a re-enqueue of the same occasion posts nothing new.
    expect(
      await enqueueNotification(database.db, {
        kind: 'alert',
        dedupeKey: 'alert:dm',
        target: `user:${csm.id}`,
        payload: { accountId: account.id, rule: 'usage_drop', reason: 'Queued again.' },
      }),
    ).toBe(false);
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
  });

  it('updates the message kept under a message key in place instead of posting a second one', async () => {
    const account = await createAccount(database.db, { name: 'Keyed Co', csmId: csm.id });
    const queue = (key: string, reason: string) =>
      enqueueNotification(database.db, {
        kind: 'alert',
        dedupeKey: key,
        target: 'channel:at_risk',
        messageKey: `alert-thread:${account.id}`,
        payload: { accountId: account.id, rule: 'health_worsened', reason },
      });
    await queue('keyed:1', 'Health fell from 72 to 55.');
    await queue('keyed:2', 'Health fell from 72 to 41.');
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 2, retried: 0, parked: 0 });
    const [post] = fake.callsTo('chat.postMessage');
    const [update] = fake.callsTo('chat.update');
    expect(post?.body.channel).toBe(AT_RISK_CHANNEL);
    expect(update?.outcome).toBe('ok');
    expect(update?.body.text).toMatch(/Health fell from 72 to 41/);
    const first = await rowByKey('keyed:1');
    expect(update?.body).toMatchObject({ channel: AT_RISK_CHANNEL, ts: first.slackTs });
    const [stored] = await database.db.select().from(slackMessages).where(eq(slackMessages.messageKey, `alert-thread:${account.id}`));
    expect(stored).toMatchObject({ channel: AT_RISK_CHANNEL, ts: first.slackTs });
  });

  it('retries after Slack answers 500, with backoff, and delivers once Slack is back', async () => {
    await queueAlert('alert:500', `user:${csm.id}`);
    fake.failNext('chat.postMessage', { status: 500 });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 1, parked: 0 });
    const failed = await rowByKey('alert:500');
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, lastError: 'Slack answered HTTP 500' });
    // Backoff: the base delay, give or take its jitter.
    const delay = failed.nextAttemptAt.getTime() - Date.now();
    expect(delay).toBeGreaterThan(3_000);
    expect(delay).toBeLessThan(7_000);

    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 0 });
    offsetMs = 10_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 1, retried: 0, parked: 0 });
    expect(await rowByKey('alert:500')).toMatchObject({ status: 'sent', attempts: 2 });
    expect(fake.callsTo('chat.postMessage').map((call) => call.outcome)).toEqual(['http_500', 'ok']);
  });

  it('honours Retry-After on 429 and keeps the channel’s messages in order', async () => {
    await queueAlert('order:1', 'channel:at_risk', 'First Co');
    await queueAlert('order:2', 'channel:at_risk', 'Second Co');
    fake.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 30 });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 1, parked: 0 });
    const limited = await rowByKey('order:1');
    expect(limited.status).toBe('pending');
    expect(limited.lastError).toMatch(/rate limited.*30s/);
    expect(limited.nextAttemptAt.getTime() - Date.now()).toBeGreaterThan(28_000);
    // The second message waits behind the first rather than overtaking it.
    expect((await rowByKey('order:2')).attempts).toBe(0);

    offsetMs = 31_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 2, retried: 0, parked: 0 });
    const posted = fake.callsTo('chat.postMessage').filter((call) => call.outcome === 'ok');
    expect(posted.map((call) => String(call.body.text).split(':')[1]?.trim().split('.')[0])).toEqual(['First Co', 'Second Co']);
    // Being paced by Slack is not the message's fault: it does not count towards parking.
    expect((await rowByKey('order:1')).attempts).toBe(1);
  });

  it('after a 429 no notification is posted before Retry-After, not only the refused one, by any worker', async () => {
    const serial = anotherWorker({ clock, concurrency: 1 });
    await queueAlert('throttle:1', 'C0THROTTLE1', 'Throttled One');
    await queueAlert('throttle:2', 'C0THROTTLE2', 'Throttled Two');
    fake.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 30 });
    expect(await serial.drainOnce()).toEqual({ sent: 0, retried: 1, parked: 0 });
    // The other channel's notification was claimed in the same drain but not posted.
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
    expect(await rowByKey('throttle:2')).toMatchObject({ status: 'pending', attempts: 0 });

    // Another replica's worker holds back too: the wait is in the outbox, not in one process.
    offsetMs = 10_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);

    offsetMs = 31_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 2, retried: 0, parked: 0 });
    expect(fake.callsTo('chat.postMessage').map((call) => call.outcome)).toEqual(['rate_limited', 'ok', 'ok']);
  });

  it('a post that landed although Slack answered 500 is found once Slack is back, not posted twice', async () => {
    await queueAlert('outage:landed', 'C0LANDED01', 'Landed Co');
    fake.failNext('chat.postMessage', { status: 500, processed: true });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 1, parked: 0 });

    // Slack is still down when the worker looks for the uncertain post: it waits rather than post blind.
    fake.failNext('conversations.history', { status: 500 });
    offsetMs = 10_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 1, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);

    offsetMs = 30_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 1, retried: 0, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
    expect(fake.callsTo('conversations.history').map((call) => call.outcome)).toEqual(['http_500', 'ok']);
    expect(await rowByKey('outage:landed')).toMatchObject({ status: 'sent', slackChannel: 'C0LANDED01', postingSince: null });
  });

  it('parks a message Slack refuses for good, with the error and a hint, and moves on', async () => {
    await queueAlert('alert:not-in-channel', 'C0PRIVATE1');
    fake.failNext('chat.postMessage', { error: 'not_in_channel' });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 1 });
    expect(await rowByKey('alert:not-in-channel')).toMatchObject({
      status: 'parked',
      lastError: 'Slack refused the message: not_in_channel (the bot is not a member of the channel; invite @Lifeline to it)',
    });
  });

  it('shows parked notifications with their last error to managers through GraphQL, and lets them requeue one', async () => {
    await queueAlert('alert:parked-visible', 'C0GONE0001', 'Parked Visible Co');
    fake.failNext('chat.postMessage', { error: 'channel_not_found' });
    await lifeline.delivery.drainOnce();
    const graphql = createGraphqlClient(database.db);
    const managerToken = await createToken(database.db, 'manager');
    const query = '{ notifications(status: PARKED) { id dedupeKey status attempts lastError target } }';
    const listed = await graphql.request(query, {}, managerToken);
    const notifications = listed.body.data?.notifications;
    const parked = Array.isArray(notifications) ? notifications.find((row) => Reflect.get(row, 'dedupeKey') === 'alert:parked-visible') : undefined;
    expect(parked).toMatchObject({
      status: 'PARKED',
      target: 'C0GONE0001',
      lastError: expect.stringMatching(/^Slack refused the message: channel_not_found \(the channel does not exist or the bot cannot see it/),
    });

    const csmToken = await createToken(database.db, 'csm');
    const refused = await graphql.request(query, {}, csmToken);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const requeued = await graphql.request('mutation($id: ID!) { requeueNotification(id: $id) { status attempts } }', { id: Reflect.get(parked, 'id') }, managerToken);
    expect(requeued.body.data?.requeueNotification).toEqual({ status: 'PENDING', attempts: 0 });
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1 });
    expect((await rowByKey('alert:parked-visible')).status).toBe('sent');
  });

  it('parks a message that keeps failing after the last attempt, keeping its last error', async () => {
    await queueAlert('alert:down', `user:${csm.id}`);
    fake.failNext('chat.postMessage', { status: 500 }, 3);
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ retried: 1 });
    offsetMs = 120_000;
    expect(await lifeline.delivery.drainOnce()).toMatchObject({ retried: 1 });
    offsetMs = 240_000;
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 1 });
    expect(await rowByKey('alert:down')).toMatchObject({ status: 'parked', attempts: 3, lastError: 'Gave up after 3 attempts: Slack answered HTTP 500' });
  });

  it('parks, without calling Slack, a notification to someone not linked to Slack or to an unconfigured place', async () => {
    const unlinked = await createUser(database.db, { role: 'csm', name: 'Ola Unlinked', slackUserId: null });
    await queueAlert('alert:unlinked', `user:${unlinked.id}`);
    // No release writes such a target (enqueueing refuses it), but a row edited by hand or left by a future
    // release can hold one: delivery parks it with the reason.
    const nowhere = await createAccount(database.db, { name: 'Nowhere Co', csmId: csm.id });
    await database.db
      .insert(outbox)
      .values({ kind: 'alert', dedupeKey: 'alert:nowhere', target: 'channel:renewals', payload: { accountId: nowhere.id, rule: 'usage_drop', reason: 'Usage fell.' } });
    expect(await lifeline.delivery.drainOnce()).toEqual({ sent: 0, retried: 0, parked: 2 });
    expect((await rowByKey('alert:unlinked')).lastError).toBe('Ola Unlinked is not linked to Slack: set their Slack user id, then requeue.');
    expect((await rowByKey('alert:nowhere')).lastError).toMatch(/Unknown target "channel:renewals"/);
    expect(fake.callsTo('chat.postMessage')).toEqual([]);
  });

  it('paces new messages to one channel at one a second, so Slack never has to answer 429', async () => {
    const paced = anotherWorker({ clock });
    await queueAlert('paced:1', 'C0PACED001', 'Paced One');
    await queueAlert('paced:2', 'C0PACED001', 'Paced Two');
    expect(await paced.drainOnce()).toEqual({ sent: 1, retried: 0, parked: 0 });
    const waiting = await rowByKey('paced:2');
    expect(waiting).toMatchObject({ status: 'pending', attempts: 0, lastError: null });
    offsetMs = 1_500;
    expect(await paced.drainOnce()).toEqual({ sent: 1, retried: 0, parked: 0 });
    expect(fake.callsTo('chat.postMessage').map((call) => call.outcome)).toEqual(['ok', 'ok']);
  });

  it('two workers draining the same outbox at once post every notification exactly once', async () => {
    const keys = Array.from({ length: 12 }, (_, index) => `race:${index}`);
    for (const [index, key] of keys.entries()) await queueAlert(key, index % 2 === 0 ? `user:${csm.id}` : 'channel:at_risk', `Race ${index}`);
    // Same pacing as the first worker: this test is about claiming, not about Slack's per-channel rate.
    const second = anotherWorker({ perTargetIntervalMs: 0 });
    const [a, b] = await Promise.all([lifeline.delivery.drainOnce(), second.drainOnce()]);
    expect((a?.sent ?? 0) + (b?.sent ?? 0)).toBe(12);
    const texts = fake.callsTo('chat.postMessage').map((call) => String(call.body.text));
    expect(texts).toHaveLength(12);
    expect(new Set(texts).size).toBe(12);
    const rows = await database.db.select().from(outbox).where(eq(outbox.status, 'sent')).orderBy(asc(outbox.id));
    expect(rows.filter((row) => keys.includes(row.dedupeKey)).every((row) => row.attempts === 1)).toBe(true);
  });
});

describe('a crash between posting and recording', () => {
  it('a message that reached Slack before the worker died is found by its metadata and not posted again', async () => {
    await queueAlert('crash:landed', 'channel:at_risk', 'Interrupted Co');
    const [claimed] = await claimDueNotifications(database.db, { now: clock(), limit: 10 });
    if (!claimed) throw new Error('nothing claimed');
    // What the dead worker managed to do: note the attempt, and have Slack accept the post. Then it died.
    await markNotificationPosting(database.db, { id: claimed.id, channel: AT_RISK_CHANNEL, threadTs: null, at: clock() });
    const client = new WebClient('xoxb-test-token', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
    const landed = await client.chat.postMessage({
      channel: AT_RISK_CHANNEL,
      text: 'Usage dropped: Interrupted Co',
      metadata: { event_type: 'lifeline_notification', event_payload: { outbox_id: String(claimed.id) } },
    });
    // Not fake.reset(): that would also forget the message Slack now holds.
    const postsBefore = fake.callsTo('chat.postMessage').length;
    offsetMs += 120_000; // the dead worker's lease runs out

    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(postsBefore);
    expect(fake.callsTo('conversations.history')).toHaveLength(1);
    const row = await rowByKey('crash:landed');
    expect(row).toMatchObject({ status: 'sent', slackChannel: AT_RISK_CHANNEL, slackTs: landed.ts, postingSince: null });
  });

  it('an interrupted direct message is found in the DM, not sent twice', async () => {
    await queueAlert('crash:dm', `user:${csm.id}`, 'Interrupted DM Co');
    const [claimed] = await claimDueNotifications(database.db, { now: clock(), limit: 10 });
    if (!claimed || !csm.slackUserId) throw new Error('nothing claimed');
    await markNotificationPosting(database.db, { id: claimed.id, channel: csm.slackUserId, threadTs: null, at: clock() });
    const client = new WebClient('xoxb-test-token', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
    const landed = await client.chat.postMessage({
      channel: csm.slackUserId,
      text: 'Usage dropped: Interrupted DM Co',
      metadata: { event_type: 'lifeline_notification', event_payload: { outbox_id: String(claimed.id) } },
    });
    const postsBefore = fake.callsTo('chat.postMessage').length;
    offsetMs += 120_000;

    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(postsBefore);
    expect(await rowByKey('crash:dm')).toMatchObject({ status: 'sent', slackChannel: landed.channel, slackTs: landed.ts });
  });

  it('a post that never reached Slack is posted on the next attempt, once', async () => {
    await queueAlert('crash:lost', 'channel:at_risk', 'Never Landed Co');
    const [claimed] = await claimDueNotifications(database.db, { now: clock(), limit: 10 });
    if (!claimed) throw new Error('nothing claimed');
    await markNotificationPosting(database.db, { id: claimed.id, channel: AT_RISK_CHANNEL, threadTs: null, at: clock() });
    fake.reset();
    offsetMs += 120_000;

    expect(await lifeline.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
    const posts = fake.callsTo('chat.postMessage');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body.metadata).toEqual({ event_type: 'lifeline_notification', event_payload: { outbox_id: String(claimed.id) } });
    expect(await rowByKey('crash:lost')).toMatchObject({ status: 'sent', postingSince: null });
  });
});

describe('local mode', () => {
  it('delivers the same notifications to the console and the Slack simulator when there is no bot token', async () => {
    const printed: string[] = [];
    const local = await startLifeline({
      config: parseConfig({ PORT: '0' }),
      database,
      logger: silentLogger,
      host: '127.0.0.1',
      printLocal: (line) => printed.push(line),
    });
    try {
      await queueAlert('alert:local', 'channel:at_risk', 'Local Preview Co');
      expect(await local.delivery.drainOnce()).toMatchObject({ sent: 1, parked: 0 });
      expect(local.localSlack?.calls[0]).toMatchObject({ method: 'chat.postMessage', channel: 'CLOCALATRISK' });
      expect(printed.join('\n')).toMatch(/Usage dropped: Local Preview Co/);
      const state = await (await fetch(`${local.url}/local-slack/state`)).text();
      expect(state).toContain('Local Preview Co');
      expect(fake.calls).toEqual([]);
    } finally {
      await local.close();
    }
  });
});
