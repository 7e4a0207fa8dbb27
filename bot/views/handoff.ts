import type { ActionsBlock, KnownBlock, ModalView } from '@slack/types';
import type { Account, Handoff, User } from '../../db/schema.ts';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import {
  contextBlock,
  escapeMrkdwn,
  formatCents,
  formatSegment,
  personMention,
  personName,
  plainText,
  plural,
  sectionBlock,
  slackDate,
  truncate,
} from './format.ts';
import { daysBetween } from '../../domain/dates.ts';

export interface HandoffView {
  handoff: Handoff;
  account: Pick<Account, 'id' | 'name' | 'arrCents' | 'segment' | 'contractStart' | 'contractEnd'>;
  ae: Pick<User, 'name' | 'slackUserId'> | null;
  csm: Pick<User, 'name' | 'slackUserId'> | null;
  /** Who confirmed the context (`handoff.confirmedBy`): the AE, or a manager acting for them. */
  confirmedBy: Pick<User, 'name' | 'slackUserId'> | null;
  /** Who accepted the handoff (`handoff.acceptedBy`): the CSM, or a manager acting for them. */
  acceptedBy: Pick<User, 'name' | 'slackUserId'> | null;
  now: Date;
}

type Person = Pick<User, 'name' | 'slackUserId'>;

/**
 * Who took a step, said the way the team reads it: "Confirmed by <AE>", or "Confirmed by <manager> for <AE>"
 * when a manager acted in the owner's place. Nothing when the row names no person (an integration acted).
 */
function attribution(verb: string, actorId: string | null, actor: Person | null, ownerId: string | null, owner: Person | null, name: (person: Person | null) => string): string | undefined {
  if (actorId === null || actor === null) return undefined;
  if (actorId === ownerId || ownerId === null) return `${verb} by ${name(actor)}`;
  return `${verb} by ${name(actor)} for ${name(owner)}`;
}

function stepAttributions(view: HandoffView, name: (person: Person | null) => string): string[] {
  const { handoff } = view;
  const lines: string[] = [];
  if (handoff.confirmedAt) {
    const line = attribution('Confirmed', handoff.confirmedBy, view.confirmedBy, handoff.aeId, view.ae, name);
    if (line) lines.push(line);
  }
  if (handoff.acceptedAt) {
    const line = attribution('Accepted', handoff.acceptedBy, view.acceptedBy, handoff.csmId, view.csm, name);
    if (line) lines.push(line);
  }
  return lines;
}

const statusLine: Record<Handoff['status'], string> = {
  pending: ':hourglass_flowing_sand: Waiting for the account executive to confirm the sales context',
  confirmed: ':raised_hand: Context confirmed; waiting for the CSM to accept',
  accepted: ':handshake: Accepted by the CSM; waiting for a kickoff date',
  kickoff_scheduled: ':calendar: Kickoff scheduled',
  completed: ':white_check_mark: Kickoff held: handoff complete',
};

const HOUR_MS = 3_600_000;

/** The SLA clock: time left to schedule the kickoff, or how overdue it is. */
export function slaClock(handoff: Pick<Handoff, 'slaDueAt' | 'kickoffScheduledAt' | 'status'>, now: Date): { text: string; overdue: boolean } {
  if (handoff.kickoffScheduledAt) {
    const late = handoff.kickoffScheduledAt.getTime() > handoff.slaDueAt.getTime();
    return { text: late ? 'Kickoff was scheduled after the SLA' : 'Kickoff scheduled within the SLA', overdue: false };
  }
  const left = handoff.slaDueAt.getTime() - now.getTime();
  if (left >= 0) {
    const hours = Math.floor(left / HOUR_MS);
    const span = hours >= 48 ? plural(Math.floor(hours / 24), 'day') : plural(hours, 'hour');
    return { text: `:stopwatch: Kickoff to be scheduled by ${slackDate(handoff.slaDueAt)} (${span} left)`, overdue: false };
  }
  const overdueDays = daysBetween(handoff.slaDueAt, now);
  const span = overdueDays >= 1 ? plural(overdueDays, 'day') : plural(Math.floor(-left / HOUR_MS), 'hour');
  return { text: `:rotating_light: SLA breached: kickoff should have been scheduled by ${slackDate(handoff.slaDueAt)} (${span} overdue)`, overdue: true };
}

function contextSection(label: string, value: string | null): string {
  // ~700 characters per field keeps the whole message under Slack's total-text budget.
  return `*${label}*\n${value ? escapeMrkdwn(truncate(value, 700)) : '_not filled in yet_'}`;
}

function handoffActions(view: HandoffView): ActionsBlock | undefined {
  const { handoff } = view;
  const value = handoff.id;
  const blockId = `handoff:${handoff.id}:${handoff.version}`;
  switch (handoff.status) {
    case 'pending':
      return {
        type: 'actions',
        block_id: blockId,
        elements: [
          { type: 'button', action_id: ActionIds.handoffConfirm, text: plainText('Confirm context', 75), value, style: 'primary' },
          { type: 'button', action_id: ActionIds.handoffEdit, text: plainText('Edit context', 75), value },
        ],
      };
    case 'confirmed':
      return {
        type: 'actions',
        block_id: blockId,
        elements: [
          { type: 'button', action_id: ActionIds.handoffAccept, text: plainText('Accept handoff', 75), value, style: 'primary' },
          { type: 'button', action_id: ActionIds.handoffEdit, text: plainText('Edit context', 75), value },
        ],
      };
    case 'accepted':
    case 'kickoff_scheduled':
      return {
        type: 'actions',
        block_id: blockId,
        elements: [
          {
            type: 'datepicker',
            action_id: ActionIds.handoffKickoff,
            placeholder: plainText('Schedule kickoff', 150),
            ...(handoff.kickoffAt ? { initial_date: handoff.kickoffAt.toISOString().slice(0, 10) } : {}),
          },
        ],
      };
    case 'completed':
      return undefined;
  }
}

/** The new-customer handoff, redrawn in place as it advances. Pure: data in, message out. */
export function handoffMessage(view: HandoffView): SlackMessage {
  const { handoff, account, ae, csm, now } = view;
  const clock = slaClock(handoff, now);
  const contract = `${account.contractStart ?? '?'} → ${account.contractEnd ?? '?'}`;
  const blocks: KnownBlock[] = [
    { type: 'header', text: plainText(`New customer: ${account.name}`, 150) },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: `*ARR*\n${formatCents(account.arrCents)}` },
        { type: 'mrkdwn', text: `*Segment*\n${formatSegment(account.segment)}` },
        { type: 'mrkdwn', text: `*Contract*\n${contract}` },
        { type: 'mrkdwn', text: `*Closed-won*\n${slackDate(handoff.closedWonAt)}` },
        { type: 'mrkdwn', text: `*Account executive*\n${personMention(ae)}` },
        { type: 'mrkdwn', text: `*CSM*\n${personMention(csm)}` },
      ],
    },
    sectionBlock(contextSection('Goals', handoff.goals)),
    sectionBlock(contextSection('Promises made in the sale', handoff.promises)),
    sectionBlock(contextSection('Stakeholders', handoff.stakeholders)),
    sectionBlock(contextSection('Risks', handoff.risks)),
  ];
  if (handoff.notes) blocks.push(sectionBlock(contextSection('Notes', handoff.notes)));
  const status = [statusLine[handoff.status], ...stepAttributions(view, personMention)];
  if (handoff.kickoffAt) status.push(`Kickoff on ${slackDate(handoff.kickoffAt)}`);
  blocks.push(sectionBlock(status.join(' · ')));
  blocks.push(contextBlock(clock.text));
  const actions = handoffActions(view);
  if (actions) blocks.push(actions);

  const next =
    handoff.status === 'pending'
      ? `${personName(ae)} to confirm the context`
      : handoff.status === 'confirmed'
        ? `${personName(csm)} to accept`
        : handoff.status === 'accepted'
          ? `${personName(csm)} to schedule the kickoff`
          : handoff.status === 'kickoff_scheduled'
            ? 'kickoff'
            : 'nothing: complete';
  const acted = stepAttributions(view, personName).map((line) => ` ${line}.`).join('');
  const text = `New customer ${account.name}: ARR ${formatCents(account.arrCents)}, AE ${personName(ae)}, CSM ${personName(csm)}.${acted} Next: ${next}.${clock.overdue ? ' SLA breached.' : ''}`;
  return { text: truncate(text, 3000), blocks };
}

/** The AE edits the sales context; goals, promises, stakeholders and risks are required. */
export function handoffContextModal(handoff: Handoff, accountName: string, privateMetadata: string): ModalView {
  const field = (blockId: string, label: string, initial: string | null, optional: boolean, hint: string): KnownBlock => ({
    type: 'input',
    block_id: blockId,
    optional,
    label: plainText(label, 2000),
    hint: plainText(hint, 2000),
    element: {
      type: 'plain_text_input',
      action_id: INPUT_ACTION,
      multiline: true,
      max_length: 3000,
      ...(initial ? { initial_value: truncate(initial, 3000) } : {}),
    },
  });
  return {
    type: 'modal',
    callback_id: CallbackIds.handoffContext,
    title: plainText('Handoff context', 24),
    submit: plainText('Confirm context', 24),
    close: plainText('Cancel', 24),
    private_metadata: privateMetadata,
    blocks: [
      sectionBlock(`The sales context for *${escapeMrkdwn(accountName)}*: what the CSM needs to start well. Saving confirms the handoff.`),
      field(FieldIds.goals, 'Goals', handoff.goals, false, 'What the customer wants to achieve, in their words.'),
      field(FieldIds.promises, 'Promises', handoff.promises, false, 'Anything promised in the sale: features, dates, discounts.'),
      field(FieldIds.stakeholders, 'Stakeholders', handoff.stakeholders, false, 'Champion, economic buyer, admins.'),
      field(FieldIds.risks, 'Risks', handoff.risks, false, 'What could make this customer churn.'),
      field(FieldIds.notes, 'Notes', handoff.notes, true, 'Anything else.'),
    ],
  };
}

/** To a CSM's manager when a handoff's SLA passed without a kickoff date. */
export function handoffOverdueMessage(view: HandoffView): SlackMessage {
  const clock = slaClock(view.handoff, view.now);
  const intro = `:rotating_light: The handoff of *${escapeMrkdwn(view.account.name)}* is overdue: ${clock.text.replace(/^:\w+: /, '')}. CSM ${personMention(view.csm)}, AE ${personMention(view.ae)}. You get this because you manage the team: nudge them or reassign it.`;
  return { text: truncate(`Handoff of ${view.account.name} is overdue; CSM ${personName(view.csm)}.`, 3000), blocks: [sectionBlock(intro)] };
}
