import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { type TaskItem, listTaskEvents } from '../domain/plays/tasks.ts';
import { getUsersByIds } from '../domain/users.ts';
import type { SlackMessage } from './views/account-card.ts';
import { taskNoteMessage } from './views/tasks.ts';

/**
 * The notes about one task: the DM to its new owner (`task_assigned`) and the overdue note to the owner's manager
 * (`task_overdue`), drawn the same way when delivered and when redrawn after an action on them.
 */
export interface TaskNoteParams {
  item: TaskItem;
  kind: 'assigned' | 'overdue';
  now: Date;
  /** Who reads the task's history: delivery's systemReader, or the person redrawing the note. */
  reader: Actor;
  /** The Lifeline user the note is for; null when it is posted in a channel. */
  viewerId: string | null;
}

export async function taskNote(db: Db, params: TaskNoteParams): Promise<SlackMessage> {
  const { item, now, viewerId } = params;
  const { task } = item;
  const finisher = task.completedBy ?? task.cancelledBy;
  const ids = [task.ownerId, ...(finisher ? [finisher] : [])];
  const people = await getUsersByIds(db, [...new Set(ids)]);
  const owner = people.find((user) => user.id === task.ownerId);
  const finishedBy = finisher ? (people.find((user) => user.id === finisher)?.name ?? null) : null;
  const ownerName = owner?.name ?? item.ownerName;

  if (params.kind === 'assigned') {
    if (viewerId !== task.ownerId) {
      return taskNoteMessage({ item, now, list: { kind: 'assigned' }, emoji: ':inbox_tray:', intro: `A task now with ${ownerName}:`, finishedBy });
    }
    // Who gave it: the latest reassignment, or the person who created it for someone else.
    const events = await listTaskEvents(db, { taskId: task.id, reader: params.reader });
    const given = events.findLast((event) => event.kind === 'reassigned' || event.kind === 'created');
    return taskNoteMessage({
      item,
      now,
      list: { kind: 'assigned' },
      emoji: ':inbox_tray:',
      intro: given ? `${given.actorLabel} gave you a task:` : 'A task is yours now:',
      why: 'You get this because the task is yours now. Use the ⋯ menu to mark it done, snooze it or pass it on.',
      finishedBy,
    });
  }

  const why =
    viewerId === null
      ? `Posted here because ${ownerName} reports to no one in Lifeline and there is no manager to tell.`
      : owner?.managerId === viewerId
        ? `You get this because ${ownerName} reports to you. Check in with them, or act on the task from the ⋯ menu.`
        : owner?.managerId === null
          ? `You get this because you are a manager and ${ownerName} reports to no one in Lifeline.`
          : undefined;
  return taskNoteMessage({ item, now, list: { kind: 'overdue' }, emoji: ':rotating_light:', intro: `${ownerName}'s task is overdue:`, why, finishedBy });
}
