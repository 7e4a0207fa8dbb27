import { randomBytes } from 'node:crypto';
import type { OverflowAction, ViewOutput } from '@slack/bolt';

// The pieces of Slack payloads a task action needs beyond slack-requests.ts: the overflow menu's click as it
// appears in `actions`, and the state of the inputs a task form submits.

function actionTs(): string {
  return `${Math.floor(Date.now() / 1000)}.${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
}

/** A choice in an overflow menu: Slack sends the option chosen, its block and action ids, and no `value` of its own. */
export function clickedOverflow(input: { actionId: string; blockId: string; value: string; text?: string }): OverflowAction {
  return {
    type: 'overflow',
    action_id: input.actionId,
    block_id: input.blockId,
    selected_option: { text: { type: 'plain_text', text: input.text ?? input.value, emoji: true }, value: input.value },
    action_ts: actionTs(),
  };
}

type StateValue = ViewOutput['state']['values'][string][string];

/** A plain text input's state; an optional one left empty comes back with `value: null`. */
export function typedText(value: string | null): StateValue {
  return { type: 'plain_text_input', value };
}

export function pickedDate(day: string | null): StateValue {
  return { type: 'datepicker', selected_date: day };
}

export function pickedUser(slackUserId: string | null): StateValue {
  return { type: 'users_select', selected_user: slackUserId };
}

/** A static select's state in a form: the option chosen, or none. */
export function pickedOption(value: string | null, text = value ?? ''): StateValue {
  return { type: 'static_select', selected_option: value === null ? null : { text: { type: 'plain_text', text, emoji: true }, value } };
}
