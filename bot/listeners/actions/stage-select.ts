import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs, StaticSelectAction } from '@slack/bolt';
import { actorFromUser } from '../../../domain/actors.ts';
import { InvalidInputError, StaleVersionError } from '../../../domain/errors.ts';
import { ReasonRequiredError, moveStageWithAudit } from '../../../domain/stage-moves.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { type CardLocation, refreshAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { parseCardBlockId } from '../../ids.ts';
import { stageMoveModal } from '../../views/stage-move.ts';
import { encodeStageMoveMetadata } from '../views/stage-move.ts';

type StageSelectArgs = SlackActionMiddlewareArgs<BlockAction<StaticSelectAction>> & AllMiddlewareArgs;

export function cardLocation(body: BlockAction, respond: StageSelectArgs['respond']): CardLocation {
  if (body.container.is_ephemeral || !body.message || !body.channel) return { kind: 'ephemeral', respond };
  return { kind: 'message', channel: body.channel.id, ts: body.message.ts };
}

/** Where the audit note goes if the account has no thread yet: the channel of a shared card, else the handoff channel. */
export function auditTargetFor(location: CardLocation): string | undefined {
  return location.kind === 'message' ? location.channel : undefined;
}

/**
 * A stage chosen on an account card. Forward moves happen at once; moving backward or to a final stage
 * opens a modal that asks for the reason (the domain refuses such a move without one).
 */
export function stageSelectAction({ db }: BotDeps) {
  return async ({ ack, body, action, client, respond }: StageSelectArgs): Promise<void> => {
    await ack();
    const card = parseCardBlockId(action.block_id);
    if (!card) {
      throw new InvalidInputError('This card is out of date. Open the account again with `/lifeline account <name>`.');
    }
    const user = await requireUserBySlackId(db, body.user.id);
    const location = cardLocation(body, respond);
    const move = {
      accountId: card.accountId,
      toStage: action.selected_option.value,
      expectedVersion: card.version,
      actor: actorFromUser(user),
      source: 'slack' as const,
    };
    const auditTarget = auditTargetFor(location);
    try {
      // Forward moves happen in one transaction; one that needs a reason is refused there, with nothing written.
      await moveStageWithAudit(db, { ...move, reason: null, ...(auditTarget ? { auditTarget } : {}) });
    } catch (error) {
      if (error instanceof ReasonRequiredError) {
        // trigger_id lives 3 seconds from the click: open the modal before anything else slow.
        const { preview } = error;
        await client.views.open({
          trigger_id: body.trigger_id,
          view: stageMoveModal({
            account: preview.account,
            stages: preview.stages,
            toStage: preview.to,
            reasonRequired: true,
            privateMetadata: encodeStageMoveMetadata({
              accountId: card.accountId,
              version: card.version,
              toStage: preview.to.key,
              ...(location.kind === 'message' ? { channel: location.channel, ts: location.ts } : { responseUrl: body.response_url }),
            }),
          }),
        });
        return;
      }
      // A stale card is an everyday race, not a failure: say who moved it and show the account as it is now.
      if (!(error instanceof StaleVersionError)) throw error;
      await respond({ response_type: 'ephemeral', replace_original: false, text: error.message });
      await refreshAccountCard(db, client, location, card.accountId, move.actor);
      return;
    }
    await refreshAccountCard(db, client, location, card.accountId, move.actor);
  };
}
