/** Slack action, block and callback ids: defined once, shared by the view builders and the listeners. */
export const ActionIds = {
  stageSelect: 'account_stage_select',
  shareCard: 'account_card_share',
  openAccount: 'account_open',
} as const;

const CARD_BLOCK_PREFIX = 'account_card';

/**
 * The card's actions block carries the account and the version it shows, so a click on a stale card
 * is detected by the domain's optimistic concurrency check rather than silently applied.
 */
export function cardBlockId(accountId: string, version: number): string {
  return `${CARD_BLOCK_PREFIX}:${accountId}:${version}`;
}

export function parseCardBlockId(blockId: string): { accountId: string; version: number } | null {
  const [prefix, accountId, version, ...rest] = blockId.split(':');
  if (prefix !== CARD_BLOCK_PREFIX || !accountId || !version || rest.length > 0) return null;
  const parsed = Number(version);
  return Number.isInteger(parsed) && parsed > 0 ? { accountId, version: parsed } : null;
}
