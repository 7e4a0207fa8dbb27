import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { InvalidInputError } from '../../../domain/errors.ts';
import { currentSentiment, requireSentimentRights } from '../../../domain/people/sentiment.ts';
import type { BotDeps } from '../../deps.ts';
import { parseCardBlockId } from '../../ids.ts';
import { slackPerson } from '../../person.ts';
import { openView, replyTo } from '../../replies.ts';
import { encodeSentimentForm } from '../../sentiment-form.ts';
import { sentimentModal } from '../../views/people.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * "Set sentiment" on an account card (ephemeral, shared in a conversation, or in a modal opened from App Home): opens
 * the form, on top of the card when the card is in a modal. Someone who may not set it (a card shared by its CSM is
 * clicked by everyone in the channel) is told why and who can, before any form opens; app.error says it privately.
 */
export function setSentimentAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const accountId = parseCardBlockId(action.block_id)?.accountId ?? action.value;
    if (!accountId) throw new InvalidInputError('This card is out of date. Open the account again with `/lifeline account <name>`.');
    const { actor } = slackPerson(context);
    const account = await requireSentimentRights(deps.db, { actor, accountId });
    const current = await currentSentiment(deps.db, { reader: actor, accountId: account.id });
    const reply = replyTo(body, client);
    await openView(deps.triggerClient, reply, body.trigger_id, sentimentModal({ accountName: account.name, current, privateMetadata: encodeSentimentForm(account.id, reply.surface) }));
  };
}
