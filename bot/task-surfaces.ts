import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { digestDay, listDigestItems } from '../domain/digest.ts';
import { getTask } from '../domain/plays/tasks.ts';
import { renderAccountCard } from './cards.ts';
import type { BotDeps } from './deps.ts';
import { publishHome } from './home-tab.ts';
import { type TaskList, decodeTaskList, encodeTaskList } from './ids.ts';
import type { SlackPerson } from './person.ts';
import { type ActionSurface, postToResponseUrl } from './replies.ts';
import { loadDueTasks, loadOwnTasks } from './task-lists.ts';
import { taskNote } from './task-notes.ts';
import { type SlackMessage, noticeMessage } from './views/account-card.ts';
import { accountCardModal } from './views/card-modal.ts';
import { atRiskDigest } from './views/digest.ts';
import { contextBlock } from './views/format.ts';
import { myTasksMessage } from './views/tasks.ts';

/**
 * Where a task was acted on, and so what to redraw once the action is done: the list it sits in, and the surface
 * that shows that list. A message (posted or ephemeral) is replaced through its response_url, a card in a modal
 * with views.update, App Home with views.publish for the person. It is kept in a form's private_metadata when the
 * action goes through a modal, so it is plain data, checked with `taskOriginSchema` on the way back.
 */
export interface TaskOrigin {
  list: TaskList;
  responseUrl?: string | undefined;
  /** The message is ephemeral (only an ephemeral card offers to share itself). */
  ephemeral?: boolean | undefined;
  /** A card in a modal opened from App Home. */
  viewId?: string | undefined;
  /** App Home, published for the person who acted. */
  home?: boolean | undefined;
}

export const taskOriginSchema = z.object({
  list: z.string().transform((raw, context) => {
    const list = decodeTaskList(raw);
    if (!list) {
      context.addIssue({ code: 'custom', message: 'not a task list' });
      return z.NEVER;
    }
    return list;
  }),
  responseUrl: z.url().optional(),
  ephemeral: z.boolean().optional(),
  viewId: z.string().optional(),
  home: z.boolean().optional(),
});

/** The origin as a form carries it: the list in its short code. */
export function encodeTaskOrigin(origin: TaskOrigin): z.input<typeof taskOriginSchema> {
  return {
    list: encodeTaskList(origin.list),
    ...(origin.responseUrl ? { responseUrl: origin.responseUrl } : {}),
    ...(origin.ephemeral ? { ephemeral: true } : {}),
    ...(origin.viewId ? { viewId: origin.viewId } : {}),
    ...(origin.home ? { home: true } : {}),
  };
}

export function taskOriginOf(surface: ActionSurface, list: TaskList): TaskOrigin {
  switch (surface.kind) {
    case 'message':
      return { list, responseUrl: surface.responseUrl };
    case 'ephemeral':
      return { list, responseUrl: surface.responseUrl, ephemeral: true };
    case 'modal':
      return { list, viewId: surface.viewId };
    case 'home':
      return { list, home: true };
  }
}

/** The person who acted, as a redraw reads for them and publishes to them. */
export interface Acting {
  person: SlackPerson;
  slackUserId: string;
}

function withNotice(message: SlackMessage, notice: string | undefined): SlackMessage {
  return notice ? { text: `${notice} ${message.text}`, blocks: [contextBlock(notice), ...message.blocks] } : message;
}

/** The list (or the note) as it is now, drawn for a message, as the person who acted may see it. */
async function originMessage(deps: Pick<BotDeps, 'db'>, origin: TaskOrigin, taskId: string, acting: Acting, now: Date): Promise<SlackMessage> {
  const { db } = deps;
  const reader = acting.person.actor;
  const { list } = origin;
  switch (list.kind) {
    case 'card':
      return renderAccountCard(db, list.accountId, { shareable: origin.ephemeral ?? false, reader, now });
    case 'mine':
    case 'home':
      return myTasksMessage(await loadOwnTasks(db, { reader, ownerId: acting.person.user.id, now, first: 25 }), now);
    case 'digest': {
      // The morning DM of its owner: their due tasks above their at-risk accounts, its first page.
      const [items, tasks] = await Promise.all([
        listDigestItems(db, { now, csmId: list.ownerId, reader }),
        loadDueTasks(db, { reader, ownerId: list.ownerId, now }),
      ]);
      return atRiskDigest(items, { day: digestDay(now), now, csmId: list.ownerId, tasks });
    }
    case 'assigned':
    case 'overdue':
      return noteMessage(deps, taskId, list, acting, now);
  }
}

/** A note about one task, redrawn with the task as it is now (done, snoozed, with someone else). */
async function noteMessage(deps: Pick<BotDeps, 'db'>, taskId: string, list: Extract<TaskList, { kind: 'assigned' | 'overdue' }>, acting: Acting, now: Date): Promise<SlackMessage> {
  const reader = acting.person.actor;
  const item = await getTask(deps.db, { id: taskId, reader });
  if (!item) return noticeMessage('This task is no longer one you can see: it was given to someone else. `/lifeline tasks` lists your open tasks.');
  return taskNote(deps.db, { item, kind: list.kind, now, reader, viewerId: acting.person.user.id });
}

/**
 * Redraws the surface a task action came from with the task's new state, `notice` (what the action did, or why
 * it did not) above it. A task note is redrawn from the task itself; a list is drawn again as the person may see it.
 */
export async function redrawTaskOrigin(
  deps: Pick<BotDeps, 'db' | 'clock' | 'renewalWindowDays'>,
  client: WebClient,
  origin: TaskOrigin,
  acting: Acting,
  change: { taskId: string; notice?: string | undefined },
): Promise<void> {
  const now = deps.clock?.() ?? new Date();
  const { list } = origin;
  if (origin.home) {
    await publishHome(deps, client, acting.slackUserId, acting.person, change.notice);
    return;
  }
  if (origin.viewId) {
    // Only a card opens in a modal (from App Home): no other list has one to redraw.
    if (list.kind !== 'card') return;
    const card = await renderAccountCard(deps.db, list.accountId, { shareable: false, reader: acting.person.actor, now });
    await client.views.update({ view_id: origin.viewId, view: accountCardModal(card, change.notice) });
    return;
  }
  if (!origin.responseUrl) return;
  const message = withNotice(await originMessage(deps, origin, change.taskId, acting, now), change.notice);
  await postToResponseUrl(origin.responseUrl, { replace_original: true, text: message.text, blocks: message.blocks });
}
