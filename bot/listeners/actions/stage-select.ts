import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs, StaticSelectAction } from '@slack/bolt';
import { InvalidInputError, StaleVersionError } from '../../../domain/errors.ts';
import { moveAccountStage, previewStageMove } from '../../../domain/lifecycle/moves.ts';
import { listChurnReasons } from '../../../domain/churn-reasons.ts';
import { refreshAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPerson } from '../../person.ts';
import { parseCardBlockId } from '../../ids.ts';
import { type ActionSurface, openView, replyTo } from '../../replies.ts';
import { stageMoveModal } from '../../views/stage-move.ts';
import { AUDIT_TARGET, type StageMoveMetadata, encodeStageMoveMetadata } from '../../stage-move-form.ts';
import { selectedOptionValue } from '../../payload.ts';

type StageSelectArgs = SlackActionMiddlewareArgs<BlockAction<StaticSelectAction>> & AllMiddlewareArgs;

/** What the reason modal needs to redraw the card once the move is made: its response_url, or its modal. */
function cardWhere(surface: ActionSurface): Pick<StageMoveMetadata, 'responseUrl' | 'shareable' | 'viewId'> {
  if (surface.kind === 'message' || surface.kind === 'ephemeral') return { responseUrl: surface.responseUrl, shareable: surface.kind === 'ephemeral' };
  return surface.kind === 'modal' ? { viewId: surface.viewId } : {};
}

/**
 * A stage chosen on an account card (ephemeral, shared in a conversation, or in a modal opened from App Home).
 * Forward moves happen at once; a move backward or to a final stage opens a modal that asks for the reason first
 * (the domain's preview says which moves need one, and the move refuses them without it). The audit note goes to
 * the handoff channel, into the account's thread, wherever the card is: the card itself is redrawn in place.
 */
export function stageSelectAction(deps: BotDeps) {
  const { db } = deps;
  return async ({ ack, body, action, client, context }: StageSelectArgs): Promise<void> => {
    await ack();
    const card = parseCardBlockId(action.block_id);
    const toStage = selectedOptionValue(action);
    if (!card || toStage === undefined) {
      throw new InvalidInputError('This card is out of date. Open the account again with `/lifeline account <name>`.');
    }
    const reply = replyTo(body, client);
    const { actor } = slackPerson(context);
    const move = {
      accountId: card.accountId,
      toStage,
      expectedVersion: card.version,
      actor,
      source: 'slack' as const,
    };
    try {
      // Asked before anything is written: a move that needs a reason opens the form for it instead of moving.
      const preview = await previewStageMove(db, move);
      if (preview.reasonRequired) {
        // trigger_id lives 3 seconds from the click: open the modal before anything else slow.
        await openView(
          deps.triggerClient,
          reply,
          body.trigger_id,
          stageMoveModal({
            account: preview.account,
            stages: preview.stages,
            toStage: preview.to,
            reasonRequired: true,
            churnReasons: preview.churnReasonRequired ? await listChurnReasons(db, { reader: actor, use: 'churn' }) : undefined,
            privateMetadata: encodeStageMoveMetadata({ accountId: card.accountId, version: card.version, toStage: preview.to.key, ...cardWhere(reply.surface) }),
          }),
        );
        return;
      }
      await moveAccountStage(db, { ...move, reason: null, auditTarget: AUDIT_TARGET });
    } catch (error) {
      // A stale card is an everyday race, not a failure: say who moved it and show the account as it is now.
      if (!(error instanceof StaleVersionError)) throw error;
      await refreshAccountCard(db, client, reply, card.accountId, move.actor, error.message);
      return;
    }
    await refreshAccountCard(db, client, reply, card.accountId, move.actor);
  };
}
