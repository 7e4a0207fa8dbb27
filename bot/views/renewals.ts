import type { ActionsBlock, Button, KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { Account, ChurnReason, Renewal, RenewalCall, RenewalOutcome } from '../../db/schema.ts';
import { renewalCallKinds, renewalOutcomeKinds } from '../../db/schema.ts';
import { addDaysToDay } from '../../domain/dates.ts';
import { renewalCallLabels } from '../../domain/renewals/calls.ts';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, RenewalCallActions, renewalActionsBlockId, renewalNoteBlockId } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import { contextBlock, daysUntil, escapeMrkdwn, formatCents, plainText, plural, relativeDays, sectionBlock, slackDate, truncate } from './format.ts';

// A renewal as Slack shows it: the checkpoint message (and App Home's renewal list) with the forecast call buttons,
// the current call marked, the last calls in a context line, and "Record outcome"; once closed, its outcome instead.

/** Calls shown in the history line: the latest first. */
export const SHOWN_CALLS = 3;
// Slack: section text 3000, context element 3000. A note is at most 2000 characters (domain); quoted shorter here.
const CURRENT_NOTE_MAX = 1500;
const HISTORY_NOTE_MAX = 600;

export interface RenewalView {
  renewal: Pick<Renewal, 'id' | 'contractEnd' | 'status'>;
  account: Pick<Account, 'id' | 'name' | 'arrCents'>;
  /** Every call, oldest first (domain `getRenewalDesk`). */
  calls: readonly Pick<RenewalCall, 'call' | 'note' | 'calledByLabel' | 'calledAt'>[];
  outcome: Pick<RenewalOutcome, 'outcome' | 'newContractEnd' | 'newArrCents' | 'previousArrCents' | 'note' | 'recordedByLabel' | 'recordedAt'> | null;
  /** The churn reason's label, when the outcome names one. */
  churnReasonLabel?: string | null;
  now: Date;
}

const outcomeLabels: Record<(typeof renewalOutcomeKinds)[number], string> = {
  renewed: 'Renewed',
  downsell: 'Renewed with a downsell',
  churned: 'Churned',
};

function quoted(note: string | null, max: number): string {
  return note ? `: “${escapeMrkdwn(truncate(note, max))}”` : '';
}

function callLine(call: RenewalView['calls'][number], noteMax: number): string {
  return `*${renewalCallLabels[call.call]}* by ${escapeMrkdwn(truncate(call.calledByLabel, 80))} ${slackDate(call.calledAt)}${quoted(call.note, noteMax)}`;
}

/** Whether a renewal still takes calls and an outcome. */
export function renewalIsOpen(view: Pick<RenewalView, 'renewal' | 'outcome'>): boolean {
  return view.outcome === null && (view.renewal.status === 'open' || view.renewal.status === 'upcoming');
}

/** The call buttons (the current call marked and primary) and "Record outcome", in one actions block. */
export function renewalButtons(renewalId: string, current: RenewalCall['call'] | null): ActionsBlock {
  const calls: Button[] = renewalCallKinds.map((call) => ({
    type: 'button',
    action_id: RenewalCallActions[call],
    text: plainText(call === current ? `✓ ${renewalCallLabels[call]}` : renewalCallLabels[call], 75),
    value: renewalId,
    ...(call === current ? { style: 'primary' as const } : {}),
  }));
  return {
    type: 'actions',
    block_id: renewalActionsBlockId(renewalId),
    elements: [...calls, { type: 'button', action_id: ActionIds.renewalRecordOutcome, text: plainText('Record outcome…', 75), value: renewalId }],
  };
}

/** The blocks about one renewal below its headline: the call, the note input and buttons, the history; or the outcome. */
export function renewalBlocks(view: RenewalView): KnownBlock[] {
  const { renewal, calls, outcome } = view;
  if (!renewalIsOpen(view)) {
    if (!outcome) return [contextBlock(`This renewal was closed (${renewal.status}) outside Lifeline's outcome form.`)];
    const terms =
      outcome.outcome === 'churned'
        ? `${formatCents(outcome.previousArrCents)} ARR lost${view.churnReasonLabel ? ` (${escapeMrkdwn(truncate(view.churnReasonLabel, 100))})` : ''}`
        : `ARR ${formatCents(outcome.previousArrCents)} → ${formatCents(outcome.newArrCents)}, contract to ${outcome.newContractEnd ?? 'unknown'}`;
    return [
      sectionBlock(
        `*Outcome: ${outcomeLabels[outcome.outcome]}*, ${terms}. Recorded by ${escapeMrkdwn(truncate(outcome.recordedByLabel, 80))} ${slackDate(outcome.recordedAt)}${quoted(outcome.note, CURRENT_NOTE_MAX)}`,
      ),
    ];
  }
  const latest = calls.at(-1);
  const blocks: KnownBlock[] = [
    sectionBlock(latest ? `Forecast call: ${callLine(latest, CURRENT_NOTE_MAX)}` : '*No forecast call yet.* Call it below: commit, likely, at risk or churning.'),
    {
      type: 'input',
      block_id: renewalNoteBlockId(renewal.id),
      optional: true,
      label: plainText('Note with your call (optional)', 2000),
      element: { type: 'plain_text_input', action_id: INPUT_ACTION, max_length: 2000, placeholder: plainText('e.g. Budget approved, order form with legal', 150) },
    },
    renewalButtons(renewal.id, latest?.call ?? null),
  ];
  const earlier = calls.slice(0, -1).reverse();
  if (earlier.length > 0) {
    const shown = earlier.slice(0, SHOWN_CALLS);
    const elements = shown.map((call) => ({ type: 'mrkdwn' as const, text: `Earlier: ${callLine(call, HISTORY_NOTE_MAX)}` }));
    if (earlier.length > SHOWN_CALLS) elements.push({ type: 'mrkdwn', text: `…and ${plural(earlier.length - SHOWN_CALLS, 'earlier call')}: the GraphQL field \`Renewal.calls\` has them all.` });
    blocks.push({ type: 'context', elements });
  }
  return blocks;
}

export interface RenewalMessageInput extends RenewalView {
  /** Why this message was sent (the checkpoint), when known; a redraw after a click has none. */
  reason?: string | null;
}

/** The renewal checkpoint message, and the same message redrawn after a call or an outcome. */
export function renewalMessage(input: RenewalMessageInput): SlackMessage {
  const { account, renewal, now } = input;
  const daysLeft = daysUntil(renewal.contractEnd, now);
  const when = daysLeft >= 0 ? `renews in ${plural(daysLeft, 'day')}` : `was up for renewal ${relativeDays(daysLeft)}`;
  const head = `:calendar: *${escapeMrkdwn(account.name)}* ${when} (${renewal.contractEnd}), ARR ${formatCents(account.arrCents)}.`;
  const blocks: KnownBlock[] = [
    sectionBlock(truncate(`${head}${input.reason ? `\n${escapeMrkdwn(input.reason)}` : ''}`, 3000)),
    ...renewalBlocks(input),
    { type: 'actions', block_id: `renewal:${account.id}`, elements: [{ type: 'button', action_id: ActionIds.openAccount, text: plainText('Open account', 75), value: account.id }] },
  ];
  const latest = input.calls.at(-1);
  const state = input.outcome
    ? ` Outcome: ${outcomeLabels[input.outcome.outcome]}.`
    : latest
      ? ` Forecast call: ${renewalCallLabels[latest.call]} by ${latest.calledByLabel}.`
      : ' No forecast call yet.';
  return { text: truncate(`${account.name} ${when} (${renewal.contractEnd}).${input.reason ? ` ${input.reason}` : ''}${state}`, 3000), blocks };
}

export interface RenewalOutcomeModalInput {
  renewal: Pick<Renewal, 'id' | 'contractEnd'>;
  account: Pick<Account, 'name' | 'arrCents'>;
  /** Active churn and contraction reasons (domain `listChurnReasons`). */
  churnReasons: readonly Pick<ChurnReason, 'key' | 'label'>[];
  privateMetadata: string;
}

// Slack allows 100 options in a select.
const MAX_SELECT_OPTIONS = 100;

/** The outcome form: every input but the outcome optional in Slack; the submission is checked by the domain. */
export function renewalOutcomeModal(input: RenewalOutcomeModalInput): ModalView {
  const { renewal, account } = input;
  const outcomeOptions: PlainTextOption[] = renewalOutcomeKinds.map((kind) => ({ text: plainText(outcomeLabels[kind], 75), value: kind }));
  const reasons = input.churnReasons.slice(0, MAX_SELECT_OPTIONS).map((reason) => ({ text: plainText(reason.label, 75), value: reason.key }));
  const blocks: KnownBlock[] = [
    sectionBlock(
      `How did *${escapeMrkdwn(account.name)}*'s renewal of ${renewal.contractEnd} end? ARR up for renewal: ${formatCents(account.arrCents)}. A renewal needs the new contract end and ARR; a churn needs its reason.`,
    ),
    {
      type: 'input',
      block_id: FieldIds.outcome,
      label: plainText('Outcome', 2000),
      element: { type: 'radio_buttons', action_id: INPUT_ACTION, options: outcomeOptions },
    },
    {
      type: 'input',
      block_id: FieldIds.newContractEnd,
      optional: true,
      label: plainText('New contract end (renewed or downsell)', 2000),
      element: { type: 'datepicker', action_id: INPUT_ACTION, initial_date: addDaysToDay(renewal.contractEnd, 365) },
    },
    {
      type: 'input',
      block_id: FieldIds.newArrCents,
      optional: true,
      label: plainText('New ARR in dollars (renewed or downsell)', 2000),
      element: { type: 'number_input', action_id: INPUT_ACTION, is_decimal_allowed: true, min_value: '0', initial_value: String(account.arrCents / 100) },
    },
  ];
  if (reasons.length > 0) {
    blocks.push({
      type: 'input',
      block_id: FieldIds.churnReasonKey,
      optional: true,
      label: plainText('Churn or contraction reason (needed for churned)', 2000),
      element: { type: 'static_select', action_id: INPUT_ACTION, placeholder: plainText('Choose a reason', 150), options: reasons },
    });
  }
  blocks.push({
    type: 'input',
    block_id: FieldIds.note,
    optional: true,
    label: plainText('Note', 2000),
    element: { type: 'plain_text_input', action_id: INPUT_ACTION, multiline: true, max_length: 2000 },
  });
  return {
    type: 'modal',
    callback_id: CallbackIds.renewalOutcome,
    title: plainText('Renewal outcome', 24),
    submit: plainText('Record', 24),
    close: plainText('Cancel', 24),
    private_metadata: input.privateMetadata,
    blocks,
  };
}
