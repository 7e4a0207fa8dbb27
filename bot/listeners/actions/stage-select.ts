import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs, StaticSelectAction } from '@slack/bolt';
import { actorFromUser } from '../../../domain/actors.ts';
import { InvalidInputError, StaleVersionError } from '../../../domain/errors.ts';
import { moveAccountStage } from '../../../domain/lifecycle.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { type CardLocation, refreshAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { parseCardBlockId } from '../../ids.ts';

type StageSelectArgs = SlackActionMiddlewareArgs<BlockAction<StaticSelectAction>> & AllMiddlewareArgs;

export function cardLocation(body: BlockAction, respond: StageSelectArgs['respond']): CardLocation {
  if (body.container.is_ephemeral || !body.message || !body.channel) return { kind: 'ephemeral', respond };
  return { kind: 'message', channel: body.channel.id, ts: body.message.ts };
}

/** A stage chosen on an account card: move it through the domain, then redraw the card in place. */
export function stageSelectAction({ db }: BotDeps) {
  return async ({ ack, body, action, client, respond }: StageSelectArgs): Promise<void> => {
    await ack();
    const card = parseCardBlockId(action.block_id);
    if (!card) {
      throw new InvalidInputError('This card is out of date. Open the account again with `/lifeline account <name>`.');
    }
    const user = await requireUserBySlackId(db, body.user.id);
    const location = cardLocation(body, respond);
    try {
      await moveAccountStage(db, {
        accountId: card.accountId,
        toStage: action.selected_option.value,
        expectedVersion: card.version,
        actor: actorFromUser(user),
        source: 'slack',
        reason: null,
      });
    } catch (error) {
      // A stale card is an everyday race, not a failure: say who moved it and show the account as it is now.
      if (!(error instanceof StaleVersionError)) throw error;
      await respond({ response_type: 'ephemeral', replace_original: false, text: error.message });
      await refreshAccountCard(db, client, location, card.accountId);
      return;
    }
    await refreshAccountCard(db, client, location, card.accountId);
  };
}
