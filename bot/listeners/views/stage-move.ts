import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { type Actor, actorFromUser } from '../../../domain/actors.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { moveStageWithAudit } from '../../../domain/stage-moves.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds, INPUT_ACTION } from '../../ids.ts';

export type ViewArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

const metadataSchema = z.object({
  accountId: z.string(),
  version: z.number().int(),
  toStage: z.string().optional(),
  channel: z.string().optional(),
  ts: z.string().optional(),
  responseUrl: z.url().optional(),
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
  if (metadata.channel && metadata.ts) {
    const card = await renderAccountCard(db, metadata.accountId, { shareable: false, reader });
    await client.chat.update({ channel: metadata.channel, ts: metadata.ts, text: card.text, blocks: card.blocks });
  } else if (metadata.responseUrl) {
    const card = await renderAccountCard(db, metadata.accountId, { shareable: true, reader });
    const response = await fetch(metadata.responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replace_original: true, text: card.text, blocks: card.blocks }),
    });
    if (!response.ok) throw new Error(`Slack refused the card redraw through response_url: ${response.status}`);
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
    const auditTarget = metadata.channel && metadata.ts ? metadata.channel : undefined;
    const actor = actorFromUser(user);
    await moveStageWithAudit(db, {
      accountId: metadata.accountId,
      toStage,
      expectedVersion: metadata.version,
      actor,
      source: 'slack',
      reason: inputValue(view, FieldIds.reason) ?? null,
      ...(auditTarget ? { auditTarget } : {}),
    });
    await ack();
    await redrawCard(db, client, metadata, actor);
  };
}
