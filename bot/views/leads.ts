import type { ActionsBlock, KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { Account, Lead, LeadUrgency, User } from '../../db/schema.ts';
import { leadUrgencies } from '../../db/schema.ts';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import { contextBlock, escapeMrkdwn, formatCents, personMention, plainText, sectionBlock, slackDate, truncate } from './format.ts';

type Person = Pick<User, 'name' | 'slackUserId'>;

export interface LeadView {
  lead: Lead;
  account: Pick<Account, 'id' | 'name' | 'arrCents'>;
  /** Who qualified the lead. */
  qualifiedBy: Person | null;
  ae: Person | null;
}

const urgencyLabels: Record<LeadUrgency, string> = { low: 'Low', medium: 'Medium', high: 'High' };

export function leadActionsBlockId(leadId: string): string {
  return `lead:${leadId}`;
}

function statusLine(view: LeadView): string {
  const { lead } = view;
  switch (lead.status) {
    case 'qualified':
      return ':hourglass_flowing_sand: Waiting for the account executive to accept or decline it.';
    case 'accepted':
      return `:white_check_mark: Accepted${lead.acceptedAt ? ` ${slackDate(lead.acceptedAt)}` : ''}; open until a deal closes or it is marked lost.`;
    case 'declined':
      return `:no_entry_sign: Declined${lead.declinedAt ? ` ${slackDate(lead.declinedAt)}` : ''}: “${escapeMrkdwn(truncate(lead.declineReason ?? '', 500))}”`;
    case 'won':
      return `:tada: Won${lead.wonAt ? ` ${slackDate(lead.wonAt)}` : ''}: opportunity ${escapeMrkdwn(truncate(lead.wonOpportunityId ?? '', 100))} added ${formatCents(lead.wonMrrCents ?? 0)} of MRR.`;
    case 'lost':
      return `:x: Lost${lead.lostAt ? ` ${slackDate(lead.lostAt)}` : ''}: “${escapeMrkdwn(truncate(lead.lostReason ?? '', 500))}”`;
  }
}

function summary(view: LeadView): KnownBlock[] {
  const { lead, account } = view;
  return [
    sectionBlock(
      `:dart: *Expansion lead: ${escapeMrkdwn(account.name)}* (ARR ${formatCents(account.arrCents)})\n*What they want:* ${escapeMrkdwn(truncate(lead.wants, 2000))}\n*Estimated MRR:* ${formatCents(lead.estimatedMrrCents)} · *Urgency:* ${urgencyLabels[lead.urgency]}`,
    ),
    contextBlock(
      `Qualified by ${view.qualifiedBy ? personMention(view.qualifiedBy) : escapeMrkdwn(lead.createdByLabel)} ${slackDate(lead.createdAt)}${lead.firingId ? ' from an expansion signal' : ''}.`,
    ),
  ];
}

/** The lead as its AE sees it: Accept and Decline while it waits for them, its status after. */
export function leadMessage(view: LeadView): SlackMessage {
  const { lead } = view;
  const blocks = summary(view);
  if (lead.status === 'qualified') {
    const actions: ActionsBlock = {
      type: 'actions',
      block_id: leadActionsBlockId(lead.id),
      elements: [
        { type: 'button', action_id: ActionIds.leadAccept, text: plainText('Accept', 75), style: 'primary', value: lead.id },
        { type: 'button', action_id: ActionIds.leadDecline, text: plainText('Decline', 75), value: lead.id },
      ],
    };
    blocks.push(actions);
  }
  blocks.push(contextBlock(statusLine(view)));
  return { text: truncate(`Expansion lead: ${view.account.name}. ${lead.wants}`, 3000), blocks };
}

/** What became of a lead, to the CSM who qualified it. */
export function leadOutcomeMessage(view: LeadView): SlackMessage {
  const { lead, account } = view;
  const who = view.ae ? personMention(view.ae) : 'The account executive';
  const headline: Record<Lead['status'], string> = {
    qualified: `Your lead on *${escapeMrkdwn(account.name)}* is waiting for ${who}.`,
    accepted: `${who} accepted your lead on *${escapeMrkdwn(account.name)}*.`,
    declined: `${who} declined your lead on *${escapeMrkdwn(account.name)}*.`,
    won: `Your lead on *${escapeMrkdwn(account.name)}* was won.`,
    lost: `Your lead on *${escapeMrkdwn(account.name)}* was lost.`,
  };
  return {
    text: truncate(`Lead on ${account.name}: ${lead.status}.`, 3000),
    blocks: [sectionBlock(headline[lead.status]), ...summary(view), contextBlock(statusLine(view))],
  };
}

export interface QualifyLeadModalInput {
  account: Pick<Account, 'name'>;
  /** Why the signal fired. */
  reason: string;
  privateMetadata: string;
}

/** The form qualifying an expansion signal into a lead for the account's AE. */
export function qualifyLeadModal(input: QualifyLeadModalInput): ModalView {
  const options: PlainTextOption[] = leadUrgencies.map((urgency) => ({ text: plainText(urgencyLabels[urgency], 75), value: urgency }));
  return {
    type: 'modal',
    callback_id: CallbackIds.leadQualify,
    title: plainText('Qualify as lead', 24),
    submit: plainText('Hand to the AE', 24),
    close: plainText('Cancel', 24),
    private_metadata: input.privateMetadata,
    blocks: [
      sectionBlock(truncate(`*${escapeMrkdwn(input.account.name)}*: ${escapeMrkdwn(input.reason)}. What did you hear? The lead goes to the account executive.`, 3000)),
      {
        type: 'input',
        block_id: FieldIds.wants,
        label: plainText('What they want', 2000),
        element: { type: 'plain_text_input', action_id: INPUT_ACTION, multiline: true, max_length: 2000 },
      },
      {
        type: 'input',
        block_id: FieldIds.estimatedMrrCents,
        label: plainText('Estimated MRR in dollars', 2000),
        element: { type: 'number_input', action_id: INPUT_ACTION, is_decimal_allowed: true, min_value: '0' },
      },
      {
        type: 'input',
        block_id: FieldIds.urgency,
        label: plainText('Urgency', 2000),
        element: { type: 'static_select', action_id: INPUT_ACTION, placeholder: plainText('How soon?', 150), options, initial_option: options[1] },
      },
    ],
  };
}

/** The form asking the AE why they decline a lead. */
export function declineLeadModal(input: { accountName: string; privateMetadata: string }): ModalView {
  return {
    type: 'modal',
    callback_id: CallbackIds.leadDecline,
    title: plainText('Decline lead', 24),
    submit: plainText('Decline', 24),
    close: plainText('Cancel', 24),
    private_metadata: input.privateMetadata,
    blocks: [
      sectionBlock(truncate(`Why decline the lead on *${escapeMrkdwn(input.accountName)}*? The CSM who qualified it reads this.`, 3000)),
      {
        type: 'input',
        block_id: FieldIds.reason,
        label: plainText('Reason', 2000),
        element: { type: 'plain_text_input', action_id: INPUT_ACTION, multiline: true, max_length: 2000 },
      },
    ],
  };
}
