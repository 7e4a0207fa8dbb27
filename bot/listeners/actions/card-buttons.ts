import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** "Open" in the account chooser: replace the chooser with the chosen account's card. */
export function openAccountAction({ db }: BotDeps) {
  return async ({ ack, body, action, respond }: ButtonArgs): Promise<void> => {
    await ack();
    await requireUserBySlackId(db, body.user.id);
    const card = await renderAccountCard(db, action.value ?? '', { shareable: true });
    await respond({ response_type: 'ephemeral', replace_original: true, ...card });
  };
}

/** "Share in channel": post the card for everyone; from then on it is updated with chat.update. */
export function shareCardAction({ db }: BotDeps) {
  return async ({ ack, body, action, client, respond }: ButtonArgs): Promise<void> => {
    await ack();
    await requireUserBySlackId(db, body.user.id);
    const channel = body.channel?.id ?? body.container.channel_id;
    if (typeof channel !== 'string') {
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'I can only share cards in a channel or DM.' });
      return;
    }
    const card = await renderAccountCard(db, action.value ?? '', { shareable: false });
    await client.chat.postMessage({ channel, text: card.text, blocks: card.blocks, unfurl_links: false });
    await respond({ delete_original: true });
  };
}
