import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Db } from '../db/client.ts';
import { getAccountOverview } from '../domain/accounts.ts';
import type { Actor } from '../domain/actors.ts';
import { NotFoundError } from '../domain/errors.ts';
import { listStages } from '../domain/lifecycle.ts';
import { type SlackMessage, accountCard } from './views/account-card.ts';

/** Where a card lives: an ephemeral card is replaced through its response_url, a posted one with chat.update. */
export type CardLocation = { kind: 'ephemeral'; respond: RespondFn } | { kind: 'message'; channel: string; ts: string };

/** The card as `reader` may see it: refused when they may not read the account (an AE's is only their own). */
export async function renderAccountCard(db: Db, accountId: string, options: { shareable: boolean; reader: Actor }): Promise<SlackMessage> {
  const [overview, stages] = await Promise.all([getAccountOverview(db, { accountId, reader: options.reader }), listStages(db)]);
  if (!overview) {
    throw new NotFoundError('That account no longer exists in Lifeline. Search again with `/lifeline account <name>`.');
  }
  return accountCard(overview, { stages, shareable: options.shareable });
}

export async function refreshAccountCard(db: Db, client: WebClient, location: CardLocation, accountId: string, reader: Actor): Promise<void> {
  const card = await renderAccountCard(db, accountId, { shareable: location.kind === 'ephemeral', reader });
  if (location.kind === 'ephemeral') {
    await location.respond({ replace_original: true, text: card.text, blocks: card.blocks });
  } else {
    await client.chat.update({ channel: location.channel, ts: location.ts, text: card.text, blocks: card.blocks });
  }
}
