import { z } from 'zod';
import { InvalidInputError } from '../../../domain/errors.ts';
import { confirmHandoff } from '../../../domain/handoffs/handoffs.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';

const metadataSchema = z.object({ handoffId: z.string() });

const REQUIRED = [
  [FieldIds.goals, 'Goals'],
  [FieldIds.promises, 'Promises'],
  [FieldIds.stakeholders, 'Stakeholders'],
  [FieldIds.risks, 'Risks'],
] as const;

/** The AE saved the sales context: it is required in full, and saving it confirms the handoff. */
export function handoffContextSubmission({ db, onNotificationsQueued }: BotDeps) {
  return async ({ ack, view, context }: ViewArgs): Promise<void> => {
    const { handoffId } = decodeMetadata(metadataSchema, view.private_metadata);
    const { actor } = slackPerson(context);
    const values = Object.fromEntries(REQUIRED.map(([field]) => [field, inputValue(view, field)?.trim() ?? '']));
    // Slack enforces required inputs in its clients, but a submission is only a request: check it here too.
    const missing = REQUIRED.find(([field]) => values[field] === '');
    if (missing) throw new InvalidInputError(`${missing[1]} are needed before the CSM takes over. Write what you know, even briefly.`, missing[0]);
    await confirmHandoff(db, {
      handoffId,
      actor,
      context: {
        goals: values[FieldIds.goals] ?? null,
        promises: values[FieldIds.promises] ?? null,
        stakeholders: values[FieldIds.stakeholders] ?? null,
        risks: values[FieldIds.risks] ?? null,
        notes: inputValue(view, FieldIds.notes)?.trim() || null,
      },
    });
    await ack();
    onNotificationsQueued?.();
  };
}
