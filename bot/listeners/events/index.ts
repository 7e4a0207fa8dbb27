import type { AllMiddlewareArgs, App, SlackEventMiddlewareArgs } from '@slack/bolt';
import { getBook } from '../../../domain/accounts/book.ts';
import { listStages } from '../../../domain/lifecycle/stages.ts';
import type { BotDeps } from '../../deps.ts';
import { linkedSlackPerson } from '../../person.ts';
import { appHome } from '../../views/home.ts';
import { sectionBlock } from '../../views/format.ts';

type HomeArgs = SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs;

/** App Home: publish the person's book each time they open the tab (Bolt has already acked the event). */
export function appHomeOpened({ db, clock, renewalWindowDays }: BotDeps) {
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
    const now = clock?.() ?? new Date();
    const [book, stages] = await Promise.all([getBook(db, { reader: person.actor, now, renewalWindowDays }), listStages(db, { reader: person.actor })]);
    await client.views.publish({ user_id: event.user, view: appHome({ user: person.user, book, stages, now, renewalWindowDays }) });
  };
}

export function register(app: App, deps: BotDeps): void {
  app.event('app_home_opened', appHomeOpened(deps));
}
