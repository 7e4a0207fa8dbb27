import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { type Actor, actorFromUser } from '../../../domain/actors.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { HANDOFF_CHANNEL_TARGET, moveStageWithAudit } from '../../../domain/stage-moves.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds, INPUT_ACTION } from '../../ids.ts';
import { postToResponseUrl } from '../../replies.ts';
import { accountCardModal } from '../../views/card-modal.ts';

export type ViewArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

/** Audit notes of moves made in Slack go to the handoff channel, in the account's thread, wherever the card was. */
export const AUDIT_TARGET = HANDOFF_CHANNEL_TARGET;

const metadataSchema = z.object({
  accountId: z.string(),
  version: z.number().int(),
  toStage: z.string().optional(),
  /** A card in a message (ephemeral or posted) is redrawn through the click's response_url. */
  responseUrl: z.url().optional(),
  /** Whether that card offers to share itself (only an ephemeral one does). */
  shareable: z.boolean().optional(),
  /** A card in a modal (opened from App Home) is redrawn with views.update. */
  viewId: z.string().optional(),
  // Forms opened by an earlier release name a posted card by channel and ts.
  channel: z.string().optional(),
  ts: z.string().optional(),
});
export type StageMoveMetadata = z.infer<typeof metadataSchema>;

export function encodeStageMoveMetadata(metadata: StageMoveMetadata): string {
  return JSON.stringify(metadata);
}

export function decodeMetadata<T>(schema: z.ZodType<T>, raw: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new InvalidInputError('This form is out of date. Close it and start again from the card.');
  return result.data;
}

/** The value a person typed or chose in an input block, by the block's id. */
export function inputValue(view: ViewSubmitAction['view'], blockId: string): string | undefined {
  const element = view.state.values[blockId]?.[INPUT_ACTION];
  if (!element) return undefined;
  if (typeof element.value === 'string') return element.value;
  if (element.selected_option) return element.selected_option.value;
  return undefined;
}

async function redrawCard(db: BotDeps['db'], client: WebClient, metadata: StageMoveMetadata, reader: Actor): Promise<void> {
  if (metadata.viewId) {
    const card = await renderAccountCard(db, metadata.accountId, { shareable: false, reader });
    await client.views.update({ view_id: metadata.viewId, view: accountCardModal(card) });
  } else if (metadata.responseUrl) {
    const card = await renderAccountCard(db, metadata.accountId, { shareable: metadata.shareable ?? true, reader });
    await postToResponseUrl(metadata.responseUrl, { replace_original: true, text: card.text, blocks: card.blocks });
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
  return async ({ ack, body, view, client }: ViewArgs): Promise<void> => {
    const metadata = decodeMetadata(metadataSchema, view.private_metadata);
    const user = await requireUserBySlackId(db, body.user.id);
    const toStage = metadata.toStage ?? inputValue(view, FieldIds.toStage);
    if (!toStage) throw new InvalidInputError('Choose the stage to move to.', FieldIds.toStage);
    const actor = actorFromUser(user);
    await moveStageWithAudit(db, {
      accountId: metadata.accountId,
      toStage,
      expectedVersion: metadata.version,
      actor,
      source: 'slack',
      reason: inputValue(view, FieldIds.reason) ?? null,
      auditTarget: AUDIT_TARGET,
    });
    await ack();
    await redrawCard(db, client, metadata, actor);
  };
}
