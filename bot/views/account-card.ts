import type { ActionsBlock, KnownBlock, PlainTextOption } from '@slack/types';
import type { LifecycleStage } from '../../db/schema.ts';
import type { AccountOverview } from '../../domain/accounts/reads.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../../domain/renewals/window.ts';
import { ActionIds, cardBlockId } from '../ids.ts';
import { reasonNeededLine } from './stage-move.ts';
import {
  contextBlock,
  escapeMrkdwn,
  formatCents,
  formatHealth,
  formatHealthPlain,
  formatSegment,
  formatTrend,
  personMention,
  personName,
  plural,
  slackDate,
  truncate,
} from './format.ts';
import { daysBetween } from '../../domain/dates.ts';
import type { TaskItem } from '../../domain/plays/tasks.ts';
import { cardTaskBlocks } from './tasks.ts';
import type { AccountPeople } from '../../domain/people/summary.ts';
import { peopleLine, sentimentPlain, sentimentText } from './people.ts';
import type { PlaybookRunItem } from '../../domain/plays/playbook-runs.ts';
import { runningPlaysBlock } from './playbooks.ts';

export interface SlackMessage {
  /** Plain-text fallback: notifications, screen readers and clients that cannot render blocks. */
  text: string;
  blocks: KnownBlock[];
}

export interface AccountCardOptions {
  /** The whole lifecycle, to say which of the choices need a reason. */
  stages: LifecycleStage[];
  /**
   * The stages the reader may move this account to (domain `stageChoices`): the select offers exactly these,
   * and a reader with none (a viewer, someone else's account) gets no select.
   */
  choices: LifecycleStage[];
  now?: Date;
  /** An ephemeral card offers to share itself in the channel. */
  shareable?: boolean;
  /** The account's open and snoozed tasks as the reader may see them, each with its menu; none shows nothing. */
  tasks?: TaskItem[] | undefined;
  /** The account's key people and the CSM's sentiment; without them the card says nothing of either. */
  people?: AccountPeople | undefined;
  /** Offers "Set sentiment" (the reader is an admin, a manager or the account's CSM; setting it still checks). */
  canSetSentiment?: boolean | undefined;
  /** The account's playbook runs as the reader may see them: the running ones are listed with their open tasks. */
  plays?: readonly PlaybookRunItem[] | undefined;
  /** Offer "Start playbook" (domain mayOfferPlaybookStart; the start itself checks again). */
  offerPlaybookStart?: boolean;
}

// Slack limits (SLACK-NOTES.md): header 150, option text 75, 100 options in a static select.
const MAX_SELECT_OPTIONS = 100;

function stageOption(stage: LifecycleStage): PlainTextOption {
  return { text: { type: 'plain_text', text: truncate(stage.name, 75) }, value: stage.key };
}

function renewalText(contractEnd: string | null, now: Date): string {
  if (!contractEnd) return '_no contract end on file_';
  // Calendar days, not elapsed hours: a contract ending tomorrow is "in 1 day" all day today.
  const today = new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
  const days = daysBetween(today, new Date(`${contractEnd}T00:00:00Z`));
  if (days < 0) return `${contractEnd} (ended ${plural(-days, 'day')} ago)`;
  return `${contractEnd} (in ${plural(days, 'day')})`;
}

function healthText(health: AccountOverview['health']): string {
  if (!health) return '_not computed yet_';
  const trend = formatTrend(health.score, health.scoreWeekAgo);
  return `${formatHealth(health.status, health.score)}${trend ? ` (${trend} this week)` : ''}`;
}

/** An account at a glance, with a stage select that moves it. Pure: data in, blocks out. */
export function accountCard(overview: AccountOverview, options: AccountCardOptions): SlackMessage {
  const { account, stage, csm, ae, health, lastTransition } = overview;
  const now = options.now ?? new Date();
  const daysInStage = daysBetween(account.stageEnteredAt, now);
  const overSla = stage.slaDays !== null && daysInStage > stage.slaDays;
  const stageLine = `${escapeMrkdwn(stage.name)} · ${plural(daysInStage, 'day')}${overSla ? ` :warning: over the ${stage.slaDays}-day SLA` : ''}`;

  const selectable = options.choices.slice(0, MAX_SELECT_OPTIONS);
  const reasonNote = selectable.length > 0 ? reasonNeededLine(account.stageKey, selectable, options.stages) : undefined;
  const actionElements: ActionsBlock['elements'] = [
    // The current stage is not a choice, so the select starts on its placeholder; the Stage field says where it is.
    ...(selectable.length > 0
      ? [
          {
            type: 'static_select' as const,
            action_id: ActionIds.stageSelect,
            placeholder: { type: 'plain_text' as const, text: 'Move to stage…' },
            options: selectable.map(stageOption),
          },
        ]
      : []),
    ...(options.canSetSentiment
      ? [
          {
            type: 'button' as const,
            action_id: ActionIds.setSentiment,
            text: { type: 'plain_text' as const, text: 'Set sentiment' },
            value: account.id,
          },
        ]
      : []),
    ...(options.offerPlaybookStart
      ? [
          {
            type: 'button' as const,
            action_id: ActionIds.startPlaybook,
            text: { type: 'plain_text' as const, text: 'Start playbook' },
            value: account.id,
          },
        ]
      : []),
    ...(options.shareable
      ? [
          {
            type: 'button' as const,
            action_id: ActionIds.shareCard,
            text: { type: 'plain_text' as const, text: 'Share in channel' },
            value: account.id,
          },
        ]
      : []),
  ];

  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(account.name, 150), emoji: false } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: truncate(`*Stage*\n${stageLine}`, 2000) },
        { type: 'mrkdwn', text: `*ARR*\n${formatCents(account.arrCents)}` },
        { type: 'mrkdwn', text: `*CSM*\n${personMention(csm)}` },
        { type: 'mrkdwn', text: `*Account executive*\n${personMention(ae)}` },
        { type: 'mrkdwn', text: `*Segment*\n${formatSegment(account.segment)}` },
        { type: 'mrkdwn', text: `*Renewal*\n${renewalText(account.contractEnd, now)}` },
        { type: 'mrkdwn', text: `*Health*\n${healthText(health)}` },
        // Beside the score, never part of it.
        ...(options.people ? [{ type: 'mrkdwn' as const, text: truncate(`*CSM sentiment*\n${sentimentText(options.people.sentiment)}`, 2000) }] : []),
      ],
    },
    // Why the score is what it is, in the words the digest uses: the few facts that moved it most.
    ...(health && health.reasons.length > 0
      ? [{ type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: truncate(health.reasons.slice(0, 3).map((reason) => escapeMrkdwn(reason)).join(' · '), 3000) }] }]
      : []),
    ...(options.people ? [peopleLine(options.people, now)].filter((block) => block !== undefined) : []),
    // An actions block needs at least one element: a reader who may neither move nor share gets none.
    ...(actionElements.length > 0 ? [{ type: 'actions' as const, block_id: cardBlockId(account.id, account.version), elements: actionElements }] : []),
    ...(reasonNote ? [contextBlock(reasonNote)] : []),
  ];

  if (lastTransition) {
    const move =
      lastTransition.direction === 'initial'
        ? `Started in ${escapeMrkdwn(stage.key === lastTransition.toStage ? stage.name : lastTransition.toStage)}`
        : `${escapeMrkdwn(lastTransition.actorLabel)} moved it ${lastTransition.direction}`;
    const reason = lastTransition.reason && lastTransition.direction !== 'initial' ? `: “${escapeMrkdwn(lastTransition.reason)}”` : '';
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(`${move} ${slackDate(lastTransition.occurredAt)}${reason}`, 3000) }],
    });
  }
  const plays = options.plays ? runningPlaysBlock(options.plays) : undefined;
  if (plays) blocks.push(plays);
  if (options.tasks) blocks.push(...cardTaskBlocks(account.id, options.tasks, now));

  const text = truncate(
    `${account.name}: ${stage.name} for ${plural(daysInStage, 'day')}, ${health ? `health ${formatHealthPlain(health.status, health.score)}` : 'health not computed yet'}, ARR ${formatCents(account.arrCents)}, CSM ${personName(csm)}, renewal ${account.contractEnd ?? 'not on file'}${options.people ? `, CSM sentiment ${sentimentPlain(options.people.sentiment)}` : ''}`,
    3000,
  );
  return { text, blocks };
}

/** Several accounts matched a search: let the person pick one. */
export function accountChooser(query: string, matches: AccountOverview['account'][]): SlackMessage {
  const shown = matches.slice(0, 10);
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`${plural(matches.length, 'account')} match “${escapeMrkdwn(query)}”. Which one?`, 3000) },
    },
    ...shown.map(
      (account): KnownBlock => ({
        type: 'section',
        text: { type: 'mrkdwn', text: truncate(`*${escapeMrkdwn(account.name)}*${account.domain ? ` · ${escapeMrkdwn(account.domain)}` : ''}`, 3000) },
        accessory: {
          type: 'button',
          action_id: ActionIds.openAccount,
          text: { type: 'plain_text', text: 'Open' },
          value: account.id,
        },
      }),
    ),
  ];
  return { text: `${plural(matches.length, 'account')} match "${query}": ${shown.map((account) => account.name).join(', ')}`, blocks };
}

/** `renewalWindowDays` is the configured renewal window, named in the `/lifeline renewals` line. */
export function helpMessage(problem?: string, renewalWindowDays: number = DEFAULT_RENEWAL_WINDOW_DAYS): SlackMessage {
  const usage = [
    '*Lifeline* keeps your book of accounts moving.',
    '• `/lifeline account <name>`: an account card, where you can move its stage (share it to show the channel)',
    '• `/lifeline at-risk`: your accounts that need attention today, and why',
    `• \`/lifeline renewals\`: your renewals in the next ${plural(renewalWindowDays, 'day')}`,
    '• `/lifeline tasks`: your open tasks, soonest due first, to mark done, snooze or reassign',
    '• `/lifeline help`: this message',
    'Answers are visible only to you. Your App Home tab shows your whole book.',
  ].join('\n');
  const text = problem ? `${problem}\n\n${usage}` : usage;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } }] };
}

export function noticeMessage(text: string): SlackMessage {
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } }] };
}
