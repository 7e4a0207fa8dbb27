import type { KnownBlock } from '@slack/types';
import type { Account, StageTransition, User } from '../../db/schema.ts';
import { ActionIds } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import { contextBlock, escapeMrkdwn, formatCents, personMention, plainText, sectionBlock, slackDate, truncate } from './format.ts';

const ruleTitles: Record<string, string> = {
  no_first_key_action: 'No first key action yet',
  stage_sla: 'Stage SLA breached',
  handoff_sla: 'Handoff SLA breached',
  first_value: 'First value reached',
  health_worsened: 'Health worsened',
  usage_drop: 'Usage dropped',
  champion_left: 'Champion left',
  expansion_signal: 'Expansion signal',
  sla_breach: 'SLA breached',
  handoff_overdue: 'Handoff overdue',
};

export function ruleTitle(rule: string): string {
  return ruleTitles[rule] ?? rule.replace(/_/g, ' ').replace(/^\w/, (first) => first.toUpperCase());
}

export interface AlertInput {
  account: Pick<Account, 'id' | 'name' | 'arrCents'>;
  rule: string;
  /** Why this alert fired, in words a person acts on. */
  reason: string;
  owner: Pick<User, 'name' | 'slackUserId'> | null;
  /** A DM to the owner, or a post in a shared channel: the "why you get this" line differs. */
  audience: 'owner' | 'channel';
  /** The firing behind the alert: an expansion signal offers to qualify it as a lead. */
  firingId?: number | null;
}

function sentence(text: string): string {
  return text.replace(/^\p{Ll}/u, (first) => first.toUpperCase());
}

/** An alert from a rule, to the account's owner; it always says why. */
export function alertMessage(input: AlertInput): SlackMessage {
  const title = ruleTitle(input.rule);
  const emoji = input.rule === 'expansion_signal' ? ':chart_with_upwards_trend:' : ':warning:';
  const blocks: KnownBlock[] = [
    sectionBlock(`${emoji} *${escapeMrkdwn(title)}: ${escapeMrkdwn(input.account.name)}* (ARR ${formatCents(input.account.arrCents)})\n${escapeMrkdwn(sentence(input.reason))}`),
    {
      type: 'actions',
      block_id: `alert:${input.account.id}`,
      elements: [
        { type: 'button', action_id: ActionIds.openAccount, text: plainText('Open account', 75), value: input.account.id },
        ...(input.rule === 'expansion_signal' && input.firingId
          ? [{ type: 'button' as const, action_id: ActionIds.leadQualify, text: plainText('Qualify as lead', 75), value: String(input.firingId) }]
          : []),
      ],
    },
    contextBlock(
      input.audience === 'owner'
        ? `You get this because you are the CSM of ${escapeMrkdwn(input.account.name)}.`
        : input.owner
          ? `Posted here for the team; ${personMention(input.owner)} is the CSM of ${escapeMrkdwn(input.account.name)}.`
          : `Posted here because ${escapeMrkdwn(input.account.name)} has no CSM: someone should pick it up.`,
    ),
  ];
  return { text: truncate(`${title}: ${input.account.name}. ${sentence(input.reason)}`, 3000), blocks };
}

export interface StageAuditInput {
  accountName: string;
  transition: Pick<StageTransition, 'direction' | 'actorLabel' | 'reason' | 'occurredAt'>;
  actor: Pick<User, 'name' | 'slackUserId'> | null;
  fromName: string;
  toName: string;
  /** The churn reason's label, on a move to Churned. */
  churnReasonLabel?: string | null;
}

/** The one-line note every move leaves in the account's thread. */
export function stageAuditNote(input: StageAuditInput): SlackMessage {
  const who = input.actor ? personMention(input.actor) : escapeMrkdwn(input.transition.actorLabel);
  const arrow = input.transition.direction === 'backward' ? ':arrow_backward:' : ':arrow_forward:';
  const churn = input.churnReasonLabel ? ` (churn reason: ${escapeMrkdwn(truncate(input.churnReasonLabel, 100))})` : '';
  const reason = input.transition.reason ? `: “${escapeMrkdwn(truncate(input.transition.reason, 500))}”` : '';
  const line = `${arrow} ${who} moved *${escapeMrkdwn(input.accountName)}* from ${escapeMrkdwn(input.fromName)} to ${escapeMrkdwn(input.toName)} ${slackDate(input.transition.occurredAt)}${churn}${reason}`;
  const text = `${input.transition.actorLabel} moved ${input.accountName} from ${input.fromName} to ${input.toName}${input.churnReasonLabel ? ` (churn reason: ${input.churnReasonLabel})` : ''}${input.transition.reason ? `: ${input.transition.reason}` : ''}`;
  return { text: truncate(text, 3000), blocks: [sectionBlock(line)] };
}
