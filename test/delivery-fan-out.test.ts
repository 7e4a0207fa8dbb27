import { WebClient } from '@slack/web-api';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeliveryWorker, createDeliveryWorker } from '../bot/delivery.ts';
import { createNotificationRenderer } from '../bot/notifications.ts';
import { outbox } from '../db/schema.ts';
import type { NotificationTarget } from '../domain/notifications.ts';
import { enqueueNotification, nextNotificationDueAt } from '../domain/outbox.ts';
import { currentSendRate } from '../domain/send-rate.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { type FakeSlack, type RecordedCall, startFakeSlack } from './support/fake-slack.ts';
import { silentLogger } from './support/graphql.ts';

// A fan-out of direct messages against a fake Slack that enforces a workspace-wide limit as well as one post a
// second per channel. Time is simulated: the workers, the renderer and the fake read one clock, and a worker's
// wait for its next slot moves that clock instead of sleeping, so seconds of pacing play in a moment and every
// time compared below is the fake's own record of when a post reached it.

const AT_RISK_CHANNEL = 'C0ATRISK01';
const WORKSPACE_LIMIT = { perSecond: 10, retryAfterSeconds: 2 };
const DMS = 20;
const CHANNEL_POSTS = 3;

const database = useTestDatabase({ each: true });
let fake: FakeSlack;
// An hour ahead of the database's clock: rows queued now are due at once, and only this clock decides later.
let now = Math.ceil((Date.now() + 3_600_000) / 1000) * 1000;
const clock = () => new Date(now);
async function sleep(ms: number): Promise<void> {
  const until = now + ms;
  // Let answers already on their way arrive first, as they would while a real worker sleeps.
  await new Promise((resolve) => setImmediate(resolve));
  now = Math.max(now, until);
}

beforeEach(async () => {
  fake = await startFakeSlack({ clock: () => now, workspaceRateLimit: WORKSPACE_LIMIT, channelRateLimit: { perSecond: 1 } });
});
afterEach(async () => {
  await fake.close();
});

function worker(options: { concurrency: number }): DeliveryWorker {
  return createDeliveryWorker({
    db: database.db,
    client: new WebClient('xoxb-test-token', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true }),
    logger: silentLogger,
    channels: { atRisk: AT_RISK_CHANNEL },
    render: createNotificationRenderer(database.db, clock),
    clock,
    sleep,
    concurrency: options.concurrency,
  });
}

/** Queues one alert DM to each of DMS CSMs and CHANNEL_POSTS alerts to the at-risk channel; returns their dedupe keys. */
async function queueFanOut(): Promise<string[]> {
  const keys: string[] = [];
  const queue = async (key: string, target: NotificationTarget<'alert'>, accountId: string) => {
    await enqueueNotification(database.db, {
      kind: 'alert',
      dedupeKey: key,
      target,
      payload: { accountId, rule: 'usage_drop', reason: `Weekly active users fell by half (${key}).` },
    });
    keys.push(key);
  };
  for (let index = 0; index < DMS; index += 1) {
    const csm = await createUser(database.db, { role: 'csm', name: `Fan-out CSM ${index}` });
    const account = await createAccount(database.db, { name: `Fan-out Co ${index}`, csmId: csm.id });
    await queue(`fan-out:dm:${index}`, `user:${csm.id}`, account.id);
    if (index < CHANNEL_POSTS) await queue(`fan-out:channel:${index}`, 'channel:at_risk', account.id);
  }
  return keys;
}

/** Drains with every worker side by side until nothing is pending, moving the clock to the next row due. */
async function deliverAll(workers: DeliveryWorker[]): Promise<void> {
  for (let round = 0; round < 500; round += 1) {
    await Promise.all(workers.map((each) => each.drainOnce()));
    const due = await nextNotificationDueAt(database.db);
    if (!due) return;
    now = Math.max(now, due.getTime());
  }
  throw new Error('the fan-out did not finish in 500 drains');
}

/** Each outbox row's id in the posts Slack accepted, from the metadata every post carries. */
function outboxIdOf(call: RecordedCall): string {
  const metadata = call.body.metadata;
  const payload = typeof metadata === 'object' && metadata !== null ? Reflect.get(metadata, 'event_payload') : undefined;
  const id: unknown = typeof payload === 'object' && payload !== null ? Reflect.get(payload, 'outbox_id') : undefined;
  if (typeof id !== 'string') throw new Error(`a post without its outbox id: ${JSON.stringify(call.body)}`);
  return id;
}

async function expectEachPostedOnce(keys: string[]): Promise<void> {
  const rows = await database.db.select().from(outbox);
  const ours = rows.filter((row) => keys.includes(row.dedupeKey));
  expect(ours).toHaveLength(keys.length);
  expect(ours.filter((row) => row.status !== 'sent').map((row) => `${row.dedupeKey}: ${row.status} ${row.lastError ?? ''}`)).toEqual([]);
  const accepted = fake.callsTo('chat.postMessage').filter((call) => call.outcome === 'ok').map(outboxIdOf);
  expect(accepted.toSorted()).toEqual(ours.map((row) => String(row.id)).toSorted());
}

function gapsPerChannel(): { channel: string; gapMs: number }[] {
  const byChannel = new Map<string, number[]>();
  for (const call of fake.callsTo('chat.postMessage').filter((each) => each.outcome === 'ok')) {
    const channel = String(call.body.channel);
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), call.at]);
  }
  return [...byChannel].flatMap(([channel, times]) => times.slice(1).map((at, index) => ({ channel, gapMs: at - (times[index] ?? at) })));
}

describe('a fan-out against Slack’s workspace-wide limit', () => {
  it('a 429 holds back every post to every channel until Retry-After has passed, and every notification is still posted exactly once', async () => {
    const keys = await queueFanOut();
    // One lane: every post after the 429 was decided after the worker heard it, so the order below is exact.
    await deliverAll([worker({ concurrency: 1 })]);

    const posts = fake.callsTo('chat.postMessage');
    const first429 = posts.findIndex((call) => call.rateLimit === 'workspace');
    // The fault landed: the fan-out started faster than the workspace allows and Slack refused a post.
    expect(first429).toBeGreaterThanOrEqual(0);
    const refused = posts[first429];
    if (!refused) throw new Error('no 429');
    const retryAfterMs = (refused.retryAfterSeconds ?? 0) * 1000;
    expect(retryAfterMs).toBe(WORKSPACE_LIMIT.retryAfterSeconds * 1000);
    const after = posts.slice(first429 + 1);
    // Other channels were waiting too (not only the refused post's DM), and none was posted before Retry-After.
    expect(after.filter((call) => call.body.channel !== refused.body.channel).length).toBeGreaterThan(0);
    expect(after.filter((call) => call.at < refused.at + retryAfterMs).map((call) => `${String(call.body.channel)} at +${call.at - refused.at} ms`)).toEqual([]);
    // The same holds after every later 429, if the rate crept past the limit again.
    for (const [index, call] of posts.entries()) {
      if (call.outcome !== 'rate_limited') continue;
      const until = call.at + (call.retryAfterSeconds ?? 0) * 1000;
      expect(posts.slice(index + 1).filter((later) => later.at < until)).toEqual([]);
    }

    // The rate was cut from what Slack refused, not left where it was.
    const rate = await currentSendRate(database.db);
    expect(rate?.ceilingPerSecond).not.toBeNull();
    expect(rate?.ceilingPerSecond ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(WORKSPACE_LIMIT.perSecond + 1);
    await expectEachPostedOnce(keys);
  });

  it('two replicas fanning out side by side post each notification once and never post to a channel twice within a second', async () => {
    const keys = await queueFanOut();
    await deliverAll([worker({ concurrency: 4 }), worker({ concurrency: 4 })]);

    // The workspace limit was reached (the replicas share one rate, so its 429 reached both) …
    expect(fake.callsTo('chat.postMessage').some((call) => call.rateLimit === 'workspace')).toBe(true);
    // … yet no channel's own limit was: the at-risk channel's three posts went out at least a second apart.
    expect(fake.callsTo('chat.postMessage').filter((call) => call.rateLimit === 'channel')).toEqual([]);
    const gaps = gapsPerChannel();
    expect(gaps.filter((gap) => gap.channel === AT_RISK_CHANNEL)).toHaveLength(CHANNEL_POSTS - 1);
    expect(gaps.filter((gap) => gap.gapMs < 1000)).toEqual([]);
    await expectEachPostedOnce(keys);
    const channelRows = await database.db.select().from(outbox).where(eq(outbox.target, 'channel:at_risk'));
    expect(channelRows.every((row) => row.attempts === 1)).toBe(true);
  });
});
