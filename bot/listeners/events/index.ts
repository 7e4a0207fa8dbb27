import type { AllMiddlewareArgs, App, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { BotDeps } from '../../deps.ts';
import { publishHome } from '../../home-tab.ts';
import { linkedSlackPerson } from '../../person.ts';
import { sectionBlock } from '../../views/format.ts';

type HomeArgs = SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs;

/** App Home: publish the person's book and tasks each time they open the tab (Bolt has already acked the event). */
export function appHomeOpened(deps: BotDeps) {
  return async ({ event, client, context }: HomeArgs): Promise<void> => {
    if (event.tab !== 'home') return;
    const person = linkedSlackPerson(context);
    if (!person) {
      await client.views.publish({
        user_id: event.user,
        view: {
          type: 'home',
          blocks: [sectionBlock('Your Slack account is not linked to Lifeline yet, so there is no book to show. Ask a Lifeline admin to link your Slack user to your Lifeline user.')],
        },
      });
      return;
    }
    await publishHome(deps, client, event.user, person);
  };
}

export function register(app: App, deps: BotDeps): void {
  app.event('app_home_opened', appHomeOpened(deps));
}
