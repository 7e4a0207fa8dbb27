import { z } from 'zod';

/**
 * What the "Start a playbook" form carries from the card's click to its submission: the account, and the modal the
 * card was in (a card opened from App Home), to redraw it with the new play.
 */
export const playbookStartFormSchema = z.object({ accountId: z.string(), cardViewId: z.string().optional() });
export type PlaybookStartForm = z.infer<typeof playbookStartFormSchema>;

export function encodePlaybookStartForm(form: PlaybookStartForm): string {
  return JSON.stringify(form);
}
