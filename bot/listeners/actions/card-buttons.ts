import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { renderAccountCard, showCardTo } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPerson } from '../../person.ts';
import { replyTo } from '../../replies.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** "Open" in the account chooser (replaces the chooser), on an alert or renewal note, or on App Home. */
export function openAccountAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    await showCardTo(deps, replyTo(body, client), body.trigger_id, action.value ?? '', { replaceChooser: true, reader: actor });
  };
}

/** Where there is no conversation to share into, the person is told how to share instead. */
export const SHARE_NEEDS_A_CONVERSATION =
  'Cards can only be shared from a conversation: run `/lifeline account <name>` in the channel or DM where you want it, then click *Share in channel*.';

/**
 * "Share in channel": the card, for everyone in the conversation, through the click's response_url. Unlike
 * chat.postMessage it works where the bot is not a member (DMs, group DMs, private channels). A viewer may share
 * what they can read. A shared card is just a message: it never becomes the account's thread.
 */
export function shareCardAction({ db }: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const { actor } = slackPerson(context);
    const card = await renderAccountCard(db, action.value ?? '', { shareable: false, reader: actor });
    if (!(await reply.postInChannel(card))) {
      await reply.tell(SHARE_NEEDS_A_CONVERSATION);
      return;
    }
    await reply.deleteOriginal();
  };
}
