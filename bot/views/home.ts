import type { HomeView, KnownBlock } from '@slack/types';
import type { Account, LifecycleStage, User } from '../../db/schema.ts';
import type { Book } from '../../domain/accounts/book.ts';
import { ActionIds } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import { MESSAGE_LIST_TEXT_MAX, SECTION_TEXT_MAX, packedList } from './lists.ts';
import { type OwnTasks, homeTaskBlocks } from './tasks.ts';
import { renewalButtons } from './renewals.ts';
import type { RenewalCall } from '../../db/schema.ts';
import { renewalCallLabels } from '../../domain/renewals/calls.ts';
import {
  contextBlock,
  daysUntil,
  escapeMrkdwn,
  formatCents,
  formatHealth,
  formatTrend,
  plainText,
  plural,
  relativeDays,
  sectionBlock,
  slackDate,
  truncate,
} from './format.ts';

// A Home tab holds 100 blocks. Header 2, my tasks 2 + 10 + 1, at-risk 2 + 10 + 1, handoffs 2 + 8, renewals 2 + 8,
// stages 2 + 8 + 1, footer 1: at most 60 whatever the book holds, and every list ends with how many it left out.
const MAX_ATTENTION = 10;
const MAX_LIST_BLOCKS = 8;
const MAX_STAGE_SECTIONS = 8;
const LINES_PER_STAGE = 15;
/** The first renewals App Home lists each get their call buttons (2 blocks each); the rest are lines. */
export const HOME_RENEWALS_WITH_BUTTONS = 5;
// A message holds 50 blocks; the renewals answer keeps one for its header.
const MAX_MESSAGE_LIST_BLOCKS = 49;

function renewalLine(account: Account, now: Date): string {
  const end = account.contractEnd ?? '';
  return `• *${escapeMrkdwn(account.name)}* · ${end} (${relativeDays(daysUntil(end, now))}) · ARR ${formatCents(account.arrCents)}`;
}

/** `/lifeline renewals`: the person's renewals within the renewal window (`windowDays`, the configured one). */
export function renewalsMessage(renewals: Account[], now: Date, windowDays: number): SlackMessage {
  if (renewals.length === 0) {
    const text = `None of your accounts renews in the next ${windowDays} days.`;
    return { text, blocks: [sectionBlock(text)] };
  }
  const header = `*${plural(renewals.length, 'renewal')}* in the next ${windowDays} days, soonest first:`;
  const list = packedList(
    renewals.map((account) => renewalLine(account, now)),
    {
      maxBlocks: MAX_MESSAGE_LIST_BLOCKS,
      maxChars: MESSAGE_LIST_TEXT_MAX,
      more: (left) => `…and ${left} more: the GraphQL query \`renewals(withinDays: ${windowDays})\` lists them all.`,
    },
  );
  const blocks: KnownBlock[] = [sectionBlock(header), ...list.blocks];
  const text = `${plural(renewals.length, 'renewal')} in the next ${windowDays} days: ${renewals
    .slice(0, 20)
    .map((account) => `${account.name} (${account.contractEnd})`)
    .join(', ')}${renewals.length > 20 ? ', …' : ''}`;
  return { text: truncate(text, 3000), blocks };
}

export interface HomeInput {
  user: Pick<User, 'name'>;
  book: Book;
  stages: LifecycleStage[];
  now: Date;
  /** The renewal window the book's renewals were listed with (config.jobs.renewalWindowDays). */
  renewalWindowDays: number;
  /** The person's own open tasks ("My tasks"); the section is left out when there are none. */
  tasks?: OwnTasks | undefined;
  /** The open renewal and its current call, by account, of the first renewals listed (HOME_RENEWALS_WITH_BUTTONS). */
  renewals?: ReadonlyMap<string, HomeRenewal> | undefined;
}

export interface HomeRenewal {
  renewalId: string;
  current: Pick<RenewalCall, 'call' | 'calledByLabel' | 'calledAt'> | null;
}

/** App Home: the person's book at a glance. Pure: data in, view out. */
export function appHome({ user, book, stages, now, renewalWindowDays, tasks, renewals }: HomeInput): HomeView {
  const blocks: KnownBlock[] = [
    { type: 'header', text: plainText(`${user.name}'s book`, 150) },
    contextBlock(
      `${plural(book.accounts.length, 'account')} · ${plural(book.atRisk.length, 'needs', 'need')} attention · ${plural(book.handoffsWaiting.length, 'handoff')} waiting on you · ${plural(book.renewals.length, 'renewal')} in the next ${plural(renewalWindowDays, 'day')}`,
    ),
  ];

  // Work with a due day first: the person's own tasks, due and overdue at the top.
  if (tasks) blocks.push(...homeTaskBlocks(tasks, now));

  if (book.atRisk.length > 0) {
    blocks.push({ type: 'divider' }, sectionBlock('*Needs attention* (health At risk or Critical, or falling fast)'));
    for (const item of book.atRisk.slice(0, MAX_ATTENTION)) {
      const trend = formatTrend(item.score, item.scoreDayAgo);
      blocks.push({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(`*${escapeMrkdwn(item.account.name)}* · ${formatHealth(item.status, item.score)}${trend ? ` ${trend}` : ''}\n${escapeMrkdwn(item.reasons.slice(0, 2).join('; ') || 'no reason recorded')}`, 3000),
        },
        accessory: { type: 'button', action_id: ActionIds.openAccount, text: plainText('Open', 75), value: item.account.id },
      });
    }
    if (book.atRisk.length > MAX_ATTENTION) blocks.push(contextBlock(`…and ${book.atRisk.length - MAX_ATTENTION} more: \`/lifeline at-risk\` lists them all.`));
  }

  if (book.handoffsWaiting.length > 0) {
    blocks.push({ type: 'divider' }, sectionBlock('*Handoffs waiting on you*'));
    const lines = book.handoffsWaiting.map((handoff) => {
      const next = handoff.status === 'pending' ? 'confirm the sales context' : handoff.status === 'confirmed' ? 'accept it' : 'schedule the kickoff';
      const late = handoff.slaDueAt.getTime() < now.getTime() ? ' :rotating_light: SLA breached' : '';
      return `• *${escapeMrkdwn(handoff.accountName)}*: ${next}, due ${slackDate(handoff.slaDueAt)}${late}`;
    });
    blocks.push(...packedList(lines, { maxBlocks: MAX_LIST_BLOCKS, more: (left) => `…and ${left} more: the GraphQL query \`handoffs\` lists them all.` }).blocks);
  }

  if (book.renewals.length > 0) {
    blocks.push({ type: 'divider' }, sectionBlock(`*Renewals in the next ${plural(renewalWindowDays, 'day')}*`));
    const withButtons = book.renewals.slice(0, HOME_RENEWALS_WITH_BUTTONS).filter((account) => renewals?.has(account.id));
    for (const account of withButtons) {
      const renewal = renewals?.get(account.id);
      if (!renewal) continue;
      const call = renewal.current ? `Forecast call: *${renewalCallLabels[renewal.current.call]}* by ${escapeMrkdwn(truncate(renewal.current.calledByLabel, 80))} ${slackDate(renewal.current.calledAt)}` : 'No forecast call yet.';
      blocks.push(sectionBlock(truncate(`${renewalLine(account, now)}\n${call}`, 3000)), renewalButtons(renewal.renewalId, renewal.current?.call ?? null));
    }
    const lines = book.renewals.filter((account) => !withButtons.includes(account)).map((account) => renewalLine(account, now));
    if (lines.length > 0) blocks.push(...packedList(lines, { maxBlocks: MAX_LIST_BLOCKS, more: (left) => `…and ${left} more: \`/lifeline renewals\` shows them all.` }).blocks);
  }

  blocks.push({ type: 'divider' }, sectionBlock('*Accounts by stage*'));
  const byStage = stages
    .map((stage) => ({ stage, accounts: book.accounts.filter((entry) => entry.account.stageKey === stage.key) }))
    .filter((group) => group.accounts.length > 0);
  for (const group of byStage.slice(0, MAX_STAGE_SECTIONS)) {
    const lines = group.accounts.slice(0, LINES_PER_STAGE).map(({ account, health }) => {
      const score = health ? `${formatHealth(health.status, health.score)} ${formatTrend(health.score, health.scoreWeekAgo)}`.trim() : '_no health score yet_';
      return `• ${escapeMrkdwn(truncate(account.name, 80))} · ${score}`;
    });
    const left = group.accounts.length - lines.length;
    const more = left > 0 ? `\n…and ${left} more: the GraphQL query \`accounts(filter: { stage: "${group.stage.key}" })\` lists them all.` : '';
    // 15 lines of at most ~150 characters and the closing line stay well under a section's 3000.
    blocks.push(sectionBlock(`*${escapeMrkdwn(truncate(group.stage.name, 150))}* (${group.accounts.length})\n${lines.join('\n')}${more}`));
  }
  const hidden = byStage.slice(MAX_STAGE_SECTIONS);
  if (hidden.length > 0) {
    const count = hidden.reduce((sum, group) => sum + group.accounts.length, 0);
    blocks.push(
      contextBlock(
        truncate(
          `…and ${plural(count, 'more account')} in ${plural(hidden.length, 'more stage')}: the GraphQL query \`accounts\` lists them all (${hidden.map((group) => escapeMrkdwn(truncate(group.stage.name, 80))).join(', ')})`,
          SECTION_TEXT_MAX,
        ),
      ),
    );
  }
  if (byStage.length === 0) blocks.push(sectionBlock('_No accounts are assigned to you yet._'));
  blocks.push(contextBlock('Trends compare with a week ago. Use `/lifeline account <name>` to open a card and move its stage.'));
  return { type: 'home', blocks };
}
