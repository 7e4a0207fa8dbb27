/** Slack action, block and callback ids: defined once, shared by the view builders and the listeners. */
export const ActionIds = {
  stageSelect: 'account_stage_select',
  shareCard: 'account_card_share',
  openAccount: 'account_open',
  handoffConfirm: 'handoff_confirm',
  handoffEdit: 'handoff_edit',
  handoffAccept: 'handoff_accept',
  handoffKickoff: 'handoff_kickoff',
  digestAcknowledge: 'digest_acknowledge',
  digestSnooze: 'digest_snooze',
  digestMoveStage: 'digest_move_stage',
  digestOpenAccount: 'digest_open_account',
  digestShowMore: 'digest_show_more',
} as const;

export const CallbackIds = {
  stageMove: 'stage_move',
  handoffContext: 'handoff_context',
} as const;

/** Input block ids of modals equal the domain's field names, so a domain error's `field` points at its block. */
export const FieldIds = {
  toStage: 'toStage',
  reason: 'reason',
  goals: 'goals',
  promises: 'promises',
  stakeholders: 'stakeholders',
  risks: 'risks',
  notes: 'notes',
} as const;

/** Every input element uses this action id; the block id says which field it is. */
export const INPUT_ACTION = 'value';

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
