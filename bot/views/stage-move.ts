import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { Account, ChurnReason, LifecycleStage } from '../../db/schema.ts';
import { CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import { moveNeedsChurnReason, moveNeedsReason } from '../../domain/lifecycle/policy.ts';
import { escapeMrkdwn, plainText, sectionBlock, truncate } from './format.ts';

export interface StageMoveModalInput {
  account: Pick<Account, 'id' | 'name' | 'stageKey' | 'version'>;
  stages: LifecycleStage[];
  /** The stage picked on the card; unset when the modal itself offers the choice (from the digest). */
  toStage?: LifecycleStage | undefined;
  /** Without `toStage`: the stages the person may move the account to (domain `stageChoices`), all the select offers. */
  choices?: LifecycleStage[] | undefined;
  reasonRequired: boolean;
  /** The churn reasons that may be chosen (domain `listChurnReasons` for churn): offered when the move may be to Churned. */
  churnReasons?: ChurnReason[] | undefined;
  /** Where the move came from, so the submission can redraw it; opaque to the builder. */
  privateMetadata: string;
}

function stageOption(stage: LifecycleStage): PlainTextOption {
  return { text: plainText(stage.name, 75), value: stage.key };
}

// Slack allows 100 options in a select.
const MAX_SELECT_OPTIONS = 100;

function namesList(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/**
 * Under a stage select: which of its choices ask for a reason (backward, or to a final stage), so nobody is
 * surprised by the form. Undefined when none does.
 */
export function reasonNeededLine(fromKey: string, choices: readonly LifecycleStage[], stages: readonly LifecycleStage[]): string | undefined {
  const needing = choices.filter((stage) => moveNeedsReason(stages, fromKey, stage.key));
  if (needing.length === 0) return undefined;
  const names = needing.map((stage) => escapeMrkdwn(truncate(stage.name, 75)));
  const subject = needing.length === choices.length ? 'Every move here' : `Moving to ${namesList(names)}`;
  return truncate(`${subject} asks for a reason, so the team knows why.`, 3000);
}

/** The confirmation (and reason) a move needs before it happens. Pure: data in, view out. */
export function stageMoveModal(input: StageMoveModalInput): ModalView {
  const { account, stages, toStage } = input;
  const current = stages.find((stage) => stage.key === account.stageKey);
  const currentName = current?.name ?? account.stageKey;
  const blocks: KnownBlock[] = [];
  if (toStage) {
    const backward = current !== undefined && toStage.position < current.position;
    const why = toStage.terminal
      ? `${escapeMrkdwn(toStage.name)} is final: the account leaves every active list.`
      : backward
        ? 'This moves it backward in the lifecycle.'
        : '';
    blocks.push(
      sectionBlock(
        `Move *${escapeMrkdwn(account.name)}* from *${escapeMrkdwn(currentName)}* to *${escapeMrkdwn(toStage.name)}*? ${why}${input.reasonRequired ? ' Say why, so the team knows.' : ''}`,
      ),
    );
  } else {
    const choices = (input.choices ?? []).slice(0, MAX_SELECT_OPTIONS);
    if (choices.length === 0) {
      return noticeModal('Move stage', `There is no stage you may move ${account.name} to from ${currentName}. Ask its CSM or a manager.`);
    }
    const note = reasonNeededLine(account.stageKey, choices, stages);
    blocks.push(sectionBlock(`*${escapeMrkdwn(account.name)}* is in *${escapeMrkdwn(currentName)}*.${note ? ` ${note}` : ''}`));
    blocks.push({
      type: 'input',
      block_id: FieldIds.toStage,
      label: plainText('New stage', 2000),
      element: {
        type: 'static_select',
        action_id: INPUT_ACTION,
        placeholder: plainText('Choose a stage', 150),
        options: choices.map(stageOption),
      },
    });
  }
  // A move to Churned names why the customer left from the admin-edited list; the text below is then optional.
  const toChurned = toStage ? moveNeedsChurnReason(toStage.key) : (input.choices ?? []).some((stage) => moveNeedsChurnReason(stage.key));
  const churnReasons = (input.churnReasons ?? []).slice(0, MAX_SELECT_OPTIONS);
  if (toChurned && churnReasons.length > 0) {
    blocks.push({
      type: 'input',
      block_id: FieldIds.churnReasonKey,
      // Required only when the move is to Churned; from a stage choice the domain refuses a churn without one.
      optional: !toStage,
      label: plainText(toStage ? 'Why the customer left' : 'Why the customer left (when moving to Churned)', 2000),
      element: {
        type: 'static_select',
        action_id: INPUT_ACTION,
        placeholder: plainText('Choose a churn reason', 150),
        options: churnReasons.map((reason) => ({ text: plainText(reason.label, 75), value: reason.key })),
      },
    });
  }
  const textRequired = input.reasonRequired && !(toStage && moveNeedsChurnReason(toStage.key));
  blocks.push({
    type: 'input',
    block_id: FieldIds.reason,
    optional: !textRequired,
    label: plainText(textRequired ? 'Reason' : 'Reason (optional)', 2000),
    element: {
      type: 'plain_text_input',
      action_id: INPUT_ACTION,
      multiline: true,
      max_length: 2000,
      placeholder: plainText('e.g. champion left, relaunching onboarding with the new team', 150),
    },
  });
  return {
    type: 'modal',
    callback_id: CallbackIds.stageMove,
    // Modal title and buttons: 24 characters at most.
    title: plainText(toStage?.terminal ? 'Confirm churn' : 'Move stage', 24),
    submit: plainText(toStage ? truncate(`Move to ${toStage.name}`, 24) : 'Move', 24),
    close: plainText('Cancel', 24),
    private_metadata: input.privateMetadata,
    blocks,
  };
}

/** A modal that only explains (a refused submission), replacing the form. */
export function noticeModal(title: string, text: string): ModalView {
  return { type: 'modal', title: plainText(title, 24), close: plainText('Close', 24), blocks: [sectionBlock(escapeMrkdwn(text))] };
}
