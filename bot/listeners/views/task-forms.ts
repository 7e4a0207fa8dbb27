import type { Task } from '../../../db/schema.ts';
import { isoDay, startOfDay } from '../../../domain/dates.ts';
import { InvalidInputError, StaleVersionError } from '../../../domain/errors.ts';
import { completeTask, reassignTask, snoozeTask } from '../../../domain/plays/tasks.ts';
import { findUserBySlackId } from '../../../domain/users.ts';
import type { BotDeps } from '../../deps.ts';
import { FieldIds } from '../../ids.ts';
import { type ViewArgs, decodeMetadata, inputValue } from '../../modal-input.ts';
import { slackPerson } from '../../person.ts';
import { type TaskForm, taskFormSchema } from '../../task-form.ts';
import { type Acting, redrawTaskOrigin } from '../../task-surfaces.ts';
import { noticeModal } from '../../views/stage-move.ts';

/** The change a form makes, run before the ack so a refusal comes back inside the form; what to say once it is made. */
type Change = (form: TaskForm, args: ViewArgs, acting: Acting, now: Date) => Promise<{ task: Task; notice: string }>;

/**
 * One shape for every task form. The change runs first (one short transaction), so an error about an input lands
 * on that input and any other refusal replaces the form, through modalErrors. A change made meanwhile by someone
 * else is an everyday race: the form says so and the list is redrawn as it is now. The redraw comes after the
 * ack, which closes the form (only it, when it was pushed on top of a card).
 */
function taskFormSubmission(deps: BotDeps, change: Change) {
  return async (args: ViewArgs): Promise<void> => {
    const { ack, view, client, context, body } = args;
    const form = decodeMetadata(taskFormSchema, view.private_metadata);
    const acting = { person: slackPerson(context), slackUserId: body.user.id };
    const now = deps.clock?.() ?? new Date();
    let done: { task: Task; notice: string };
    try {
      done = await change(form, args, acting, now);
    } catch (error) {
      if (!(error instanceof StaleVersionError)) throw error;
      await ack({ response_action: 'update', view: noticeModal('Nothing changed', error.message) });
      await redrawTaskOrigin(deps, client, form.origin, acting, { taskId: form.taskId });
      return;
    }
    await ack();
    await redrawTaskOrigin(deps, client, form.origin, acting, { taskId: done.task.id, notice: done.notice });
  };
}

/** "Mark done…": done, with the outcome note if one was written. */
export function taskDoneSubmission(deps: BotDeps) {
  return taskFormSubmission(deps, async (form, { view }, { person }, now) => {
    const task = await completeTask(deps.db, {
      taskId: form.taskId,
      actor: person.actor,
      now,
      expectedVersion: form.version,
      outcomeNote: inputValue(view, FieldIds.outcomeNote)?.trim() || null,
    });
    return { task, notice: `:white_check_mark: Marked “${task.title}” done.` };
  });
}

/** "Snooze until…": until the start of the chosen day (UTC), when the task comes back open. */
export function taskSnoozeSubmission(deps: BotDeps) {
  return taskFormSubmission(deps, async (form, { view }, { person }, now) => {
    const day = inputValue(view, FieldIds.until);
    if (!day) throw new InvalidInputError('Choose the day the task should come back.', FieldIds.until);
    const task = await snoozeTask(deps.db, { taskId: form.taskId, actor: person.actor, now, until: startOfDay(day), expectedVersion: form.version });
    return { task, notice: `:zzz: Snoozed “${task.title}” until ${isoDay(task.snoozedUntil ?? startOfDay(day))}; it comes back on the lists then.` };
  });
}

/**
 * "Reassign…": the Slack user chosen is mapped to their Lifeline user. Someone not linked cannot own a task, and
 * the person is told on the input what to do; whether the one chosen may own tasks is the domain's to say.
 */
export function taskReassignSubmission(deps: BotDeps) {
  return taskFormSubmission(deps, async (form, { view }, { person }, now) => {
    const slackUserId = inputValue(view, FieldIds.ownerId);
    if (!slackUserId) throw new InvalidInputError('Choose who should take the task over.', FieldIds.ownerId);
    const owner = await findUserBySlackId(deps.db, slackUserId);
    if (!owner) {
      throw new InvalidInputError(
        "That person's Slack account is not linked to Lifeline, so they cannot own tasks yet. Ask a Lifeline admin to link them, or choose someone else.",
        FieldIds.ownerId,
      );
    }
    const task = await reassignTask(deps.db, { taskId: form.taskId, actor: person.actor, now, ownerId: owner.id, expectedVersion: form.version });
    deps.onNotificationsQueued?.();
    return { task, notice: `:arrow_right: Gave “${task.title}” to ${owner.name}; they get a DM about it.` };
  });
}
