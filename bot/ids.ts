import { isUuid } from '../domain/validation.ts';

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
  /** The overflow menu beside every task: done, snooze, reassign. */
  taskMenu: 'task_menu',
  /** "Set sentiment" on an account card: opens the sentiment form. */
  setSentiment: 'account_set_sentiment',
  /** "Start playbook" on the account card: opens the form to choose one. */
  startPlaybook: 'account_playbook_start',
  /** A renewal's forecast call buttons, one action id each (ids are unique within a block). */
  renewalCallCommit: 'renewal_call_commit',
  renewalCallLikely: 'renewal_call_likely',
  renewalCallAtRisk: 'renewal_call_at_risk',
  renewalCallChurning: 'renewal_call_churning',
  /** "Record outcome" on a renewal: opens the outcome form. */
  renewalRecordOutcome: 'renewal_record_outcome',
  /** "Qualify as lead" on an expansion signal: opens the lead form. */
  leadQualify: 'lead_qualify',
  /** The AE's answer to a lead handed to them; Decline opens the form asking why. */
  leadAccept: 'lead_accept',
  leadDecline: 'lead_decline',
} as const;

/** Which forecast call each renewal call button makes. */
export const RenewalCallActions = {
  commit: ActionIds.renewalCallCommit,
  likely: ActionIds.renewalCallLikely,
  at_risk: ActionIds.renewalCallAtRisk,
  churning: ActionIds.renewalCallChurning,
} as const;

export const CallbackIds = {
  stageMove: 'stage_move',
  handoffContext: 'handoff_context',
  taskDone: 'task_done',
  taskSnooze: 'task_snooze',
  taskReassign: 'task_reassign',
  setSentiment: 'set_sentiment',
  playbookStart: 'playbook_start',
  renewalOutcome: 'renewal_outcome',
  leadQualify: 'lead_qualify',
  leadDecline: 'lead_decline',
} as const;

/** Input block ids of modals equal the domain's field names, so a domain error's `field` points at its block. */
export const FieldIds = {
  toStage: 'toStage',
  reason: 'reason',
  churnReasonKey: 'churnReasonKey',
  goals: 'goals',
  promises: 'promises',
  stakeholders: 'stakeholders',
  risks: 'risks',
  notes: 'notes',
  outcomeNote: 'outcomeNote',
  until: 'until',
  ownerId: 'ownerId',
  sentiment: 'sentiment',
  note: 'note',
  playbookId: 'playbookId',
  outcome: 'outcome',
  newContractEnd: 'newContractEnd',
  newArrCents: 'newArrCents',
  wants: 'wants',
  estimatedMrrCents: 'estimatedMrrCents',
  urgency: 'urgency',
} as const;

/**
 * Where a renewal's buttons sit: the actions block names the renewal, and the optional note beside the call buttons
 * has a block of its own per renewal (App Home lists several), read from the click's state.
 */
export const renewalActionsBlockId = (renewalId: string) => `renewal_actions:${renewalId}`;
export const renewalNoteBlockId = (renewalId: string) => `renewal_note:${renewalId}`;

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

/**
 * The list a task is shown in, which decides what is redrawn after an action on it: `/lifeline tasks`, App Home's
 * "My tasks", an account card's open tasks, the morning DM of one owner, or a note about one task (the DM to its
 * new owner, the overdue note to a manager).
 */
export type TaskList =
  | { kind: 'mine' }
  | { kind: 'home' }
  | { kind: 'card'; accountId: string }
  | { kind: 'digest'; ownerId: string }
  | { kind: 'assigned' }
  | { kind: 'overdue' };

const TASK_BLOCK_PREFIX = 'task';

export function encodeTaskList(list: TaskList): string {
  switch (list.kind) {
    case 'card':
      return `c.${list.accountId}`;
    case 'digest':
      return `d.${list.ownerId}`;
    case 'mine':
      return 'm';
    case 'home':
      return 'h';
    case 'assigned':
      return 'a';
    case 'overdue':
      return 'o';
  }
}

export function decodeTaskList(raw: string): TaskList | null {
  const [code, id, ...rest] = raw.split('.');
  if (rest.length > 0) return null;
  // Ids inside a block id come from our own rendering; anything else is a forged or garbled id.
  if (id !== undefined && !isUuid(id)) return null;
  switch (code) {
    case 'c':
      return id ? { kind: 'card', accountId: id } : null;
    case 'd':
      return id ? { kind: 'digest', ownerId: id } : null;
    case 'm':
      return id ? null : { kind: 'mine' };
    case 'h':
      return id ? null : { kind: 'home' };
    case 'a':
      return id ? null : { kind: 'assigned' };
    case 'o':
      return id ? null : { kind: 'overdue' };
    default:
      return null;
  }
}

/**
 * A task's section carries the task, the version it shows and the list it sits in (at most 5 + 37 + 11 + 39
 * characters, far below Slack's 255 for a block id): the overflow's choice needs nothing else to act and redraw,
 * and a click on a stale list is caught by the domain's version check instead of undoing a newer change.
 */
export function taskBlockId(taskId: string, version: number, list: TaskList): string {
  return `${TASK_BLOCK_PREFIX}:${taskId}:${version}:${encodeTaskList(list)}`;
}

export function parseTaskBlockId(blockId: string): { taskId: string; version: number; list: TaskList } | null {
  const [prefix, taskId, version, list, ...rest] = blockId.split(':');
  if (prefix !== TASK_BLOCK_PREFIX || !taskId || !isUuid(taskId) || !version || !list || rest.length > 0) return null;
  const parsed = Number(version);
  const decoded = decodeTaskList(list);
  return Number.isInteger(parsed) && parsed > 0 && decoded ? { taskId, version: parsed, list: decoded } : null;
}

export function parseCardBlockId(blockId: string): { accountId: string; version: number } | null {
  const [prefix, accountId, version, ...rest] = blockId.split(':');
  if (prefix !== CARD_BLOCK_PREFIX || !accountId || !version || rest.length > 0) return null;
  const parsed = Number(version);
  return Number.isInteger(parsed) && parsed > 0 ? { accountId, version: parsed } : null;
}
