import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, cardBlockId } from '../../bot/ids.ts';
import { accounts, stageTransitions, type User } from '../../db/schema.ts';
import { createAccount, createUser } from '../support/factories.ts';
import { staticSelectAction } from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 3 });
});
afterAll(async () => {
  await stack?.teardown();
});

function textOf(body: Record<string, unknown>): string {
  return typeof body.text === 'string' ? body.text : '';
}

describe('conflicting clicks', () => {
  it('100 people moving one account from stale cards on three replicas: one wins per version, every loser is told, the chain has no gaps', async () => {
    const rounds = 3;
    const clicksPerRound = 100;
    // Forward moves only: backward moves and Churned ask for a reason in a modal first.
    const nextStage = ['implementation', 'early_adoption', 'mature_adoption'];
    let failures = 0;
    let rejected = 0;
    let delivered = 0;
    // Clicks answered more often than their outcome calls for (the winner once, each loser twice).
    let duplicated = 0;
    const people: User[] = [];
    for (let index = 0; index < clicksPerRound; index += 1) {
      people.push(await createUser(stack.database.db, { role: index % 2 === 0 ? 'manager' : 'admin', slackUserId: `UCLICK${String(index).padStart(4, '0')}` }));
    }
    const account = await createAccount(stack.database.db, { name: 'Contested Corp', stageKey: 'onboarding' });

    for (let round = 0; round < rounds; round += 1) {
      stack.fake.reset();
      const [current] = await stack.database.db.select().from(accounts).where(eq(accounts.id, account.id));
      if (!current) throw new Error('account vanished');
      // Everyone clicks on a card showing the same version, through whichever replica the load balancer picks.
      const responses = await Promise.all(
        people.map((person, index) => {
          const client = stack.slackClients[index % stack.slackClients.length];
          if (!client) throw new Error('no replica');
          const target = nextStage[round] ?? 'mature_adoption';
          return client.blockAction(
            staticSelectAction({
              userId: person.slackUserId ?? '',
              actionId: ActionIds.stageSelect,
              blockId: cardBlockId(account.id, current.version),
              selectedValue: target,
              responseUrl: stack.fake.responseUrl(`click-${round}-${index}`),
              container: { type: 'message', channelId: 'C0001', messageTs: `1700000000.${String(index).padStart(6, '0')}`, isEphemeral: true },
            }),
          );
        }),
      );
      for (const response of responses) if (response.status !== 200) failures += 1;
      // The winner's card is redrawn; each loser gets a notice and a redrawn card: 1 + 2 × 99 answers.
      const expectedAnswers = 1 + 2 * (clicksPerRound - 1);
      const answers = await stack.fake.waitForCalls('response_url', expectedAnswers, 60_000);
      const notices = answers.filter((call) => call.body.replace_original === false);
      const staleNotices = notices.filter((call) => /changed since you loaded it/.test(textOf(call.body)));
      rejected += staleNotices.length;
      delivered += answers.length;
      const answersPerClick = new Map<string, number>();
      for (const call of answers) answersPerClick.set(call.responseId ?? '', (answersPerClick.get(call.responseId ?? '') ?? 0) + 1);
      const losers = new Set(staleNotices.map((call) => call.responseId ?? ''));
      for (const [click, times] of answersPerClick) if (times > (losers.has(click) ? 2 : 1)) duplicated += 1;
      expect(staleNotices).toHaveLength(clicksPerRound - 1);
      expect(new Set(answers.map((call) => call.responseId)).size).toBe(clicksPerRound);

      const [after] = await stack.database.db.select().from(accounts).where(eq(accounts.id, account.id));
      expect(after?.version).toBe(current.version + 1);
    }

    const chain = await stack.database.db
      .select()
      .from(stageTransitions)
      .where(eq(stageTransitions.accountId, account.id))
      .orderBy(asc(stageTransitions.accountVersion));
    expect(chain.map((row) => row.accountVersion)).toEqual(Array.from({ length: rounds + 1 }, (_, index) => index + 1));
    for (let index = 1; index < chain.length; index += 1) {
      expect(chain[index]?.fromStage, 'each move starts where the previous one ended').toBe(chain[index - 1]?.toStage);
    }
    await recordScenario({
      scenario: '5. conflicting clicks (3 replicas)',
      repetitions: rounds * clicksPerRound,
      expected: rounds * (1 + 2 * (clicksPerRound - 1)),
      delivered,
      // A second transition for one version would be a duplicated move.
      duplicated: duplicated + Math.max(0, chain.length - new Set(chain.map((row) => row.accountVersion)).size),
      rejected,
      failures,
      note: `${rounds} winners, ${rejected} stale clicks answered`,
    });
    expect(failures).toBe(0);
    expect(duplicated).toBe(0);
  });
});
