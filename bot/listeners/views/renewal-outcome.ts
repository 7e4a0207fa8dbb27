import type { RenewalOutcomeKind } from '../../../db/schema.ts';
import { renewalOutcomeKinds } from '../../../db/schema.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { recordRenewalOutcome } from '../../../domain/renewals/outcomes.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, dollarsInputToCents, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';
import { redrawRenewal, renewalOutcomeMetadataSchema } from '../../renewal-surfaces.ts';

function outcomeOf(value: string | undefined): RenewalOutcomeKind {
  const found = renewalOutcomeKinds.find((kind) => kind === value);
  if (!found) throw new InvalidInputError('Choose how the renewal ended: renewed, downsell or churned.', FieldIds.outcome);
  return found;
}

/**
 * The outcome form was submitted. The outcome is recorded before the ack, so a refusal (no churn reason, no new ARR,
 * already recorded) comes back on the form's input; the renewal is then redrawn where the button was. A churn
 * ignores the pre-filled renewal terms, a plain renewal the reason.
 */
export function renewalOutcomeSubmission(deps: BotDeps) {
  return async ({ ack, view, client, context }: ViewArgs): Promise<void> => {
    const metadata = decodeMetadata(renewalOutcomeMetadataSchema, view.private_metadata);
    const person = slackPerson(context);
    const outcome = outcomeOf(inputValue(view, FieldIds.outcome));
    const churned = outcome === 'churned';
    const result = await recordRenewalOutcome(deps.db, {
      renewalId: metadata.renewalId,
      outcome,
      newContractEnd: churned ? null : (inputValue(view, FieldIds.newContractEnd) ?? null),
      newArrCents: churned ? null : dollarsInputToCents(inputValue(view, FieldIds.newArrCents), FieldIds.newArrCents, 'Write the new ARR as a number of dollars, e.g. 14400.'),
      churnReasonKey: outcome === 'renewed' ? null : (inputValue(view, FieldIds.churnReasonKey) ?? null),
      note: inputValue(view, FieldIds.note) ?? null,
      actor: person.actor,
      source: 'slack',
      windowDays: deps.renewalWindowDays,
      ...(deps.clock ? { now: deps.clock() } : {}),
    });
    await ack();
    await redrawRenewal(deps, client, metadata.where, result.renewal.id, person, `Recorded the renewal's outcome: ${result.outcome.outcome}.`);
  };
}
