import type { HomeView } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { getBook } from '../domain/accounts/book.ts';
import { listStages } from '../domain/lifecycle/stages.ts';
import { listRenewalCalls } from '../domain/renewals/calls.ts';
import { getLatestRenewalsByAccountIds } from '../domain/renewals/queries.ts';
import type { BotDeps } from './deps.ts';
import type { SlackPerson } from './person.ts';
import { loadOwnTasks } from './task-lists.ts';
import { contextBlock } from './views/format.ts';
import { type HomeRenewal, HOME_RENEWALS_WITH_BUTTONS, appHome } from './views/home.ts';

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
  return appHome({ user: person.user, book, stages, now, renewalWindowDays, tasks, renewals: await homeRenewals(deps, person, book.renewals.slice(0, HOME_RENEWALS_WITH_BUTTONS)) });
}

/** The open renewals of the first accounts App Home lists as renewing, with each one's current forecast call. */
async function homeRenewals(deps: Pick<BotDeps, 'db'>, person: SlackPerson, accounts: readonly { id: string }[]): Promise<Map<string, HomeRenewal>> {
  const renewals = (await getLatestRenewalsByAccountIds(deps.db, { accountIds: accounts.map((account) => account.id), reader: person.actor })).filter(
    (renewal) => renewal.status === 'open' || renewal.status === 'upcoming',
  );
  const calls = await listRenewalCalls(deps.db, { renewalIds: renewals.map((renewal) => renewal.id), reader: person.actor });
  const current = new Map(calls.map((call) => [call.renewalId, call]));
  return new Map(renewals.map((renewal) => [renewal.accountId, { renewalId: renewal.id, current: current.get(renewal.id) ?? null }]));
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
