import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { getAccount } from '../../../domain/accounts.ts';
import { acknowledgeAtRisk, snoozeAtRisk } from '../../../domain/acknowledgements.ts';
import { type Actor, actorFromUser } from '../../../domain/actors.ts';
import { type DigestPayload, digestDay, listDigestItems } from '../../../domain/digest.ts';
import { InvalidInputError, NotFoundError } from '../../../domain/errors.ts';
import { listStages, requireMoveRights } from '../../../domain/lifecycle.ts';
import { requireUserBySlackId } from '../../../domain/users.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { type DigestButtonValue, atRiskDigest, decodeDigestValue } from '../../views/digest.ts';
import { stageMoveModal } from '../../views/stage-move.ts';
import { encodeStageMoveMetadata } from '../views/stage-move.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

function buttonValue(action: ButtonAction): DigestButtonValue {
  const value = decodeDigestValue(action.value);
  if (!value) throw new InvalidInputError('This digest button is out of date; use `/lifeline at-risk` for the current list.');
  return value;
}

async function renderPage(deps: BotDeps, value: DigestButtonValue, reader: Actor) {
  const now = deps.clock?.() ?? new Date();
  const scope: DigestPayload = { day: digestDay(now), ...(value.csmId ? { csmId: value.csmId } : {}) };
  const items = await listDigestItems(deps.db, { now, csmId: value.csmId, reader });
  return atRiskDigest(items, { day: scope.day, now, csmId: value.csmId, page: value.page });
}

/** Acknowledge or snooze, then redraw the digest page in place so everyone sees who is on it. */
function followUpAction(deps: BotDeps, apply: typeof acknowledgeAtRisk) {
  return async ({ ack, body, action, respond }: ButtonArgs): Promise<void> => {
    await ack();
    const value = buttonValue(action);
    const user = await requireUserBySlackId(deps.db, body.user.id);
    const actor = actorFromUser(user);
    await apply(deps.db, { accountId: value.accountId, actor, now: deps.clock?.() ?? new Date() });
    const page = await renderPage(deps, value, actor);
    await respond({ replace_original: true, text: page.text, blocks: page.blocks });
  };
}

export const acknowledgeAction = (deps: BotDeps) => followUpAction(deps, acknowledgeAtRisk);
export const snoozeAction = (deps: BotDeps) => followUpAction(deps, snoozeAtRisk);

/** "Move stage" from the digest: a modal with the stage choice and the reason. */
export function digestMoveStageAction({ db }: BotDeps) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const value = buttonValue(action);
    const user = await requireUserBySlackId(db, body.user.id);
    const [account, stages] = await Promise.all([getAccount(db, value.accountId), listStages(db)]);
    if (!account) throw new NotFoundError('That account no longer exists in Lifeline.');
    // Refused here as the move itself would be, before a form asks someone who cannot move it for a reason.
    requireMoveRights(actorFromUser(user), account);
    await client.views.open({
      trigger_id: body.trigger_id,
      view: stageMoveModal({
        account,
        stages,
        reasonRequired: false,
        privateMetadata: encodeStageMoveMetadata({ accountId: account.id, version: account.version }),
      }),
    });
  };
}

/** "Open account": the account card, only for the person who clicked. */
export function digestOpenAccountAction({ db }: BotDeps) {
  return async ({ ack, body, action, respond }: ButtonArgs): Promise<void> => {
    await ack();
    const value = buttonValue(action);
    const user = await requireUserBySlackId(db, body.user.id);
    const card = await renderAccountCard(db, value.accountId, { shareable: true, reader: actorFromUser(user) });
    await respond({ response_type: 'ephemeral', replace_original: false, ...card });
  };
}

/** "Show more": the next page, only for the person who asked; a page asked for that way replaces itself. */
export function showMoreAction(deps: BotDeps) {
  return async ({ ack, body, action, respond }: ButtonArgs): Promise<void> => {
    await ack();
    const value = buttonValue(action);
    const user = await requireUserBySlackId(deps.db, body.user.id);
    const page = await renderPage(deps, value, actorFromUser(user));
    await respond({ response_type: 'ephemeral', replace_original: body.container.is_ephemeral === true, text: page.text, blocks: page.blocks });
  };
}
