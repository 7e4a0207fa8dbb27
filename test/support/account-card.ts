// The account card as a person uses it in Slack: asked for with `/lifeline account <name>`, answered ephemerally
// through the command's response_url, and moved with its stage select.
import { expect } from 'vitest';
import { ActionIds } from '../../bot/ids.ts';
import { cardBlockIdIn } from './slack-answers.ts';
import type { SlackHarness } from './slack-harness.ts';
import { slashCommand, staticSelectAction } from './slack-requests.ts';

export interface OpenedCard {
  /** The card's actions block id: the account and the version the card shows. */
  blockId: string;
  responseUrl: string;
}

let opened = 0;

/** Asks for the card as `userId` and waits for it; the fake then forgets the calls, so what follows is the click's. */
export async function openCard(harness: SlackHarness, userId: string, accountName: string): Promise<OpenedCard> {
  opened += 1;
  const responseId = `card-${accountName.replace(/\W+/g, '-')}-${userId}-${opened}`;
  const responseUrl = harness.fake.responseUrl(responseId);
  const response = await harness.slack.command(slashCommand({ text: `account ${accountName}`, user_id: userId, response_url: responseUrl }));
  expect(response.status).toBe(200);
  const [call] = await harness.fake.waitForCalls('response_url', 1);
  expect(call?.responseId).toBe(responseId);
  harness.fake.reset();
  return { blockId: cardBlockIdIn(call?.body.blocks), responseUrl };
}

/** Picks `stage` in the card's stage select, as `userId`. */
export function selectStage(harness: SlackHarness, userId: string, card: OpenedCard, stage: string) {
  return harness.slack.blockAction(
    staticSelectAction({
      userId,
      actionId: ActionIds.stageSelect,
      blockId: card.blockId,
      selectedValue: stage,
      responseUrl: card.responseUrl,
      container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: true },
    }),
  );
}
