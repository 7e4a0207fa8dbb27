import type { AllMiddlewareArgs, BlockAction, OverflowAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { addDays, isoDay } from '../../../domain/dates.ts';
import { InvalidInputError, StaleVersionError } from '../../../domain/errors.ts';
import { getTaskToChange, snoozeTask } from '../../../domain/plays/tasks.ts';
import type { BotDeps } from '../../deps.ts';
import { parseTaskBlockId } from '../../ids.ts';
import { selectedOptionValue } from '../../payload.ts';
import { slackPerson } from '../../person.ts';
import { openView, replyTo } from '../../replies.ts';
import { encodeTaskForm } from '../../task-form.ts';
import { redrawTaskOrigin, taskOriginOf } from '../../task-surfaces.ts';
import { TaskMenuChoices, isTaskMenuChoice, taskDoneModal, taskReassignModal, taskSnoozeModal } from '../../views/tasks.ts';

type OverflowArgs = SlackActionMiddlewareArgs<BlockAction<OverflowAction>> & AllMiddlewareArgs;

const OUT_OF_DATE = 'This task list is out of date. `/lifeline tasks` lists your open tasks as they are now.';

/**
 * The menu beside a task, wherever it is shown (a posted or ephemeral message, App Home, a card in a modal).
 * Snoozing a day or a week happens at once; done (with an outcome note), snoozing until a day and reassigning
 * open a form first. After the change the list the task sat in is redrawn where it is. Whether the person may
 * act is the domain's to decide, before any form opens: a refusal reaches them through app.error, on the surface
 * they clicked.
 */
export function taskMenuAction(deps: BotDeps) {
  const { db } = deps;
  return async ({ ack, body, action, client, context }: OverflowArgs): Promise<void> => {
    await ack();
    const shown = parseTaskBlockId(action.block_id);
    const choice = selectedOptionValue(action);
    if (!shown || choice === undefined || !isTaskMenuChoice(choice)) throw new InvalidInputError(OUT_OF_DATE);
    const reply = replyTo(body, client);
    const person = slackPerson(context);
    const { actor } = person;
    const now = deps.clock?.() ?? new Date();
    const origin = taskOriginOf(reply.surface, shown.list);
    const acting = { person, slackUserId: body.user.id };

    if (choice === TaskMenuChoices.snoozeDay || choice === TaskMenuChoices.snoozeWeek) {
      const days = choice === TaskMenuChoices.snoozeDay ? 1 : 7;
      try {
        const task = await snoozeTask(db, { taskId: shown.taskId, actor, now, days, expectedVersion: shown.version });
        await redrawTaskOrigin(deps, client, origin, acting, { taskId: task.id, notice: `:zzz: Snoozed “${task.title}” until ${isoDay(task.snoozedUntil ?? addDays(now, days))}; it comes back on the lists then.` });
      } catch (error) {
        // A list older than the task is an everyday race: say what changed and show it as it is now.
        if (!(error instanceof StaleVersionError)) throw error;
        await redrawTaskOrigin(deps, client, origin, acting, { taskId: shown.taskId, notice: `Nothing changed: ${error.message}` });
      }
      return;
    }

    // Refusals (not theirs, already done, changed since) come before the form, not after it was filled in. Two
    // indexed reads, well within the trigger id's 3 seconds.
    const wanted = choice === TaskMenuChoices.done ? 'mark done' : choice === TaskMenuChoices.snoozeUntil ? 'snooze' : 'reassign';
    const item = await getTaskToChange(db, { taskId: shown.taskId, actor, now, expectedVersion: shown.version, action: wanted });
    const metadata = encodeTaskForm({ taskId: item.task.id, version: shown.version, origin });
    const modal =
      choice === TaskMenuChoices.done
        ? taskDoneModal(item, now, metadata)
        : choice === TaskMenuChoices.snoozeUntil
          ? taskSnoozeModal(item, now, metadata)
          : taskReassignModal(item, now, metadata);
    await openView(deps.triggerClient, reply, body.trigger_id, modal);
  };
}
