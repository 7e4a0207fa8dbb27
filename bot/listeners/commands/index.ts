import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps.ts';
import { lifelineCommand } from './lifeline.ts';

export function register(app: App, deps: BotDeps): void {
  app.command('/lifeline', lifelineCommand(deps));
}
