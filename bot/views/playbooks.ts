import type { ContextBlock, KnownBlock, ModalView } from '@slack/types';
import type { PlaybookRunItem } from '../../domain/plays/playbook-runs.ts';
import type { PlaybookWithSteps } from '../../domain/plays/playbooks.ts';
import type { TaskItem } from '../../domain/plays/tasks.ts';
import { CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import { escapeMrkdwn, plainText, plural, sectionBlock, truncate } from './format.ts';

// Slack limits (SLACK-NOTES.md): 100 options in a static select, 75 characters an option, 3000 a context text.
const MAX_OPTIONS = 100;

/** The plays running on an account, in a line: "Running plays: Risk (2 open tasks) · Onboarding (4 open tasks)". */
export function runningPlaysBlock(runs: readonly (Pick<PlaybookRunItem, 'playbookName' | 'openTasks'> & { run: Pick<PlaybookRunItem['run'], 'status'> })[]): ContextBlock | undefined {
  const running = runs.filter((item) => item.run.status === 'running');
  if (running.length === 0) return undefined;
  const plays = running.map((item) => `*${escapeMrkdwn(truncate(item.playbookName, 100))}* (${plural(item.openTasks, 'open task')})`);
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`:clipboard: Running plays: ${plays.join(' · ')}`, 3000) }] };
}

/** The form to start a playbook on an account by hand: one select of the active playbooks. */
export function startPlaybookModal(accountName: string, playbooks: readonly PlaybookWithSteps[], metadata: string): ModalView {
  const options = playbooks.slice(0, MAX_OPTIONS).map(({ playbook, steps }) => ({
    text: plainText(truncate(`${playbook.name} (${plural(steps.length, 'step')})`, 75), 75),
    value: playbook.id,
  }));
  return {
    type: 'modal',
    callback_id: CallbackIds.playbookStart,
    private_metadata: metadata,
    title: plainText('Start a playbook', 24),
    submit: plainText('Start', 24),
    close: plainText('Cancel', 24),
    blocks: [
      sectionBlock(truncate(`Each step becomes a task for the right person on *${escapeMrkdwn(accountName)}*, due from today.`, 3000)),
      {
        type: 'input',
        block_id: FieldIds.playbookId,
        label: plainText('Playbook', 2000),
        element: { type: 'static_select', action_id: INPUT_ACTION, placeholder: plainText('Choose a playbook', 150), options },
      },
    ],
  };
}

/** What a started playbook created: each task, its owner and due day (at most 20 steps: one section). */
export function playbookStartedMessage(items: readonly TaskItem[]): { text: string; blocks: KnownBlock[] } {
  const first = items[0];
  const heading = first ? `:clipboard: Started *${escapeMrkdwn(first.playbookName ?? 'the playbook')}* on *${escapeMrkdwn(first.accountName)}*:` : 'Started the playbook: it had no one to give its steps to.';
  const lines = items.map((item) => `• ${escapeMrkdwn(truncate(item.task.title, 200))} · ${escapeMrkdwn(truncate(item.ownerName, 100))} · due ${item.task.dueOn}`);
  const text = truncate([heading, ...lines].join('\n'), 3000);
  return { text, blocks: [sectionBlock(text)] };
}
