import type { WebClient } from '@slack/web-api';
import type { Actor } from '../../../domain/actors.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { moveAccountStage } from '../../../domain/lifecycle/moves.ts';
import { redrawCard, renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';
import { AUDIT_TARGET, type StageMoveMetadata, stageMoveMetadataSchema } from '../../stage-move-form.ts';

async function redrawMovedCard(db: BotDeps['db'], client: WebClient, metadata: StageMoveMetadata, reader: Actor): Promise<void> {
  if (metadata.viewId || metadata.responseUrl) {
    await redrawCard(db, client, metadata.accountId, { ...metadata, shareable: metadata.shareable ?? true }, reader);
  } else if (metadata.channel && metadata.ts) {
    const card = await renderAccountCard(db, metadata.accountId, { shareable: false, reader });
    await client.chat.update({ channel: metadata.channel, ts: metadata.ts, text: card.text, blocks: card.blocks });
  }
}

/**
 * The reason modal was submitted. The move runs before the ack, unlike everywhere else: a refused move (no
 * reason, stale, forbidden) must come back inside the modal, and only the ack can carry it there. The move
 * is one short transaction; redrawing the card happens after the ack.
 */
export function stageMoveSubmission({ db }: BotDeps) {
  return async ({ ack, view, client, context }: ViewArgs): Promise<void> => {
    const metadata = decodeMetadata(stageMoveMetadataSchema, view.private_metadata);
    const { actor } = slackPerson(context);
    const toStage = metadata.toStage ?? inputValue(view, FieldIds.toStage);
    if (!toStage) throw new InvalidInputError('Choose the stage to move to.', FieldIds.toStage);
    await moveAccountStage(db, {
      accountId: metadata.accountId,
      toStage,
      expectedVersion: metadata.version,
      actor,
      source: 'slack',
      reason: inputValue(view, FieldIds.reason) ?? null,
      churnReasonKey: inputValue(view, FieldIds.churnReasonKey) ?? null,
      auditTarget: AUDIT_TARGET,
    });
    await ack();
    await redrawMovedCard(db, client, metadata, actor);
  };
}
