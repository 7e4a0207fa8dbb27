import type { HomeView } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { getBook } from '../domain/accounts/book.ts';
import { listStages } from '../domain/lifecycle/stages.ts';
import type { BotDeps } from './deps.ts';
import type { SlackPerson } from './person.ts';
import { loadOwnTasks } from './task-lists.ts';
import { contextBlock } from './views/format.ts';
import { appHome } from './views/home.ts';

// "My tasks" shows ten: reading a page of that size is all App Home needs besides the counts.
const HOME_TASK_PAGE = 10;

/** The person's App Home: their book and their own tasks, as they may see them. */
export async function renderHome(deps: Pick<BotDeps, 'db' | 'clock' | 'renewalWindowDays'>, person: SlackPerson): Promise<HomeView> {
  const { db, renewalWindowDays } = deps;
  const now = deps.clock?.() ?? new Date();
  const [book, stages, tasks] = await Promise.all([
    getBook(db, { reader: person.actor, now, renewalWindowDays }),
    listStages(db, { reader: person.actor }),
    loadOwnTasks(db, { reader: person.actor, ownerId: person.user.id, now, first: HOME_TASK_PAGE }),
  ]);
  return appHome({ user: person.user, book, stages, now, renewalWindowDays, tasks });
}

/**
 * Publishes the person's App Home, with `notice` (what their last action did) above it when given. The notice
 * stays until the tab is next drawn, when they open it again.
 */
export async function publishHome(
  deps: Pick<BotDeps, 'db' | 'clock' | 'renewalWindowDays'>,
  client: WebClient,
  slackUserId: string,
  person: SlackPerson,
  notice?: string,
): Promise<void> {
  const view = await renderHome(deps, person);
  await client.views.publish({ user_id: slackUserId, view: notice ? { ...view, blocks: [contextBlock(notice), ...view.blocks] } : view });
}
