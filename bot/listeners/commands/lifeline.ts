import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { searchAccountsByName } from '../../../domain/accounts/reads.ts';
import { listUpcomingRenewals } from '../../../domain/accounts/book.ts';
import { digestDay, listDigestItems } from '../../../domain/digest.ts';
import { renderAccountCard } from '../../cards.ts';
import type { BotDeps } from '../../deps.ts';
import { slackPersonLinkingByEmail } from '../../person.ts';
import { accountChooser, helpMessage, noticeMessage } from '../../views/account-card.ts';
import { atRiskDigest } from '../../views/digest.ts';
import { renewalsMessage } from '../../views/home.ts';
import { loadOwnTasks } from '../../task-lists.ts';
import { myTasksMessage } from '../../views/tasks.ts';

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

// The answer shows at most twenty tasks; a few more read tells nothing the counts do not.
const TASK_PAGE = 25;

/**
 * `/lifeline <subcommand> …`. Answers are ephemeral: only the person who asked sees accounts. An unlinked Slack user
 * is linked by their profile email first, or told why they cannot be.
 */
export function lifelineCommand({ db, clock, renewalWindowDays }: BotDeps) {
  return async ({ ack, command, respond, context, client }: CommandArgs): Promise<void> => {
    await ack();
    // Someone not linked yet is linked by their Slack profile email when it is exactly one person's, then served.
    const { user, actor: reader } = await slackPersonLinkingByEmail(db, client, context, command.user_id);
    const [subcommand = '', ...rest] = command.text.trim().split(/\s+/);
    const argument = rest.join(' ');
    const now = clock?.() ?? new Date();

    switch (subcommand.toLowerCase()) {
      case '':
      case 'help':
        await respond({ response_type: 'ephemeral', ...helpMessage(undefined, renewalWindowDays) });
        return;
      case 'at-risk':
      case 'atrisk': {
        const items = await listDigestItems(db, { csmId: user.id, now, reader });
        await respond({ response_type: 'ephemeral', ...atRiskDigest(items, { day: digestDay(now), now, csmId: user.id }) });
        return;
      }
      case 'tasks':
      case 'task': {
        const tasks = await loadOwnTasks(db, { reader, ownerId: user.id, now, first: TASK_PAGE });
        await respond({ response_type: 'ephemeral', ...myTasksMessage(tasks, now) });
        return;
      }
      case 'renewals': {
        const renewals = await listUpcomingRenewals(db, { reader, now, days: renewalWindowDays });
        await respond({ response_type: 'ephemeral', ...renewalsMessage(renewals, now, renewalWindowDays) });
        return;
      }
      case 'account': {
        if (argument === '') {
          await respond({ response_type: 'ephemeral', ...helpMessage('Which account? Try `/lifeline account Acme`.', renewalWindowDays) });
          return;
        }
        const matches = await searchAccountsByName(db, { query: argument, limit: 11, reader });
        const exact = matches.filter((account) => account.name.toLowerCase() === argument.toLowerCase());
        const chosen = exact.length === 1 ? exact[0] : matches.length === 1 ? matches[0] : undefined;
        if (chosen) {
          const card = await renderAccountCard(db, chosen.id, { shareable: true, reader });
          await respond({ response_type: 'ephemeral', ...card });
        } else if (matches.length === 0) {
          await respond({
            response_type: 'ephemeral',
            ...noticeMessage(`No account matches “${argument}”. Check the spelling, or try part of the name.`),
          });
        } else {
          await respond({ response_type: 'ephemeral', ...accountChooser(argument, matches) });
        }
        return;
      }
      default:
        await respond({ response_type: 'ephemeral', ...helpMessage(`I don't know \`${subcommand}\`.`, renewalWindowDays) });
    }
  };
}
