import { InvalidInputError } from '../../../domain/errors.ts';
import { type Sentiment, setSentiment } from '../../../domain/people/sentiment.ts';
import { sentiments } from '../../../db/schema.ts';
import { redrawCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';
import { sentimentFormSchema } from '../../sentiment-form.ts';

function isSentiment(value: string | undefined): value is Sentiment {
  return sentiments.some((sentiment) => sentiment === value);
}

/**
 * The sentiment form was submitted. The sentiment is recorded before the ack, so a refusal (no choice, a note too
 * long, no right to set it) comes back inside the form; then the card it was opened from is redrawn with it.
 */
export function sentimentSubmission({ db }: BotDeps) {
  return async ({ ack, view, client, context }: ViewArgs): Promise<void> => {
    const form = decodeMetadata(sentimentFormSchema, view.private_metadata);
    const { actor } = slackPerson(context);
    const chosen = inputValue(view, FieldIds.sentiment);
    if (!isSentiment(chosen)) throw new InvalidInputError('Choose positive, neutral or negative.', FieldIds.sentiment);
    await setSentiment(db, { actor, accountId: form.accountId, sentiment: chosen, note: inputValue(view, FieldIds.note) ?? null });
    await ack();
    await redrawCard(db, client, form.accountId, form, actor);
  };
}
