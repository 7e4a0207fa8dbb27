import type { ContextBlock, KnownBlock, ModalView, Overflow, PlainTextOption, SectionBlock } from '@slack/types';
import type { TaskSource } from '../../db/schema.ts';
import { addDays, isoDay } from '../../domain/dates.ts';
import { MAX_OUTCOME_NOTE, MAX_SNOOZE_DAYS, type TaskItem, isOverdue, taskState } from '../../domain/plays/tasks.ts';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, type TaskList, taskBlockId } from '../ids.ts';
import type { SlackMessage } from './account-card.ts';
import { contextBlock, daysUntil, escapeMrkdwn, plainText, plural, sectionBlock, slackDate, truncate } from './format.ts';
import { MESSAGE_LIST_TEXT_MAX } from './lists.ts';
import { ruleTitle } from './notifications.ts';

/** The choices of a task's overflow menu (Slack allows 5): their values are what the listener switches on. */
export const TaskMenuChoices = {
  done: 'done',
  snoozeDay: 'snooze_day',
  snoozeWeek: 'snooze_week',
  snoozeUntil: 'snooze_until',
  reassign: 'reassign',
} as const;
export type TaskMenuChoice = (typeof TaskMenuChoices)[keyof typeof TaskMenuChoices];

export function isTaskMenuChoice(value: string): value is TaskMenuChoice {
  return Object.values<string>(TaskMenuChoices).includes(value);
}

const menuOptions: PlainTextOption[] = [
  { text: plainText('Mark done…', 75), value: TaskMenuChoices.done },
  { text: plainText('Snooze 1 day', 75), value: TaskMenuChoices.snoozeDay },
  { text: plainText('Snooze 1 week', 75), value: TaskMenuChoices.snoozeWeek },
  { text: plainText('Snooze until…', 75), value: TaskMenuChoices.snoozeUntil },
  { text: plainText('Reassign…', 75), value: TaskMenuChoices.reassign },
];

function taskMenu(): Overflow {
  return { type: 'overflow', action_id: ActionIds.taskMenu, options: menuOptions };
}

/**
 * Characters of text in blocks, counted the way Slack's `msg_blocks_too_long` seems to (every text, labels
 * included), so a message can budget its lists against the ~12k Slack accepts.
 */
export function blocksTextLength(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + blocksTextLength(item), 0);
  if (typeof value !== 'object' || value === null) return 0;
  return Object.entries(value).reduce((sum, [key, item]) => sum + (key === 'text' && typeof item === 'string' ? item.length : blocksTextLength(item)), 0);
}

/** "overdue since 2026-11-20 (5 days)", "due today", "due 2026-12-01 (in 6 days)". */
export function duePhrase(task: TaskItem['task'], now: Date): string {
  const days = daysUntil(task.dueOn, now);
  if (isOverdue(task, now)) return `:rotating_light: *overdue* since ${task.dueOn} (${plural(-days, 'day')})`;
  if (days === 0) return '*due today*';
  return days < 0 ? `was due ${task.dueOn}` : `due ${task.dueOn} (in ${plural(days, 'day')})`;
}

/** What created a task when no rule firing says more; a person's own task needs no reason. */
const sourceNames: Record<Exclude<TaskSource, 'person'>, string> = {
  rule_firing: 'a rule',
  renewal_checkpoint: 'a renewal checkpoint',
  digest_item: 'the at-risk digest',
  handoff_step: 'a handoff step',
  playbook: 'a playbook',
};

/** Why the task exists, in a line: the firing that created it, or what kind of occasion did. */
function whyLine(item: TaskItem): string | undefined {
  if (item.playbookName) {
    const firing = item.firing ? `: ${ruleTitle(item.firing.rule)}: ${item.firing.reason}` : '';
    return `Why: ${escapeMrkdwn(truncate(`${item.playbookName} playbook${firing}`, 200))}`;
  }
  if (item.firing) return `Why: ${escapeMrkdwn(truncate(`${ruleTitle(item.firing.rule)}: ${item.firing.reason}`, 200))}`;
  if (item.task.source === 'person') return undefined;
  return `Why: ${sourceNames[item.task.source]}`;
}

export interface TaskLineOptions {
  /** Lists of someone else's work (an account card) name each task's owner. */
  showOwner?: boolean;
}

/** One task as a list shows it: title, account, when it is due, whose it is, why it exists. */
export function taskText(item: TaskItem, now: Date, options: TaskLineOptions = {}): string {
  const { task } = item;
  const state = taskState(task, now);
  const facts = [duePhrase(task, now)];
  if (options.showOwner) facts.push(`owner ${escapeMrkdwn(truncate(item.ownerName, 100))}`);
  if (state === 'snoozed' && task.snoozedUntil) facts.push(`:zzz: snoozed until ${slackDate(task.snoozedUntil)}`);
  const why = whyLine(item);
  return [`*${escapeMrkdwn(truncate(task.title, 200))}* · ${escapeMrkdwn(truncate(item.accountName, 150))}`, facts.join(' · '), ...(why ? [`_${why}_`] : [])].join('\n');
}

/** A task with its actions: one section, the overflow menu beside it. */
export function taskSection(item: TaskItem, now: Date, list: TaskList, options: TaskLineOptions = {}): SectionBlock {
  return {
    type: 'section',
    block_id: taskBlockId(item.task.id, item.task.version, list),
    text: { type: 'mrkdwn', text: truncate(taskText(item, now, options), 3000) },
    accessory: taskMenu(),
  };
}

export interface TaskSectionsOptions extends TaskLineOptions {
  /** How many tasks there are in all: more than `items` when the list was read a page at a time. */
  total: number;
  /** Task sections the list may use (the "…and N more" line is one more block). */
  maxTasks: number;
  /** Characters of text the sections may use in all. */
  maxChars: number;
  /** The closing line when not every task is shown: how many were left out, and where to see them all. */
  more: (left: number) => string;
}

/**
 * Tasks as sections with their menus, within a block and character budget. Nothing is cut silently: a task is
 * shown whole, or counted in the closing "…and N more" line.
 */
export function taskSections(items: TaskItem[], now: Date, list: TaskList, options: TaskSectionsOptions): { blocks: (SectionBlock | ContextBlock)[]; shown: number } {
  const blocks: (SectionBlock | ContextBlock)[] = [];
  // Room for the closing line, which is at most a few hundred characters.
  const budget = options.maxChars - 300;
  let used = 0;
  for (const item of items.slice(0, options.maxTasks)) {
    const section = taskSection(item, now, list, options);
    const cost = blocksTextLength(section);
    if (used + cost > budget) break;
    blocks.push(section);
    used += cost;
  }
  const shown = blocks.length;
  const left = Math.max(options.total, items.length) - shown;
  if (left > 0) blocks.push(contextBlock(options.more(left)));
  return { blocks, shown };
}

/** The plain-text fallback of a task list: the first few, by title and account. */
export function tasksFallback(items: TaskItem[], total: number): string {
  const named = items.slice(0, 10).map((item) => `${item.task.title} (${item.accountName}, due ${item.task.dueOn})`);
  return `${named.join(', ')}${total > named.length ? ', …' : ''}`;
}

/** A person's own open tasks, counted: what `/lifeline tasks`, App Home and the morning DM show. */
export interface OwnTasks {
  /** The first of them, soonest due first. */
  items: TaskItem[];
  /** Open tasks in all. */
  open: number;
  /** Of those, due today or earlier. */
  due: number;
  /** Of those, overdue (due before today). */
  overdue: number;
  /** Put aside until a later day; not in `items`. */
  snoozed: number;
}

function countsLine(tasks: Pick<OwnTasks, 'open' | 'due' | 'overdue'>): string {
  const dueToday = tasks.due - tasks.overdue;
  return `${plural(tasks.open, 'open task')}: ${tasks.overdue} overdue, ${dueToday} due today`;
}

// `/lifeline tasks`: header, summary, the tasks and the closing line stay far below 50 blocks; the characters
// are budgeted against the ~12k Slack accepts in one message.
const MESSAGE_TASKS = 20;

/** `/lifeline tasks`: the person's open tasks, soonest due first, each with its menu. */
export function myTasksMessage(tasks: OwnTasks, now: Date): SlackMessage {
  if (tasks.open === 0) {
    const text =
      tasks.snoozed > 0
        ? `You have no open tasks; ${plural(tasks.snoozed, 'snoozed task comes', 'snoozed tasks come')} back on ${tasks.snoozed === 1 ? 'its' : 'their'} day.`
        : 'You have no open tasks. :tada:';
    return { text, blocks: [sectionBlock(text)] };
  }
  const summary = `*${countsLine(tasks)}*${tasks.snoozed > 0 ? ` (and ${tasks.snoozed} snoozed)` : ''}. Soonest due first; use the ⋯ menu beside a task to mark it done, snooze or reassign it.`;
  const list = taskSections(tasks.items, now, { kind: 'mine' }, {
    total: tasks.open,
    maxTasks: MESSAGE_TASKS,
    maxChars: MESSAGE_LIST_TEXT_MAX,
    more: (left) => `…and ${left} more: finish or snooze some to see the next, or list them all with the GraphQL query \`tasks\`.`,
  });
  const blocks: KnownBlock[] = [{ type: 'header', text: plainText('Your open tasks', 150) }, sectionBlock(summary), ...list.blocks];
  return { text: truncate(`${countsLine(tasks)}, soonest due first: ${tasksFallback(tasks.items.slice(0, list.shown), tasks.open)}`, 3000), blocks };
}

// App Home holds 100 blocks; My tasks takes a divider, a heading, ten tasks and a closing line. A view has no
// character budget short of its 250 kB.
const HOME_TASKS = 10;

/** App Home's "My tasks": due and overdue first (the list is soonest due first), within its share of the tab. */
export function homeTaskBlocks(tasks: OwnTasks, now: Date): KnownBlock[] {
  if (tasks.open === 0) return [];
  const list = taskSections(tasks.items, now, { kind: 'home' }, {
    total: tasks.open,
    maxTasks: HOME_TASKS,
    maxChars: Number.POSITIVE_INFINITY,
    more: (left) => `…and ${left} more: \`/lifeline tasks\` lists more, the GraphQL query \`tasks\` all of them.`,
  });
  return [{ type: 'divider' }, sectionBlock(`*My tasks* · ${countsLine(tasks)}`), ...list.blocks];
}

// The card keeps its own few blocks and at most this many tasks, in a message (50) as in a modal (100).
const CARD_TASKS = 8;
const CARD_TASKS_TEXT = 6000;

/** The open tasks on an account card (snoozed ones say until when), each with its menu. */
export function cardTaskBlocks(accountId: string, tasks: TaskItem[], now: Date): KnownBlock[] {
  if (tasks.length === 0) return [];
  const list = taskSections(tasks, now, { kind: 'card', accountId }, {
    total: tasks.length,
    maxTasks: CARD_TASKS,
    maxChars: CARD_TASKS_TEXT,
    showOwner: true,
    more: (left) => `…and ${left} more: the GraphQL query \`tasks(filter: { accountId: "${accountId}" })\` lists them all.`,
  });
  return [sectionBlock(`*Open tasks* (${tasks.length})`), ...list.blocks];
}

/** A person's tasks due today and overdue: what the morning DM lists beside their at-risk accounts. */
export interface DueTasks {
  items: TaskItem[];
  /** Due in all; more than `items` when there are many. */
  total: number;
  /** Of those, overdue (due before today). */
  overdue: number;
}

const DIGEST_TASKS = 10;

/**
 * The tasks part of the morning DM, within what the rest of the message leaves: `maxBlocks` and `maxChars` are
 * its share of Slack's 50 blocks and ~12k characters.
 */
export function dueTaskBlocks(tasks: DueTasks, ownerId: string, options: { day: string; now: Date; maxBlocks: number; maxChars: number }): KnownBlock[] {
  const header: KnownBlock = { type: 'header', text: plainText(`Your tasks due · ${options.day}`, 150) };
  if (tasks.total === 0) return [header, sectionBlock(':white_check_mark: Nothing left due today.')];
  const summary = `*${plural(tasks.total, 'task')}* due today or overdue${tasks.overdue > 0 ? ` (${tasks.overdue} overdue)` : ''}. Use the ⋯ menu beside a task to mark it done, snooze or reassign it.`;
  const head = [header, sectionBlock(summary)];
  const list = taskSections(tasks.items, options.now, { kind: 'digest', ownerId }, {
    total: tasks.total,
    maxTasks: Math.max(0, Math.min(DIGEST_TASKS, options.maxBlocks - head.length - 1)),
    maxChars: options.maxChars - blocksTextLength(head),
    more: (left) => `…and ${left} more due: \`/lifeline tasks\` lists your open tasks.`,
  });
  return [...head, ...list.blocks];
}

export function dueTasksFallback(tasks: DueTasks, day: string): string {
  if (tasks.total === 0) return `Tasks due ${day}: nothing left due today.`;
  return `Tasks due ${day}: ${tasks.total}, soonest first: ${tasksFallback(tasks.items, tasks.total)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// One task: the DM to its new owner, the overdue note to a manager

export interface TaskNoteInput {
  item: TaskItem;
  now: Date;
  /** The note's own list, so an action on it redraws the note. */
  list: Extract<TaskList, { kind: 'assigned' | 'overdue' }>;
  /** The first line, plain text: what happened. */
  intro: string;
  /** An emoji shortcode before it. */
  emoji: string;
  /** Why the reader gets this, when known. */
  why?: string | undefined;
  /** Who finished it, when it is done or cancelled. */
  finishedBy?: string | null | undefined;
}

/** How a finished task reads: done by whom and when, with the outcome; or cancelled. */
function finishedLine(item: TaskItem, finishedBy: string | null | undefined): string {
  const { task } = item;
  const by = finishedBy ? ` by ${escapeMrkdwn(finishedBy)}` : '';
  const note = task.outcomeNote ? `: “${escapeMrkdwn(truncate(task.outcomeNote, 500))}”` : '';
  if (task.status === 'done') return `:white_check_mark: Done${by}${task.completedAt ? ` ${slackDate(task.completedAt)}` : ''}${note}`;
  return `:no_entry_sign: Cancelled${by}${task.cancelledAt ? ` ${slackDate(task.cancelledAt)}` : ''}${note}`;
}

/** A note about one task with its actions while it is open or snoozed, and how it ended once finished. */
export function taskNoteMessage(input: TaskNoteInput): SlackMessage {
  const { item, now } = input;
  const state = taskState(item.task, now);
  const finished = state === 'done' || state === 'cancelled';
  const blocks: KnownBlock[] = [sectionBlock(`${input.emoji} ${escapeMrkdwn(input.intro)}`)];
  if (finished) {
    blocks.push(sectionBlock(`*${escapeMrkdwn(truncate(item.task.title, 200))}* · ${escapeMrkdwn(truncate(item.accountName, 150))}\n${finishedLine(item, input.finishedBy)}`));
  } else {
    blocks.push(taskSection(item, now, input.list, { showOwner: input.list.kind === 'overdue' }));
  }
  if (input.why) blocks.push(contextBlock(input.why));
  const status = finished ? (item.task.status === 'done' ? 'done' : 'cancelled') : `due ${item.task.dueOn}`;
  return { text: truncate(`${input.intro} ${item.task.title} (${item.accountName}), ${status}.`, 3000), blocks };
}

// ---------------------------------------------------------------------------------------------------------------
// Forms

function taskSummary(item: TaskItem, now: Date): string {
  return `*${escapeMrkdwn(truncate(item.task.title, 200))}* · ${escapeMrkdwn(truncate(item.accountName, 150))}\n${duePhrase(item.task, now)} · owner ${escapeMrkdwn(truncate(item.ownerName, 100))}`;
}

function form(callbackId: string, title: string, submit: string, privateMetadata: string, blocks: KnownBlock[]): ModalView {
  // Modal titles and buttons: 24 characters at most.
  return { type: 'modal', callback_id: callbackId, title: plainText(title, 24), submit: plainText(submit, 24), close: plainText('Cancel', 24), private_metadata: privateMetadata, blocks };
}

/** "Mark done…": the outcome in a sentence, optional. */
export function taskDoneModal(item: TaskItem, now: Date, privateMetadata: string): ModalView {
  return form(CallbackIds.taskDone, 'Mark task done', 'Mark done', privateMetadata, [
    sectionBlock(taskSummary(item, now)),
    {
      type: 'input',
      block_id: FieldIds.outcomeNote,
      optional: true,
      label: plainText('Outcome (optional)', 2000),
      hint: plainText('What happened, in a sentence: it stays with the task, for whoever picks the account up next.', 2000),
      element: {
        type: 'plain_text_input',
        action_id: INPUT_ACTION,
        multiline: true,
        max_length: MAX_OUTCOME_NOTE,
        placeholder: plainText('e.g. Champion confirmed the renewal plan on a call', 150),
      },
    },
  ]);
}

/** "Snooze until…": a day; the task comes back open that morning. */
export function taskSnoozeModal(item: TaskItem, now: Date, privateMetadata: string): ModalView {
  const nextWeek = isoDay(addDays(now, 7));
  return form(CallbackIds.taskSnooze, 'Snooze task', 'Snooze', privateMetadata, [
    sectionBlock(taskSummary(item, now)),
    {
      type: 'input',
      block_id: FieldIds.until,
      label: plainText('Snooze until', 2000),
      hint: plainText(`It leaves your lists and comes back open on that day (UTC), at most ${MAX_SNOOZE_DAYS} days from now.`, 2000),
      element: { type: 'datepicker', action_id: INPUT_ACTION, initial_date: nextWeek, placeholder: plainText('Choose a day', 150) },
    },
  ]);
}

/** "Reassign…": anyone in Slack; the submission checks they are linked to Lifeline and may own tasks. */
export function taskReassignModal(item: TaskItem, now: Date, privateMetadata: string): ModalView {
  return form(CallbackIds.taskReassign, 'Reassign task', 'Reassign', privateMetadata, [
    sectionBlock(taskSummary(item, now)),
    {
      type: 'input',
      block_id: FieldIds.ownerId,
      label: plainText('New owner', 2000),
      hint: plainText('They get a DM with the task. Only people linked to Lifeline who do customer work can own tasks.', 2000),
      element: { type: 'users_select', action_id: INPUT_ACTION, placeholder: plainText('Choose a person', 150) },
    },
  ]);
}
