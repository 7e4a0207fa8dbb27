import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { actorFromUser } from '../../../domain/actors.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { type Reply, openView, replyTo } from '../../replies.ts';
import type { SlackMessage } from '../../views/account-card.ts';
import { accountCardModal } from '../../views/card-modal.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * Shows a card to the person who clicked, on the surface they clicked on: in a conversation, an ephemeral card
 * (replacing an ephemeral chooser, beside anything else); on the Home tab or in a modal, which have no
 * response_url, a modal with the card, opened at once with the click's trigger id.
 */
export async function showCardTo(deps: BotDeps, reply: Reply, triggerId: string, accountId: string, options: { replaceChooser: boolean }): Promise<void> {
  const user = await requireUserBySlackId(deps.db, reply.userId);
  const { surface } = reply;
  const inConversation = surface.kind === 'message' || surface.kind === 'ephemeral';
  const card: SlackMessage = await renderAccountCard(deps.db, accountId, { shareable: inConversation, reader: actorFromUser(user) });
  if (inConversation) {
    await reply.showPrivately(card, { replace: options.replaceChooser });
    return;
  }
  await openView(deps.triggerClient, reply, triggerId, accountCardModal(card));
}

/** "Open" in the account chooser (replaces the chooser), on an alert or renewal note, or on App Home. */
export function openAccountAction(deps: BotDeps) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    await showCardTo(deps, replyTo(body, client), body.trigger_id, action.value ?? '', { replaceChooser: true });
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
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const user = await requireUserBySlackId(db, body.user.id);
    const card = await renderAccountCard(db, action.value ?? '', { shareable: false, reader: actorFromUser(user) });
    if (!(await reply.postInChannel(card))) {
      await reply.tell(SHARE_NEEDS_A_CONVERSATION);
      return;
    }
    await reply.deleteOriginal();
  };
}
