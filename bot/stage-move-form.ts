import { z } from 'zod';
import { handoffChannelTarget } from '../domain/notifications.ts';

/**
 * What the stage-move form carries from the click that opens it (a card's select, the digest's button) to its
 * submission, and where moves made in Slack are audited.
 */

/** Audit notes of moves made in Slack go to the handoff channel, in the account's thread, wherever the card was. */
export const AUDIT_TARGET = handoffChannelTarget;

export const stageMoveMetadataSchema = z.object({
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
export type StageMoveMetadata = z.infer<typeof stageMoveMetadataSchema>;

export function encodeStageMoveMetadata(metadata: StageMoveMetadata): string {
  return JSON.stringify(metadata);
}
