import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { acceptLead, getLeadToDecline, getSignalToQualify } from '../../../domain/leads.ts';
import { getAccount } from '../../../domain/accounts/reads.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPerson } from '../../person.ts';
import { openView, replyTo } from '../../replies.ts';
import { declineLeadModal, qualifyLeadModal } from '../../views/leads.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** CSM: "Qualify as lead" on an expansion signal opens the lead form, unless they could not save it. */
export function qualifyLeadAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    const signal = await getSignalToQualify(deps.db, { firingId: Number(action.value ?? ''), actor });
    await openView(
      deps.triggerClient,
      replyTo(body, client),
      body.trigger_id,
      qualifyLeadModal({ account: signal.account, reason: signal.reason, privateMetadata: JSON.stringify({ firingId: signal.firingId }) }),
    );
  };
}

/** AE: "Accept" on a lead handed to them. The message itself is redrawn by the outbox (chat.update). */
export function acceptLeadAction({ db, onNotificationsQueued }: BotDeps) {
  return async ({ ack, action, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    await acceptLead(db, { leadId: action.value ?? '', actor });
    onNotificationsQueued?.();
  };
}

/** AE: "Decline" opens the form asking why, unless they could not decline it. */
export function declineLeadAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const { actor } = slackPerson(context);
    const lead = await getLeadToDecline(deps.db, { leadId: action.value ?? '', actor });
    const account = await getAccount(deps.db, { id: lead.accountId, reader: actor });
    await openView(
      deps.triggerClient,
      replyTo(body, client),
      body.trigger_id,
      declineLeadModal({ accountName: account?.name ?? 'this account', privateMetadata: JSON.stringify({ leadId: lead.id }) }),
    );
  };
}
