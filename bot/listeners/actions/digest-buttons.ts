import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { acknowledgeAtRisk, snoozeAtRisk } from '../../../domain/acknowledgements.ts';
import type { Actor } from '../../../domain/actors.ts';
import { type DigestPayload, digestDay, listDigestItems } from '../../../domain/digest.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { getAccountToMove } from '../../../domain/lifecycle/moves.ts';
import { listChurnReasons } from '../../../domain/churn-reasons.ts';
import { stageChoices } from '../../../domain/lifecycle/policy.ts';
import { listStages } from '../../../domain/lifecycle/stages.ts';
import { showCardTo } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPerson } from '../../person.ts';
import { type DigestButtonValue, atRiskDigest, decodeDigestValue } from '../../views/digest.ts';
import { stageMoveModal } from '../../views/stage-move.ts';
import { encodeStageMoveMetadata } from '../../stage-move-form.ts';
import { openView, replyTo } from '../../replies.ts';
import { loadDueTasks } from '../../task-lists.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

function buttonValue(action: ButtonAction): DigestButtonValue {
  const value = decodeDigestValue(action.value);
  if (!value) throw new InvalidInputError('This digest button is out of date; use `/lifeline at-risk` for the current list.');
  return value;
}

/** The page again; the morning DM's first page with its owner's due tasks above the accounts, as it was sent. */
async function renderPage(deps: BotDeps, value: DigestButtonValue, reader: Actor) {
  const now = deps.clock?.() ?? new Date();
  const scope: DigestPayload = { day: digestDay(now), ...(value.csmId ? { csmId: value.csmId } : {}) };
  const ownerId = value.withTasks && value.page === 0 ? value.csmId : null;
  const [items, tasks] = await Promise.all([
    listDigestItems(deps.db, { now, csmId: value.csmId, reader }),
    ownerId ? loadDueTasks(deps.db, { reader, ownerId, now }) : undefined,
  ]);
  return atRiskDigest(items, { day: scope.day, now, csmId: value.csmId, page: value.page, tasks });
}

/** Acknowledge or snooze, then redraw the digest page in place so everyone sees who is on it. */
function followUpAction(deps: BotDeps, apply: typeof acknowledgeAtRisk) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const value = buttonValue(action);
    const { actor } = slackPerson(context);
    await apply(deps.db, { accountId: value.accountId, actor, now: deps.clock?.() ?? new Date() });
    const page = await renderPage(deps, value, actor);
    // Digests are messages (posted or ephemeral); should one ever sit in a view, the page comes by DM instead.
    if (!(await reply.replaceOriginal(page))) await reply.showPrivately(page, { replace: false });
  };
}

export const acknowledgeAction = (deps: BotDeps) => followUpAction(deps, acknowledgeAtRisk);
export const snoozeAction = (deps: BotDeps) => followUpAction(deps, snoozeAtRisk);

/** "Move stage" from the digest: a modal with the stage choice and the reason. */
export function digestMoveStageAction(deps: BotDeps) {
  const { db } = deps;
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const value = buttonValue(action);
    const { actor } = slackPerson(context);
    const [account, stages, churnReasons] = await Promise.all([
      getAccountToMove(db, { accountId: value.accountId, actor }),
      listStages(db, { reader: actor }),
      listChurnReasons(db, { reader: actor, use: 'churn' }),
    ]);
    await openView(
      deps.triggerClient,
      reply,
      body.trigger_id,
      stageMoveModal({
        account,
        stages,
        choices: stageChoices(actor, account, stages),
        reasonRequired: false,
        churnReasons,
        privateMetadata: encodeStageMoveMetadata({ accountId: account.id, version: account.version }),
      }),
    );
  };
}

/** "Open account": the account card, only for the person who clicked, beside the digest. */
export function digestOpenAccountAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const value = buttonValue(action);
    const { actor } = slackPerson(context);
    await showCardTo(deps, replyTo(body, client), body.trigger_id, value.accountId, { replaceChooser: false, reader: actor });
  };
}

/** "Show more": the next page, only for the person who asked; a page asked for that way replaces itself. */
export function showMoreAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const value = buttonValue(action);
    const { actor } = slackPerson(context);
    const page = await renderPage(deps, value, actor);
    await reply.showPrivately(page, { replace: true });
  };
}
