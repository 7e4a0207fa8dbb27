import type { HomeView, KnownBlock } from '@slack/types';
import type { Account, LifecycleStage, User } from '../../db/schema.ts';
import type { Book } from '../../domain/book.ts';
import { ActionIds } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
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

// A Home tab holds 100 blocks; these caps keep the worst case (every list full) at about 60.
const MAX_ATTENTION = 10;
const MAX_STAGE_SECTIONS = 8;
const LINES_PER_SECTION = 15;

function renewalLine(account: Account, now: Date): string {
  const end = account.contractEnd ?? '';
  return `• *${escapeMrkdwn(account.name)}* · ${end} (${relativeDays(daysUntil(end, now))}) · ARR ${formatCents(account.arrCents)}`;
}

/** `/lifeline renewals`: the person's renewals in the next 90 days. */
export function renewalsMessage(renewals: Account[], now: Date, windowDays: number): SlackMessage {
  if (renewals.length === 0) {
    const text = `None of your accounts renews in the next ${windowDays} days.`;
    return { text, blocks: [sectionBlock(text)] };
  }
  const lines = renewals.map((account) => renewalLine(account, now));
  const blocks: KnownBlock[] = [sectionBlock(`*${plural(renewals.length, 'renewal')}* in the next ${windowDays} days, soonest first:`)];
  // 15 lines a section keeps each under 3000 characters; 40 sections is far below 50 blocks.
  for (let start = 0; start < lines.length && blocks.length < 45; start += LINES_PER_SECTION) {
    blocks.push(sectionBlock(lines.slice(start, start + LINES_PER_SECTION).join('\n')));
  }
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
}

/** App Home: the person's book at a glance. Pure: data in, view out. */
export function appHome({ user, book, stages, now }: HomeInput): HomeView {
  const blocks: KnownBlock[] = [
    { type: 'header', text: plainText(`${user.name}'s book`, 150) },
    contextBlock(
      `${plural(book.accounts.length, 'account')} · ${plural(book.atRisk.length, 'needs', 'need')} attention · ${plural(book.handoffsWaiting.length, 'handoff')} waiting on you · ${plural(book.renewals.length, 'renewal')} in the next 90 days`,
    ),
  ];

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
    for (let start = 0; start < lines.length && start < 45; start += LINES_PER_SECTION) blocks.push(sectionBlock(lines.slice(start, start + LINES_PER_SECTION).join('\n')));
  }

  if (book.renewals.length > 0) {
    blocks.push({ type: 'divider' }, sectionBlock('*Renewals in the next 90 days*'));
    const lines = book.renewals.map((account) => renewalLine(account, now));
    for (let start = 0; start < lines.length && start < 45; start += LINES_PER_SECTION) blocks.push(sectionBlock(lines.slice(start, start + LINES_PER_SECTION).join('\n')));
  }

  blocks.push({ type: 'divider' }, sectionBlock('*Accounts by stage*'));
  const byStage = stages
    .map((stage) => ({ stage, accounts: book.accounts.filter((entry) => entry.account.stageKey === stage.key) }))
    .filter((group) => group.accounts.length > 0);
  for (const group of byStage.slice(0, MAX_STAGE_SECTIONS)) {
    const lines = group.accounts.slice(0, LINES_PER_SECTION).map(({ account, health }) => {
      const score = health ? `${formatHealth(health.status, health.score)} ${formatTrend(health.score, health.scoreWeekAgo)}`.trim() : '_no health score yet_';
      return `• ${escapeMrkdwn(truncate(account.name, 80))} · ${score}`;
    });
    const more = group.accounts.length > LINES_PER_SECTION ? `\n…and ${group.accounts.length - LINES_PER_SECTION} more` : '';
    blocks.push(sectionBlock(`*${escapeMrkdwn(group.stage.name)}* (${group.accounts.length})\n${lines.join('\n')}${more}`));
  }
  if (byStage.length === 0) blocks.push(sectionBlock('_No accounts are assigned to you yet._'));
  blocks.push(contextBlock('Trends compare with a week ago. Use `/lifeline account <name>` to open a card and move its stage.'));
  return { type: 'home', blocks: blocks.slice(0, 100) };
}
