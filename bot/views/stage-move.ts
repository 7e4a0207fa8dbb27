import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { Account, LifecycleStage } from '../../db/schema.ts';
import { CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import { escapeMrkdwn, plainText, sectionBlock, truncate } from './format.ts';

export interface StageMoveModalInput {
  account: Pick<Account, 'id' | 'name' | 'stageKey' | 'version'>;
  stages: LifecycleStage[];
  /** The stage picked on the card; unset when the modal itself offers the choice (from the digest). */
  toStage?: LifecycleStage | undefined;
  reasonRequired: boolean;
  /** Where the move came from, so the submission can redraw it; opaque to the builder. */
  privateMetadata: string;
}

function stageOption(stage: LifecycleStage): PlainTextOption {
  return { text: plainText(stage.name, 75), value: stage.key };
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
    blocks.push(sectionBlock(`*${escapeMrkdwn(account.name)}* is in *${escapeMrkdwn(currentName)}*. Moving it backward or to a final stage needs a reason.`));
    blocks.push({
      type: 'input',
      block_id: FieldIds.toStage,
      label: plainText('New stage', 2000),
      element: {
        type: 'static_select',
        action_id: INPUT_ACTION,
        placeholder: plainText('Choose a stage', 150),
        // Slack allows 100 options in a select.
        options: stages.filter((stage) => stage.key !== account.stageKey).slice(0, 100).map(stageOption),
      },
    });
  }
  blocks.push({
    type: 'input',
    block_id: FieldIds.reason,
    optional: !input.reasonRequired,
    label: plainText(input.reasonRequired ? 'Reason' : 'Reason (optional)', 2000),
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
