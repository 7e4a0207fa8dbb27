import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { getPlaybookStartChoices } from '../../../domain/plays/playbook-runs.ts';
import type { BotDeps } from '../../deps.ts';
import { encodePlaybookStartForm } from '../../playbook-form.ts';
import { slackPerson } from '../../person.ts';
import { openView, replyTo } from '../../replies.ts';
import { startPlaybookModal } from '../../views/playbooks.ts';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * "Start playbook" on an account card, wherever the card is (a posted or ephemeral card, a card in a modal): the
 * form to choose one. Whether the person may start one is the domain's to say before the form opens; a refusal
 * reaches them through app.error, on the surface they clicked.
 */
export function startPlaybookAction(deps: BotDeps) {
  return async ({ ack, body, action, client, context }: ButtonArgs): Promise<void> => {
    await ack();
    const reply = replyTo(body, client);
    const { actor } = slackPerson(context);
    const { account, playbooks } = await getPlaybookStartChoices(deps.db, { accountId: action.value ?? '', actor });
    await openView(deps.triggerClient, reply, body.trigger_id, startPlaybookModal(account.name, playbooks, encodePlaybookStartForm({ accountId: account.id, ...(reply.surface.kind === 'modal' ? { cardViewId: reply.surface.viewId } : {}) })));
  };
}
