import type { App } from '@slack/bolt';
import type { ViewResponseAction } from '@slack/bolt';
import { isDatabaseUnavailable } from '../../../db/client.ts';
import { DomainError } from '../../../domain/errors.ts';
import { DATABASE_UNAVAILABLE_MESSAGE } from '../../deps.ts';
import type { BotDeps } from '../../deps.ts';
import { CallbackIds } from '../../ids.ts';
import { noticeModal } from '../../views/stage-move.ts';
import type { ViewArgs } from '../../modal-input.ts';
import { handoffContextSubmission } from './handoff-context.ts';
import { sentimentSubmission } from './sentiment.ts';
import { renewalOutcomeSubmission } from './renewal-outcome.ts';
import { stageMoveSubmission } from './stage-move.ts';
import { taskDoneSubmission, taskReassignSubmission, taskSnoozeSubmission } from './task-forms.ts';
import { playbookStartSubmission } from './playbook-start.ts';
import { declineLeadSubmission, qualifyLeadSubmission } from './lead-forms.ts';

function inputBlockIds(view: ViewArgs['view']): Set<string> {
  return new Set(view.blocks.filter((block) => block.type === 'input' && typeof block.block_id === 'string').map((block) => String(block.block_id)));
}

/**
 * Errors in a modal belong in the modal. app.error cannot answer a view submission (only the ack can), so
 * submissions go through this one wrapper: a domain error about an input becomes `response_action: errors`
 * on that input's block, any other domain error (or an unreachable database) replaces the form with a modal that
 * says why, and anything unexpected still goes to app.error.
 */
export function modalErrors(handler: (args: ViewArgs) => Promise<void>) {
  return async (args: ViewArgs): Promise<void> => {
    let acked = false;
    const ack = async (response?: ViewResponseAction): Promise<void> => {
      acked = true;
      await args.ack(response);
    };
    try {
      await handler({ ...args, ack });
    } catch (error) {
      if (!acked && isDatabaseUnavailable(error)) {
        await args.ack({ response_action: 'update', view: noticeModal('Nothing changed', DATABASE_UNAVAILABLE_MESSAGE) });
        return;
      }
      if (acked || !(error instanceof DomainError)) throw error;
      if (error.field && inputBlockIds(args.view).has(error.field)) {
        await args.ack({ response_action: 'errors', errors: { [error.field]: error.message } });
      } else {
        await args.ack({ response_action: 'update', view: noticeModal('Nothing changed', error.message) });
      }
    }
  };
}

export function register(app: App, deps: BotDeps): void {
  app.view(CallbackIds.stageMove, modalErrors(stageMoveSubmission(deps)));
  app.view(CallbackIds.handoffContext, modalErrors(handoffContextSubmission(deps)));
  app.view(CallbackIds.taskDone, modalErrors(taskDoneSubmission(deps)));
  app.view(CallbackIds.taskSnooze, modalErrors(taskSnoozeSubmission(deps)));
  app.view(CallbackIds.taskReassign, modalErrors(taskReassignSubmission(deps)));
  app.view(CallbackIds.setSentiment, modalErrors(sentimentSubmission(deps)));
  app.view(CallbackIds.playbookStart, modalErrors(playbookStartSubmission(deps)));
  app.view(CallbackIds.renewalOutcome, modalErrors(renewalOutcomeSubmission(deps)));
  app.view(CallbackIds.leadQualify, modalErrors(qualifyLeadSubmission(deps)));
  app.view(CallbackIds.leadDecline, modalErrors(declineLeadSubmission(deps)));
}
