import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { addDays, isoDay } from '../domain/dates.ts';
import { countTasks, isOverdue, listDueTasks, listTasks } from '../domain/plays/tasks.ts';
import type { DueTasks, OwnTasks } from './views/tasks.ts';

/**
 * The tasks a person's own lists show, read as `reader` (the person, or delivery's systemReader for their DM).
 * Lists show a first few and count the rest, so a person with hundreds of tasks costs a page and a few counts.
 */

/** A person's open tasks, soonest due first (so due and overdue come first), with how many are due, overdue, snoozed. */
export async function loadOwnTasks(db: Db, params: { reader: Actor; ownerId: string; now: Date; first: number }): Promise<OwnTasks> {
  const { reader, ownerId, now } = params;
  const open = { ownerId, state: 'open' as const };
  // "Due before tomorrow" is due today or overdue, as listDueTasks reads it; "before today" is overdue.
  const [page, openCount, due, overdue, snoozed] = await Promise.all([
    listTasks(db, { reader, now, filter: open, first: params.first }),
    countTasks(db, { reader, now, filter: open }),
    countTasks(db, { reader, now, filter: { ...open, dueBefore: isoDay(addDays(now, 1)) } }),
    countTasks(db, { reader, now, filter: { ...open, dueBefore: isoDay(now) } }),
    countTasks(db, { reader, now, filter: { ownerId, state: 'snoozed' } }),
  ]);
  return { items: page.items, open: openCount, due, overdue, snoozed };
}

// The morning DM shows at most ten; reading a few more tells whether counting is needed at all.
const DUE_PAGE = 25;

/** A person's tasks due today and overdue (listDueTasks), counted in full only when there are many. */
export async function loadDueTasks(db: Db, params: { reader: Actor; ownerId: string; now: Date }): Promise<DueTasks> {
  const { reader, ownerId, now } = params;
  const items = await listDueTasks(db, { reader, ownerId, now, limit: DUE_PAGE });
  if (items.length < DUE_PAGE) return { items, total: items.length, overdue: items.filter((item) => isOverdue(item.task, now)).length };
  const open = { ownerId, state: 'open' as const };
  const [total, overdue] = await Promise.all([
    countTasks(db, { reader, now, filter: { ...open, dueBefore: isoDay(addDays(now, 1)) } }),
    countTasks(db, { reader, now, filter: { ...open, dueBefore: isoDay(now) } }),
  ]);
  return { items, total, overdue };
}
