import type { WebClient } from '@slack/web-api';
import type { Db } from '../db/client.ts';
import { getAccountOverview } from '../domain/accounts/reads.ts';
import type { Actor } from '../domain/actors.ts';
import { NotFoundError } from '../domain/errors.ts';
import { stageChoices } from '../domain/lifecycle/policy.ts';
import { listStages } from '../domain/lifecycle/stages.ts';
import { listPlaybookRunsByAccountIds } from '../domain/plays/playbook-runs.ts';
import { mayOfferPlaybookStart } from '../domain/plays/task-rights.ts';
import { listOpenTasksByAccountIds } from '../domain/plays/tasks.ts';
import { mayOfferPeopleChanges } from '../domain/people/rights.ts';
import { getAccountPeople } from '../domain/people/summary.ts';
import type { BotDeps } from './deps.ts';
import { type Reply, openView, postToResponseUrl } from './replies.ts';
import { type SlackMessage, accountCard } from './views/account-card.ts';
import { accountCardModal } from './views/card-modal.ts';

/**
 * The card as `reader` may see it, with the account's open tasks they may see: refused when they may not read the
 * account (an AE's is only their own).
 */
export async function renderAccountCard(db: Db, accountId: string, options: { shareable: boolean; reader: Actor; now?: Date }): Promise<SlackMessage> {
  const now = options.now ?? new Date();
  // The tasks are read beside the overview, which decides whether the reader may see the card at all.
  const [overview, stages, tasks, plays] = await Promise.all([
    getAccountOverview(db, { accountId, reader: options.reader }),
    listStages(db, { reader: options.reader }),
    listOpenTasksByAccountIds(db, { accountIds: [accountId], reader: options.reader }),
    listPlaybookRunsByAccountIds(db, { accountIds: [accountId], reader: options.reader, runningOnly: true }),
  ]);
  if (!overview) {
    throw new NotFoundError('That account no longer exists in Lifeline. Search again with `/lifeline account <name>`.');
  }
  const people = await getAccountPeople(db, { accountId, reader: options.reader, now });
  // The select offers only the moves this reader may make; the move itself still checks, with the same rule.
  return accountCard(overview, {
    stages,
    choices: stageChoices(options.reader, overview.account, stages),
    shareable: options.shareable,
    tasks,
    people,
    canSetSentiment: mayOfferPeopleChanges(options.reader, overview.account),
    plays,
    offerPlaybookStart: mayOfferPlaybookStart(options.reader, overview.account),
    now,
  });
}

/**
 * Redraws the card the click came from, where it is: an ephemeral or posted card through the click's response_url
 * (which works where the bot is not a member, unlike chat.update), a card in a modal with views.update. Only an
 * ephemeral card offers to share itself. `notice` (e.g. who moved the account meanwhile) is shown with it in a
 * modal, and told beside it elsewhere.
 */
export async function refreshAccountCard(db: Db, client: WebClient, reply: Reply, accountId: string, reader: Actor, notice?: string): Promise<void> {
  const { surface } = reply;
  const card = await renderAccountCard(db, accountId, { shareable: surface.kind === 'ephemeral', reader });
  if (surface.kind === 'modal') {
    await client.views.update({ view_id: surface.viewId, view: accountCardModal(card, notice) });
    return;
  }
  if (notice) await reply.tell(notice);
  if (!(await reply.replaceOriginal(card))) await reply.showPrivately(card, { replace: false });
}

/**
 * Redraws a card from a form's note of where it is (forms have no response_url of their own): a card in a message
 * through the response_url of the click that opened the form, a card in a modal with views.update.
 */
export async function redrawCard(
  db: Db,
  client: WebClient,
  accountId: string,
  where: { responseUrl?: string | undefined; shareable?: boolean | undefined; viewId?: string | undefined },
  reader: Actor,
): Promise<void> {
  if (where.viewId) {
    const card = await renderAccountCard(db, accountId, { shareable: false, reader });
    await client.views.update({ view_id: where.viewId, view: accountCardModal(card) });
  } else if (where.responseUrl) {
    const card = await renderAccountCard(db, accountId, { shareable: where.shareable ?? false, reader });
    await postToResponseUrl(where.responseUrl, { replace_original: true, text: card.text, blocks: card.blocks });
  }
}

/**
 * Shows a card to the person who clicked, on the surface they clicked on: in a conversation, an ephemeral card
 * (replacing an ephemeral chooser, beside anything else); on the Home tab or in a modal, which have no
 * response_url, a modal with the card, opened at once with the click's trigger id.
 */
export async function showCardTo(
  deps: Pick<BotDeps, 'db' | 'triggerClient'>,
  reply: Reply,
  triggerId: string,
  accountId: string,
  options: { replaceChooser: boolean; reader: Actor },
): Promise<void> {
  const { surface } = reply;
  const inConversation = surface.kind === 'message' || surface.kind === 'ephemeral';
  const card: SlackMessage = await renderAccountCard(deps.db, accountId, { shareable: inConversation, reader: options.reader });
  if (inConversation) {
    await reply.showPrivately(card, { replace: options.replaceChooser });
    return;
  }
  await openView(deps.triggerClient, reply, triggerId, accountCardModal(card));
}
