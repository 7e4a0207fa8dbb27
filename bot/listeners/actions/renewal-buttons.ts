import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { RenewalCallKind } from '../../../db/schema.ts';
import { listChurnReasons } from '../../../domain/churn-reasons.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { callRenewal, renewalCallLabels } from '../../../domain/renewals/calls.ts';
import { getRenewalDesk } from '../../../domain/renewals/queries.ts';
import type { BotDeps } from '../../deps.ts';
import { INPUT_ACTION, renewalNoteBlockId } from '../../ids.ts';
import { field } from '../../payload.ts';
import { slackPerson } from '../../person.ts';
import { redrawRenewal, renewalWhere } from '../../renewal-surfaces.ts';
import { openView, replyTo } from '../../replies.ts';
import { renewalOutcomeModal } from '../../views/renewals.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

function renewalIdOf(action: ButtonAction): string {
  if (!action.value) throw new InvalidInputError('This renewal button is out of date; `/lifeline renewals` lists your renewals.');
  return action.value;
}

/** The note typed beside the call buttons: a message sends its inputs' state with the click, a view in `view.state`. */
function typedNote(body: BlockAction, renewalId: string): string | null {
  const state = body.view ? field(body.view, 'state') : field(body, 'state');
  const value = field(field(field(field(state, 'values'), renewalNoteBlockId(renewalId)), INPUT_ACTION), 'value');
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/**
 * A forecast call button (Commit, Likely, At risk, Churning), on the checkpoint message, an ephemeral copy of it or
 * App Home: the call is recorded at once, with the note typed beside it, and the renewal redrawn where it was.
 */
export function renewalCallAction(deps: BotDeps, call: RenewalCallKind) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const person = slackPerson(context);
    const renewalId = renewalIdOf(action);
    const result = await callRenewal(deps.db, { renewalId, call, note: typedNote(body, renewalId), actor: person.actor, now: deps.clock?.() ?? new Date() });
    const notice = `${result.replayed ? 'Already called' : 'Called'} ${result.account.name}'s renewal *${renewalCallLabels[call]}*.`;
    if (!(await redrawRenewal(deps, client, renewalWhere(reply.surface), renewalId, person, notice))) await reply.tell(notice);
  };
}

/** "Record outcome…": the outcome form, opened only for someone who may record it. */
export function recordOutcomeAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const { actor } = slackPerson(context);
    const renewalId = renewalIdOf(action);
    const [desk, churnReasons] = await Promise.all([
      getRenewalDesk(deps.db, { renewalId, reader: actor, toAct: 'record the outcome of this renewal' }),
      listChurnReasons(deps.db, { reader: actor }),
    ]);
    const where = renewalWhere(reply.surface);
    await openView(
      deps.triggerClient,
      reply,
      body.trigger_id,
      renewalOutcomeModal({ renewal: desk.renewal, account: desk.account, churnReasons, privateMetadata: JSON.stringify({ renewalId, ...(where ? { where } : {}) }) }),
    );
  };
}
