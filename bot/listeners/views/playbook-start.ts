import { InvalidInputError } from '../../../domain/errors.ts';
import { startPlaybook } from '../../../domain/plays/playbook-runs.ts';
import { listTasksByRunIds } from '../../../domain/plays/tasks.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, inputValue } from '../../modal-input.ts';
import { playbookStartFormSchema } from '../../playbook-form.ts';
import { slackPerson } from '../../person.ts';
import { accountCardModal } from '../../views/card-modal.ts';
import { playbookStartedMessage } from '../../views/playbooks.ts';

/**
 * "Start a playbook": starts the chosen one before the ack, so a refusal (already running, retired meanwhile, not
 * theirs) comes back inside the form. Once started the form closes, the card it was opened from is redrawn when it
 * sits in a modal, and the person gets what was created, for whom, by DM.
 */
export function playbookStartSubmission(deps: BotDeps) {
  return async ({ ack, view, client, context, body }: ViewArgs): Promise<void> => {
    const form = decodeMetadata(playbookStartFormSchema, view.private_metadata);
    const playbookId = inputValue(view, FieldIds.playbookId);
    if (!playbookId) throw new InvalidInputError('Choose the playbook to start.', FieldIds.playbookId);
    const { actor } = slackPerson(context);
    const now = deps.clock?.() ?? new Date();
    const started = await startPlaybook(deps.db, { accountId: form.accountId, playbookId, actor, now });
    await ack();
    if (form.cardViewId) {
      const card = await renderAccountCard(deps.db, form.accountId, { shareable: false, reader: actor });
      await client.views.update({ view_id: form.cardViewId, view: accountCardModal(card) });
    }
    const items = await listTasksByRunIds(deps.db, { runIds: [started.run.id], reader: actor });
    const message = playbookStartedMessage(items);
    await client.chat.postMessage({ channel: body.user.id, text: message.text, blocks: message.blocks, unfurl_links: false });
  };
}
