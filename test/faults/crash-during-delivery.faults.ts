import { setTimeout as sleep } from 'node:timers/promises';
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../db/schema.ts';
import { enqueueNotification } from '../../domain/outbox.ts';
import { createAccount } from '../support/factories.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

beforeAll(async () => {
  // The scheduler stays off: this scenario is about the delivery loop, which every replica runs.
  stack = await startFaultStack({ replicas: 2, env: { LIFELINE_JOBS: 'off' } });
});
afterAll(async () => {
  await stack?.teardown();
});

const KILLS = Number(process.env.FAULT_KILLS ?? 20);
const PER_WAVE = 8;
const CHANNELS = 8;

describe('crash during delivery', () => {
  it(`kill -9 a replica at random points ${KILLS} times while the outbox drains: every notification arrives exactly once`, async () => {
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

    // Replacements start in the background, so kills keep landing while the outbox is busy; at least one
    // replica is always alive.
    const starting: Promise<unknown>[] = [];
    for (let kill = 0; kill < KILLS; kill += 1) {
      await enqueueWave();
      await sleep(300 + Math.floor(Math.random() * 1200));
      while (stack.replicas.length < 2) await sleep(200);
      const victimIndex = Math.floor(Math.random() * stack.replicas.length);
      const victim = stack.replicas[victimIndex];
      if (!victim) throw new Error('no replica');
      stack.replicas.splice(victimIndex, 1);
      stack.slackClients.splice(victimIndex, 1);
      await victim.kill();
      starting.push(stack.addReplica({ LIFELINE_JOBS: 'off' }));
    }
    await Promise.all(starting);

    // Everything queued must drain: leases of rows the killed replicas held expire and are taken over.
    const deadline = Date.now() + 180_000;
    let pending = Number.POSITIVE_INFINITY;
    while (Date.now() < deadline) {
      const [row] = await stack.database.db.select({ total: count() }).from(outbox).where(eq(outbox.status, 'pending'));
      pending = row?.total ?? 0;
      if (pending === 0) break;
      await sleep(500);
    }
    const posts = stack.fake.callsTo('chat.postMessage').filter((call) => call.outcome === 'ok');
    const perMarker = new Map<number, number>();
    for (const call of posts) {
      const match = /marker-(\d+)-end/i.exec(JSON.stringify(call.body));
      if (match?.[1]) perMarker.set(Number(match[1]), (perMarker.get(Number(match[1])) ?? 0) + 1);
    }
    const delivered = perMarker.size;
    const duplicated = [...perMarker.values()].filter((times) => times > 1).length;
    const parked = await stack.database.db.select({ total: count() }).from(outbox).where(eq(outbox.status, 'parked'));
    await recordScenario({
      scenario: '2. crash during delivery (kill -9)',
      repetitions: KILLS,
      expected: queued,
      delivered,
      duplicated,
      rejected: 0,
      failures: (pending === 0 ? 0 : 1) + (parked[0]?.total ?? 0),
      note: `${posts.length} posts for ${queued} notifications`,
    });
    expect(pending).toBe(0);
    expect(parked[0]?.total).toBe(0);
    expect(delivered).toBe(queued);
    expect(duplicated).toBe(0);
  });
});
