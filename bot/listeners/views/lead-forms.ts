import { z } from 'zod';
import type { LeadUrgency } from '../../../db/schema.ts';
import { leadUrgencies } from '../../../db/schema.ts';
import { InvalidInputError } from '../../../domain/errors.ts';
import { declineLead, qualifyLead } from '../../../domain/leads.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, dollarsInputToCents, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';

const qualifyMetadata = z.object({ firingId: z.number().int().positive() });
const declineMetadata = z.object({ leadId: z.string() });

const MRR_HINT = 'Write the estimated MRR as a number of dollars a month, e.g. 1200.';

function centsOf(value: string | undefined): number {
  const cents = dollarsInputToCents(value, FieldIds.estimatedMrrCents, MRR_HINT);
  if (cents === null) throw new InvalidInputError(MRR_HINT, FieldIds.estimatedMrrCents);
  return cents;
}

function urgencyOf(value: string | undefined): LeadUrgency {
  const found = leadUrgencies.find((urgency) => urgency === value);
  if (!found) throw new InvalidInputError('Choose how urgent it is: low, medium or high.', FieldIds.urgency);
  return found;
}

/** The CSM qualified the signal: the lead is created (once per signal) and handed to the account's AE. */
export function qualifyLeadSubmission({ db, onNotificationsQueued, clock }: BotDeps) {
  return async ({ ack, view, context }: ViewArgs): Promise<void> => {
    const { firingId } = decodeMetadata(qualifyMetadata, view.private_metadata);
    const { actor } = slackPerson(context);
    await qualifyLead(db, {
      firingId,
      wants: inputValue(view, FieldIds.wants) ?? '',
      estimatedMrrCents: centsOf(inputValue(view, FieldIds.estimatedMrrCents)),
      urgency: urgencyOf(inputValue(view, FieldIds.urgency)),
      actor,
      ...(clock ? { now: clock() } : {}),
    });
    await ack();
    onNotificationsQueued?.();
  };
}

/** The AE declined the lead, saying why; the CSM hears back. */
export function declineLeadSubmission({ db, onNotificationsQueued, clock }: BotDeps) {
  return async ({ ack, view, context }: ViewArgs): Promise<void> => {
    const { leadId } = decodeMetadata(declineMetadata, view.private_metadata);
    const { actor } = slackPerson(context);
    await declineLead(db, { leadId, actor, reason: inputValue(view, FieldIds.reason) ?? '', ...(clock ? { now: clock() } : {}) });
    await ack();
    onNotificationsQueued?.();
  };
}
