import type { ActionsBlock, KnownBlock } from '@slack/types';
import type { DigestItem } from '../../domain/digest.ts';
import { ActionIds } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import {
  contextBlock,
  daysUntil,
  escapeMrkdwn,
  formatHealth,
  formatHealthPlain,
  formatTrend,
  personMention,
  plainText,
  plural,
  relativeDays,
  sectionBlock,
  truncate,
} from './format.ts';
import { MESSAGE_LIST_TEXT_MAX, packedList } from './lists.ts';
import { type DueTasks, blocksTextLength, dueTaskBlocks, dueTasksFallback } from './tasks.ts';

/**
 * Ten accounts a page: two blocks each plus header, summary and footer stays far below 50 blocks, and the
 * text of a page stays well under the ~12k characters Slack accepts in one message.
 */
export const DIGEST_PAGE_SIZE = 10;

/** What a digest button carries: the account, and which digest page it sits on (to redraw it). */
export interface DigestButtonValue {
  accountId: string;
  csmId: string | null;
  page: number;
  /** The page is the morning DM's with the owner's due tasks above the accounts: its redraw keeps them. */
  withTasks?: boolean;
}

export function encodeDigestValue(value: DigestButtonValue): string {
  return JSON.stringify({ a: value.accountId, c: value.csmId, p: value.page, ...(value.withTasks ? { t: 1 } : {}) });
}

export function decodeDigestValue(raw: string | undefined): DigestButtonValue | null {
  try {
    const parsed: unknown = JSON.parse(raw ?? '');
    if (typeof parsed !== 'object' || parsed === null) return null;
    const accountId = Reflect.get(parsed, 'a');
    const csmId = Reflect.get(parsed, 'c');
    const page = Reflect.get(parsed, 'p');
    if (typeof accountId !== 'string' || (csmId !== null && typeof csmId !== 'string') || typeof page !== 'number' || !Number.isInteger(page) || page < 0) return null;
    return Reflect.get(parsed, 't') === 1 ? { accountId, csmId, page, withTasks: true } : { accountId, csmId, page };
  } catch {
    return null;
  }
}

export interface DigestOptions {
  day: string;
  now: Date;
  /** The CSM whose own accounts these are (their DM); unset for the channel. */
  csmId?: string | null;
  page?: number;
  /**
   * The morning DM's: that person's tasks due today and overdue, listed above their accounts on the first page.
   * Only a DM (with `csmId`) has them; with no account to list, the DM is the tasks alone.
   */
  tasks?: DueTasks | undefined;
}

// Slack refuses a message whose blocks hold more than about 12-13k characters of text: the tasks get what the
// accounts leave of this, with room for a line about the last action above a redrawn DM.
const MESSAGE_TEXT_MAX = 11_000;
const MESSAGE_BLOCKS_MAX = 50;

function itemLine(item: DigestItem, now: Date): string {
  const trend = formatTrend(item.score, item.scoreDayAgo);
  const head = `*${escapeMrkdwn(item.account.name)}* · ${formatHealth(item.status, item.score)}${trend ? ` (${trend} since yesterday)` : ''}`;
  const reasons = item.reasons.slice(0, 3).map((reason) => `• ${escapeMrkdwn(truncate(reason, 200))}`);
  const renewal = item.renewalDate ? `renews ${item.renewalDate} (${relativeDays(daysUntil(item.renewalDate, now))})` : 'no renewal date on file';
  const lines = [head, ...(reasons.length > 0 ? reasons : ['• _no reason recorded_']), `${renewal} · CSM ${personMention(item.csm)}`];
  if (item.followUp?.acknowledgedAt) {
    lines.push(`:white_check_mark: Acknowledged by ${escapeMrkdwn(item.followUp.acknowledgedByName ?? 'someone')}`);
  }
  return lines.join('\n');
}

function itemActions(item: DigestItem, value: string): ActionsBlock {
  const acknowledged = item.followUp?.acknowledgedAt !== null && item.followUp?.acknowledgedAt !== undefined;
  return {
    type: 'actions',
    block_id: `digest_item:${item.account.id}`,
    elements: [
      ...(acknowledged
        ? []
        : [{ type: 'button' as const, action_id: ActionIds.digestAcknowledge, text: plainText('Acknowledge', 75), value, style: 'primary' as const }]),
      { type: 'button', action_id: ActionIds.digestSnooze, text: plainText('Snooze 7 days', 75), value },
      { type: 'button', action_id: ActionIds.digestMoveStage, text: plainText('Move stage', 75), value },
      { type: 'button', action_id: ActionIds.digestOpenAccount, text: plainText('Open account', 75), value },
    ],
  };
}

/**
 * The daily at-risk list, one page of it; in the morning DM, the person's due tasks above it. Pure: data in,
 * message out.
 */
export function atRiskDigest(items: DigestItem[], options: DigestOptions): SlackMessage {
  const ownerId = options.csmId ?? null;
  if (!options.tasks || ownerId === null || (options.page ?? 0) > 0) return accountsPage(items, options, false);
  const accounts = items.length > 0 ? accountsPage(items, options, true) : undefined;
  const rest: KnownBlock[] = accounts ? [{ type: 'divider' }, ...accounts.blocks] : [];
  const tasks = dueTaskBlocks(options.tasks, ownerId, {
    day: options.day,
    now: options.now,
    maxBlocks: MESSAGE_BLOCKS_MAX - rest.length,
    maxChars: MESSAGE_TEXT_MAX - blocksTextLength(rest),
  });
  const text = `${dueTasksFallback(options.tasks, options.day)}${accounts ? ` ${accounts.text}` : ''}`;
  return { text: truncate(text, 3000), blocks: [...tasks, ...rest] };
}

function accountsPage(items: DigestItem[], options: DigestOptions, withTasks: boolean): SlackMessage {
  const pageSize = DIGEST_PAGE_SIZE;
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const page = Math.min(Math.max(options.page ?? 0, 0), pages - 1);
  const shown = items.slice(page * pageSize, (page + 1) * pageSize);
  const csmId = options.csmId ?? null;
  const critical = items.filter((item) => item.status === 'critical').length;
  const atRisk = items.filter((item) => item.status === 'at_risk').length;
  const dropped = items.length - critical - atRisk;

  const whose = csmId ? 'Your accounts' : 'Accounts';
  const summary =
    items.length === 0
      ? `No account needs attention today. :tada:`
      : `*${plural(items.length, 'account')}* need attention: ${critical} Critical, ${atRisk} At risk${dropped > 0 ? `, ${dropped} Healthy but falling fast` : ''}. ` +
        `${whose} are listed because their health is At risk or Critical or dropped sharply since yesterday, biggest drop first. ` +
        'Acknowledge what you are handling: anything not acknowledged by the next digest goes to a manager.';

  const blocks: KnownBlock[] = [
    { type: 'header', text: plainText(`${csmId ? 'Your at-risk accounts' : 'At-risk accounts'} · ${options.day}`, 150) },
    sectionBlock(summary),
  ];
  for (const item of shown) {
    blocks.push(sectionBlock(itemLine(item, options.now)));
    blocks.push(itemActions(item, encodeDigestValue({ accountId: item.account.id, csmId, page, withTasks })));
  }
  if (items.length > pageSize) {
    const from = page * pageSize + 1;
    const to = page * pageSize + shown.length;
    blocks.push(contextBlock(`Showing ${from}–${to} of ${items.length}.`));
    if (page + 1 < pages) {
      blocks.push({
        type: 'actions',
        block_id: 'digest_more',
        elements: [
          {
            type: 'button',
            action_id: ActionIds.digestShowMore,
            text: plainText(`Show ${Math.min(pageSize, items.length - to)} more`, 75),
            value: encodeDigestValue({ accountId: '', csmId, page: page + 1 }),
          },
        ],
      });
    }
  }

  const listed = shown.map((item) => `${item.account.name} (${formatHealthPlain(item.status, item.score)}${item.drop > 0 ? `, down ${item.drop}` : ''})`);
  const text =
    items.length === 0
      ? `At-risk digest ${options.day}: no account needs attention today.`
      : `At-risk digest ${options.day}: ${plural(items.length, 'account')} need attention, biggest drop first: ${listed.join(', ')}${items.length > shown.length ? ', …' : ''}`;
  return { text: truncate(text, 3000), blocks };
}

export interface EscalatedAccount {
  name: string;
  csmName: string | null;
  status: DigestItem['status'];
  score: number;
  firstListedOn: string;
}

/** To a manager: accounts listed at a previous digest that nobody acknowledged. */
export function escalationMessage(accounts: EscalatedAccount[], day: string): SlackMessage {
  const lines = accounts.map(
    (account) =>
      `• *${escapeMrkdwn(account.name)}* · ${formatHealth(account.status, account.score)} · CSM ${escapeMrkdwn(account.csmName ?? 'unassigned')} · listed since ${account.firstListedOn}`,
  );
  const intro = `${plural(accounts.length, 'at-risk account')} went a whole day on the digest without anyone acknowledging ${accounts.length === 1 ? 'it' : 'them'}. You get this because you are a manager: check in with the CSM.`;
  const blocks: KnownBlock[] = [{ type: 'header', text: plainText(`Unacknowledged at-risk accounts · ${day}`, 150) }, sectionBlock(intro)];
  // Nothing is cut silently: what does not fit the message is counted, with where to see it.
  const list = packedList(lines, { maxBlocks: 40, maxChars: MESSAGE_LIST_TEXT_MAX, more: (left) => `…and ${left} more: today's at-risk digest lists them all.` });
  blocks.push(...list.blocks);
  const shown = accounts.slice(0, list.shown);
  const text = `${intro} ${shown.map((account) => account.name).join(', ')}${accounts.length > shown.length ? ', …' : ''}`;
  return { text: truncate(text, 3000), blocks };
}
