import type { ModalView } from '@slack/types';
import type { SlackMessage } from './account-card.ts';
import { plainText, sectionBlock } from './format.ts';

// A modal holds 100 blocks; the card has at most 6 and the notice 1.
/** The account card in a modal: how a card opens from the App Home tab, where no message can carry it. */
export function accountCardModal(card: SlackMessage, notice?: string): ModalView {
  return {
    type: 'modal',
    // Modal titles allow 24 characters: the account's name is in the card's header instead.
    title: plainText('Account', 24),
    close: plainText('Close', 24),
    blocks: [...(notice ? [sectionBlock(notice)] : []), ...card.blocks],
  };
}
