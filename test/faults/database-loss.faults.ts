import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, cardBlockId } from '../../bot/ids.ts';
import { createAccount, createToken, createUser } from '../support/factories.ts';
import { staticSelectAction } from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 1 });
});
afterAll(async () => {
  await stack?.teardown();
});

const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 30_000);

describe('database loss', () => {
  it('while PostgreSQL is down for 30 s, readiness, GraphQL and Slack all say so; everything resumes by itself', async () => {
    const replica = stack.replicas[0];
    const slack = stack.slackClients[0];
    if (!replica || !slack) throw new Error('no replica');
    const manager = await createUser(stack.database.db, { role: 'manager', slackUserId: 'UOUTAGE001' });
    const token = await createToken(stack.database.db, 'manager', manager);
    const account = await createAccount(stack.database.db, { stageKey: 'onboarding', name: 'Outage Ltd' });
    const graphql = (query: string) =>
      fetch(`${replica.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(15_000),
      });
    const click = (id: string, version: number) =>
      slack.blockAction(
        staticSelectAction({
          userId: 'UOUTAGE001',
          actionId: ActionIds.stageSelect,
          blockId: cardBlockId(account.id, version),
          selectedValue: 'implementation',
          responseUrl: stack.fake.responseUrl(id),
          container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: true },
        }),
      );
    expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);

    await stack.cluster.stop();
    const startedAt = Date.now();
    let readinessDown = 0;
    let graphqlClear = 0;
    let slackAnswered = 0;
    let failures = 0;
    let rounds = 0;
    while (Date.now() - startedAt < OUTAGE_MS) {
      rounds += 1;
      const ready = await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      if (ready.status === 503) readinessDown += 1;
      else failures += 1;

      const response = await graphql('{ accounts(first: 1) { totalCount } }');
      const body: { errors?: { message: string; extensions?: { code?: string } }[] } = await response.json();
      if (response.status === 503 && body.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE') graphqlClear += 1;
      else failures += 1;

      const ack = await click(`outage-${rounds}`, 1);
      if (ack.status !== 200) failures += 1;
      const [answer] = await stack.fake.waitForCalls('response_url', slackAnswered + 1, 15_000).then((calls) => calls.slice(-1));
      if (answer?.body.response_type === 'ephemeral' && typeof answer.body.text === 'string' && /nothing was changed/i.test(answer.body.text)) {
        slackAnswered += 1;
      } else {
        failures += 1;
      }
      await sleep(2000);
    }
    await stack.cluster.start();
    // Each click during the outage gets one answer: a retry that answered twice would show here.
    const outageAnswers = new Map<string, number>();
    for (const call of stack.fake.callsTo('response_url')) {
      if (call.responseId?.startsWith('outage-')) outageAnswers.set(call.responseId, (outageAnswers.get(call.responseId) ?? 0) + 1);
    }
    const duplicated = [...outageAnswers.values()].filter((times) => times > 1).length;

    // No restart, no operator: the replica reconnects on its own.
    let recoveredAfterMs = -1;
    const restartedAt = Date.now();
    while (Date.now() - restartedAt < 60_000) {
      if ((await fetch(`${replica.url}/readyz`)).status === 200) {
        recoveredAfterMs = Date.now() - restartedAt;
        break;
      }
      await sleep(250);
    }
    expect(recoveredAfterMs).toBeGreaterThanOrEqual(0);
    const after = await graphql('{ accounts(first: 1) { totalCount } }');
    expect(await after.json()).toEqual({ data: { accounts: { totalCount: 1 } } });
    stack.fake.reset();
    expect((await click('after-outage', 1)).status).toBe(200);
    const [card] = await stack.fake.waitForCalls('response_url', 1, 15_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\nreplica output:\n${replica.output().slice(-3000)}`);
    });
    expect(card?.body.replace_original).toBe(true);

    await recordScenario({
      scenario: '6. database loss (30 s)',
      repetitions: rounds,
      expected: rounds,
      delivered: slackAnswered,
      duplicated,
      rejected: graphqlClear,
      failures,
      note: `readyz 503 ×${readinessDown}; ready again ${recoveredAfterMs} ms after restart`,
    });
    expect(failures).toBe(0);
    expect(readinessDown).toBe(rounds);
    expect(slackAnswered).toBe(rounds);
    expect(duplicated).toBe(0);
  });
});
