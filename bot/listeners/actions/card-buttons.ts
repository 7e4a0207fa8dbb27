import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { actorFromUser } from '../../../domain/actors.ts';
import { rememberSlackMessage } from '../../../domain/outbox.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** "Open" in the account chooser (replaces the chooser) or on an alert or App Home (a card just for the clicker). */
export function openAccountAction({ db }: BotDeps) {
  return async ({ ack, body, action, respond }: ButtonArgs): Promise<void> => {
    await ack();
    const user = await requireUserBySlackId(db, body.user.id);
    const card = await renderAccountCard(db, action.value ?? '', { shareable: true, reader: actorFromUser(user) });
    // Only an ephemeral chooser is replaced: an alert in a DM stays, the card comes beside it.
    await respond({ response_type: 'ephemeral', replace_original: body.container.is_ephemeral === true, ...card });
  };
}

/** "Share in channel": post the card for everyone; from then on it is updated with chat.update. */
export function shareCardAction({ db }: BotDeps) {
  return async ({ ack, body, action, client, respond }: ButtonArgs): Promise<void> => {
    await ack();
    const user = await requireUserBySlackId(db, body.user.id);
    const channel = body.channel?.id ?? body.container.channel_id;
    if (typeof channel !== 'string') {
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'I can only share cards in a channel or DM.' });
      return;
    }
    const card = await renderAccountCard(db, action.value ?? '', { shareable: false, reader: actorFromUser(user) });
    const posted = await client.chat.postMessage({ channel, text: card.text, blocks: card.blocks, unfurl_links: false });
    // The first shared card becomes the account's thread (unless its handoff already is): audit notes go under it.
    if (typeof posted.ts === 'string' && typeof posted.channel === 'string') {
      await rememberSlackMessage(db, { messageKey: `account:${action.value ?? ''}`, channel: posted.channel, ts: posted.ts });
    }
    await respond({ delete_original: true });
  };
}
