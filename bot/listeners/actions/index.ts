import type { App, BlockAction, ButtonAction, StaticSelectAction } from '@slack/bolt';
import type { BotDeps } from '../../deps.ts';
import { ActionIds } from '../../ids.ts';
import { openAccountAction, shareCardAction } from './card-buttons.ts';
import { stageSelectAction } from './stage-select.ts';

export function register(app: App, deps: BotDeps): void {
  app.action<BlockAction<StaticSelectAction>>({ type: 'block_actions', action_id: ActionIds.stageSelect }, stageSelectAction(deps));
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ActionIds.openAccount }, openAccountAction(deps));
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ActionIds.shareCard }, shareCardAction(deps));
}
