import type { AllMiddlewareArgs, BlockAction, ButtonAction, DatepickerAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { InvalidInputError } from '../../../domain/errors.ts';
import { getAccount } from '../../../domain/accounts/reads.ts';
import { acceptHandoff, confirmHandoff, getHandoffToConfirm, scheduleKickoff } from '../../../domain/handoffs/handoffs.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPerson } from '../../person.ts';
import { openView, replyTo } from '../../replies.ts';
import { handoffContextModal } from '../../views/handoff.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;
type DatepickerArgs = SlackActionMiddlewareArgs<BlockAction<DatepickerAction>> & AllMiddlewareArgs;

/** The handoff id sits in the actions block id (`handoff:<id>:<version>`), for the date picker, which has no value. */
function handoffIdOf(blockId: string): string {
  const [prefix, id] = blockId.split(':');
  if (prefix !== 'handoff' || !id) throw new InvalidInputError('This handoff message is out of date; wait for it to refresh.');
  return id;
}

/** AE: "Confirm context" as it stands. The message itself is redrawn by the outbox (chat.update). */
export function confirmHandoffAction({ db, onNotificationsQueued }: BotDeps) {
  return async ({ ack, action, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    await confirmHandoff(db, { handoffId: action.value ?? '', actor });
    onNotificationsQueued?.();
  };
}

/** AE: "Edit context" opens the modal with the required fields. */
export function editHandoffAction(deps: BotDeps) {
  const { db } = deps;
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    const handoff = await getHandoffToConfirm(db, { handoffId: action.value ?? '', actor });
    const account = await getAccount(db, { id: handoff.accountId, reader: actor });
    await openView(
      deps.triggerClient,
      replyTo(body, client),
      body.trigger_id,
      handoffContextModal(handoff, account?.name ?? 'this account', JSON.stringify({ handoffId: handoff.id })),
    );
  };
}

/** CSM: "Accept handoff". */
export function acceptHandoffAction({ db, onNotificationsQueued }: BotDeps) {
  return async ({ ack, action, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    await acceptHandoff(db, { handoffId: action.value ?? '', actor });
    onNotificationsQueued?.();
  };
}

/** CSM: a kickoff date picked on the message. */
export function kickoffDateAction({ db, onNotificationsQueued }: BotDeps) {
  return async ({ ack, action, context }: DatepickerArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    if (!action.selected_date) return;
    // A date picker gives a calendar day; midday UTC keeps it on that day in every office's time zone.
    const kickoffAt = new Date(`${action.selected_date}T12:00:00Z`);
    await scheduleKickoff(db, { handoffId: handoffIdOf(action.block_id), actor, kickoffAt });
    onNotificationsQueued?.();
  };
}
