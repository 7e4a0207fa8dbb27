import { setTimeout as sleep } from 'node:timers/promises';
import { count, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OutboxRow, outbox } from '../../db/schema.ts';
import { enqueueNotification } from '../../domain/outbox.ts';
import type { HeldCall } from '../support/fake-slack.ts';
import { createAccount } from '../support/factories.ts';
import { recordScenario } from './support/report.ts';
import type { Replica } from './support/replica.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

// The scheduler stays off: this scenario is about the delivery loop, which every replica runs.
const REPLICA_ENV = { LIFELINE_JOBS: 'off' };

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 2, env: REPLICA_ENV });
});
afterAll(async () => {
  await stack?.teardown();
});

const KILLS = Number(process.env.FAULT_KILLS ?? 5);
const PER_WAVE = 8;
// A killed replica's row keeps its 60-second claim, and its channel's later rows wait behind it (delivery keeps
// each channel in order): with waves spread over three times as many channels, the next wave always has free ones.
const CHANNELS = 24;

function outboxIdOf(body: Record<string, unknown>): number | undefined {
  const metadata = body.metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const payload: unknown = Reflect.get(metadata, 'event_payload');
  if (typeof payload !== 'object' || payload === null) return undefined;
  const id: unknown = Reflect.get(payload, 'outbox_id');
  return typeof id === 'string' ? Number(id) : undefined;
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** What one kill did: the post Slack took in and the state of its outbox row once its sender was dead. */
interface Kill {
  held: HeldCall;
  outboxId: number;
  /** The row as the database holds it after the kill: nobody is left to finish that attempt. */
  rowAtKill: OutboxRow | undefined;
  /** Posts of the killed replica Slack had stored whose rows were not recorded as sent when it died. */
  inFlight: number;
}

describe('crash during delivery', () => {
  it(`kill -9 a replica ${KILLS} times after Slack stored its post and before it recorded it: every notification arrives exactly once`, async () => {
    const account = await createAccount(stack.database.db, { name: 'Crashy Co', stageKey: 'early_adoption' });
    let queued = 0;
    const enqueueWave = async () => {
      for (let index = 0; index < PER_WAVE; index += 1) {
        queued += 1;
        await enqueueNotification(stack.database.db, {
          kind: 'alert',
          dedupeKey: `fault:delivery:${queued}`,
          target: `CFAULT${String(queued % CHANNELS).padStart(2, '0')}`,
          payload: { accountId: account.id, rule: 'usage_drop', reason: `marker-${queued}-end` },
        });
      }
    };

    // Each repetition: the fake Slack stores the next post and keeps its answer back, so its sender is stuck
    // exactly between "Slack has the message" and "the outbox says sent" until the test kills it. Replacements
    // start in the background, as an orchestrator would restart them.
    const kills: Kill[] = [];
    const starting: Promise<Replica>[] = [];
    try {
      for (let repetition = 0; repetition < KILLS; repetition += 1) {
        await waitFor('a second replica to be up', () => (stack.replicas.length >= 2 ? true : undefined), 120_000);
        const holding = stack.fake.holdNext('chat.postMessage', { timeoutMs: 60_000 });
        await enqueueWave();
        const held = await holding;
        const outboxId = outboxIdOf(held.call.body);
        if (outboxId === undefined) throw new Error(`the held post carries no outbox id in its metadata: ${JSON.stringify(held.call.body).slice(0, 300)}`);
        // A replacement delivers before it says it is ready, so its post may come a moment before it is listed.
        const victim = await waitFor('the replica that sent the held post to be listed', () => stack.replicas.find((replica) => replica.botToken === held.call.token), 60_000);
        const victimIndex = stack.replicas.indexOf(victim);
        stack.replicas.splice(victimIndex, 1);
        stack.slackClients.splice(victimIndex, 1);
        await victim.kill();
        const [rowAtKill] = await stack.database.db.select().from(outbox).where(eq(outbox.id, outboxId));
        const victimPosts = stack.fake
          .callsTo('chat.postMessage')
          .filter((call) => call.token === victim.botToken && call.outcome === 'ok')
          .flatMap((call) => outboxIdOf(call.body) ?? []);
        const victimRows = victimPosts.length === 0 ? [] : await stack.database.db.select({ status: outbox.status }).from(outbox).where(inArray(outbox.id, victimPosts));
        kills.push({ held, outboxId, rowAtKill, inFlight: victimRows.filter((row) => row.status !== 'sent').length });
        starting.push(stack.addReplica(REPLICA_ENV));
      }
    } finally {
      // Whatever happened above, every replacement is listed, so teardown stops it.
      await Promise.allSettled(starting);
    }

    // The fault landed every time: Slack had stored the post, and its row was not recorded as sent when its
    // sender died (the attempt's trace, posting_since, is what lets the next attempt look for it).
    const missed = kills.filter((kill) => !(kill.held.call.outcome === 'ok' && kill.rowAtKill?.status === 'pending' && kill.rowAtKill.sentAt === null && kill.rowAtKill.postingSince !== null));
    expect(
      missed.map((kill) => `row ${kill.outboxId}: ${kill.rowAtKill?.status} sentAt=${String(kill.rowAtKill?.sentAt)} postingSince=${String(kill.rowAtKill?.postingSince)}`),
      'kills that did not land between Slack storing the post and the outbox recording it',
    ).toEqual([]);
    expect(kills).toHaveLength(KILLS);

    // Everything queued must drain: leases of rows the killed replicas held expire and are taken over.
    const deadline = Date.now() + 180_000;
    let pending = Number.POSITIVE_INFINITY;
    while (Date.now() < deadline) {
      const [row] = await stack.database.db.select({ total: count() }).from(outbox).where(eq(outbox.status, 'pending'));
      pending = row?.total ?? 0;
      if (pending === 0) break;
      await sleep(500);
    }
    const rows = await stack.database.db.select().from(outbox);
    const posts = stack.fake.callsTo('chat.postMessage').filter((call) => call.outcome === 'ok');
    const postsPerRow = new Map<number, number>();
    for (const call of posts) {
      const id = outboxIdOf(call.body);
      if (id !== undefined) postsPerRow.set(id, (postsPerRow.get(id) ?? 0) + 1);
    }
    const sent = rows.filter((row) => row.status === 'sent');
    const delivered = sent.filter((row) => postsPerRow.get(row.id) === 1).length;
    const duplicated = [...postsPerRow.values()].filter((times) => times > 1).length;
    const lost = rows.filter((row) => row.status !== 'sent').length;
    // The held post reached Slack but its sender never heard so: the next attempt must find it and record it,
    // not post it again.
    const rowById = new Map(rows.map((row) => [row.id, row]));
    const adopted = kills.filter((kill) => rowById.get(kill.outboxId)?.slackTs === kill.held.response.ts);

    await recordScenario({
      scenario: '2. crash during delivery (kill -9)',
      repetitions: KILLS,
      expected: queued,
      delivered,
      duplicated,
      rejected: 'n/a',
      failures: missed.length + lost + duplicated + (kills.length - adopted.length),
      note:
        `kills between Slack storing the post and the outbox recording it: ${kills.length - missed.length}/${KILLS}; ` +
        `held post found in Slack and adopted: ${adopted.length}/${KILLS}; posts of the killed replica not yet recorded, per kill: ` +
        `${kills.map((kill) => kill.inFlight).join(' ')}; ${posts.length} posts for ${queued} notifications`,
    });
    expect(pending).toBe(0);
    expect(rows).toHaveLength(queued);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(delivered).toBe(queued);
    expect(adopted.map((kill) => kill.outboxId)).toEqual(kills.map((kill) => kill.outboxId));
  });
});
