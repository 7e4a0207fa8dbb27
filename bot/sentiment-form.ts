import { z } from 'zod';
import type { ActionSurface } from './replies.ts';

/**
 * What the sentiment form carries from the card's "Set sentiment" click to its submission: the account, and where
 * the card is, to redraw it with the new sentiment (a card in a message through the click's response_url, a card in
 * a modal with views.update). A response_url is the longest part (about 100 characters): far below Slack's 3000 for
 * private_metadata.
 */
export const sentimentFormSchema = z.object({
  accountId: z.string(),
  responseUrl: z.url().optional(),
  /** Only an ephemeral card offers to share itself. */
  shareable: z.boolean().optional(),
  viewId: z.string().optional(),
});
export type SentimentForm = z.infer<typeof sentimentFormSchema>;

export function encodeSentimentForm(accountId: string, surface: ActionSurface): string {
  const where: Omit<SentimentForm, 'accountId'> =
    surface.kind === 'message' || surface.kind === 'ephemeral'
      ? { responseUrl: surface.responseUrl, shareable: surface.kind === 'ephemeral' }
      : surface.kind === 'modal'
        ? { viewId: surface.viewId }
        : {};
  return JSON.stringify({ accountId, ...where });
}
