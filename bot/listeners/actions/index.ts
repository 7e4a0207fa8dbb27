import type { App, BlockAction, ButtonAction, DatepickerAction, OverflowAction, StaticSelectAction } from '@slack/bolt';
import type { BotDeps } from '../../deps.ts';
import { ActionIds } from '../../ids.ts';
import { openAccountAction, shareCardAction } from './card-buttons.ts';
import { acknowledgeAction, digestMoveStageAction, digestOpenAccountAction, showMoreAction, snoozeAction } from './digest-buttons.ts';
import { acceptHandoffAction, confirmHandoffAction, editHandoffAction, kickoffDateAction } from './handoff-buttons.ts';
import { setSentimentAction } from './sentiment-button.ts';
import { recordOutcomeAction, renewalCallAction } from './renewal-buttons.ts';
import { stageSelectAction } from './stage-select.ts';
import { taskMenuAction } from './task-menu.ts';
import { startPlaybookAction } from './playbook-start.ts';
import { acceptLeadAction, declineLeadAction, qualifyLeadAction } from './lead-buttons.ts';

export function register(app: App, deps: BotDeps): void {
  const button = (actionId: string, handler: Parameters<typeof app.action<BlockAction<ButtonAction>>>[1]) =>
    app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: actionId }, handler);
  app.action<BlockAction<StaticSelectAction>>({ type: 'block_actions', action_id: ActionIds.stageSelect }, stageSelectAction(deps));
  button(ActionIds.openAccount, openAccountAction(deps));
  button(ActionIds.shareCard, shareCardAction(deps));
  button(ActionIds.setSentiment, setSentimentAction(deps));
  button(ActionIds.handoffConfirm, confirmHandoffAction(deps));
  button(ActionIds.handoffEdit, editHandoffAction(deps));
  button(ActionIds.handoffAccept, acceptHandoffAction(deps));
  app.action<BlockAction<DatepickerAction>>({ type: 'block_actions', action_id: ActionIds.handoffKickoff }, kickoffDateAction(deps));
  button(ActionIds.digestAcknowledge, acknowledgeAction(deps));
  button(ActionIds.digestSnooze, snoozeAction(deps));
  button(ActionIds.digestMoveStage, digestMoveStageAction(deps));
  button(ActionIds.digestOpenAccount, digestOpenAccountAction(deps));
  button(ActionIds.digestShowMore, showMoreAction(deps));
  app.action<BlockAction<OverflowAction>>({ type: 'block_actions', action_id: ActionIds.taskMenu }, taskMenuAction(deps));
  button(ActionIds.startPlaybook, startPlaybookAction(deps));
  button(ActionIds.renewalCallCommit, renewalCallAction(deps, 'commit'));
  button(ActionIds.renewalCallLikely, renewalCallAction(deps, 'likely'));
  button(ActionIds.renewalCallAtRisk, renewalCallAction(deps, 'at_risk'));
  button(ActionIds.renewalCallChurning, renewalCallAction(deps, 'churning'));
  button(ActionIds.renewalRecordOutcome, recordOutcomeAction(deps));
  button(ActionIds.leadQualify, qualifyLeadAction(deps));
  button(ActionIds.leadAccept, acceptLeadAction(deps));
  button(ActionIds.leadDecline, declineLeadAction(deps));
}
