import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BlockAction, DatepickerAction } from '@slack/bolt';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, cardBlockId, taskBlockId } from '../../bot/ids.ts';
import { encodePlaybookStartForm } from '../../bot/playbook-form.ts';
import { encodeTaskForm } from '../../bot/task-form.ts';
import { requirePlaybook } from '../../domain/plays/playbooks.ts';
import { encodeDigestValue } from '../../bot/views/digest.ts';
import { type TaskMenuChoice, TaskMenuChoices } from '../../bot/views/tasks.ts';
import { type Account, type Task, type UserRole, atRiskFollowUps, csmSentiments, playbookRuns, renewalCalls, renewalOutcomes, tasks } from '../../db/schema.ts';
import type { Actor } from '../../domain/actors.ts';
import { createTask } from '../../domain/plays/tasks.ts';
import { createAccount } from '../support/factories.ts';
import type { RecordedCall } from '../support/fake-slack.ts';
import {
  type SlackHttpResponse,
  type ViewStateValues,
  appHomeOpenedEvent,
  buttonAction,
  ephemeralBlockAction,
  slashCommand,
  staticSelectAction,
  viewSubmissionPayload,
} from '../support/slack-requests.ts';
import { clickedOverflow, pickedDate, pickedOption, pickedUser, typedText } from '../support/task-clicks.ts';
import {
  type Expectation,
  PEOPLE_ROLES,
  Tally,
  acceptVariants,
  accountById,
  aeHandoffVariants,
  classification,
  csmVariants,
  dayIn,
  db,
  expansionSignal,
  handoffAt,
  leadOfSignal,
  leadStatusIs,
  leadVariants,
  qualifiedLead,
  movedTo,
  only,
  openRenewal,
  RENEWAL_ARR_CENTS,
  renewalVariants,
  otherAe,
  otherBook,
  otherCsm,
  ownBook,
  person,
  reached,
  reportAuthorization,
  stack,
  stageMoveVariants,
  unique,
  useAuthorizationFixture,
} from './support/authorization.ts';

// Every Slack entry point the bot registers (actions, modals, slash subcommands, events), tried by every role and by
// a Slack user linked to nobody: what each may read and change from Slack.

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

useAuthorizationFixture();

type SlackActor = UserRole | 'unlinked';
const SLACK_ACTORS: SlackActor[] = [...PEOPLE_ROLES, 'unlinked'];
const UNLINKED_SLACK_USER = 'UAUTHZNOBODY';
const everyoneLinked = only(...PEOPLE_ROLES);
const readsOwn = everyoneLinked;
const readsOthers = only('admin', 'manager', 'csm', 'viewer');

interface SlackContext {
  /** Tags everything this one request causes: its response_url, its trigger_id, the channel it came from. */
  tag: string;
  userId: string;
  responseUrl: string;
  channel: string;
}

interface SlackAttempt {
  send(): Promise<SlackHttpResponse>;
  /** The change or the content an allowed request produces. */
  effect(calls: RecordedCall[]): Promise<boolean> | boolean;
  /** What an allowed answer must (not) show, e.g. an AE's digest page holds only their accounts. */
  verify?(calls: RecordedCall[]): string | undefined;
  /** Content (an account id or name) that must not reach the person when the request is not allowed. */
  secret?: string;
}

interface SlackCase {
  /** `action:<action_id>`, `view:<callback_id>`, `command:/lifeline <subcommand>` or `event:<type>`. */
  entry: string;
  variant?: string;
  expect: (actor: SlackActor) => Expectation;
  prepare: (context: SlackContext) => Promise<SlackAttempt>;
}

function slackUserOf(actor: SlackActor): string {
  return actor === 'unlinked' ? UNLINKED_SLACK_USER : (person(actor).slackUserId ?? '');
}

const ephemeralContainer = (channel: string) => ({ type: 'message' as const, channelId: channel, messageTs: '1700000000.000100', isEphemeral: true });

function replies(context: SlackContext, calls: RecordedCall[]): RecordedCall[] {
  return calls.filter((call) => call.responseId === context.tag);
}

/** The content an answer shows (blocks and views), where an account's details would be. */
function shown(call: RecordedCall): string {
  return JSON.stringify([call.body.blocks ?? null, call.body.view ?? null]);
}

const repliedWith = (context: SlackContext, needle: string) => (calls: RecordedCall[]) => replies(context, calls).some((call) => call.outcome === 'ok' && shown(call).includes(needle));
const modalOpened = (context: SlackContext) => (calls: RecordedCall[]) => calls.some((call) => call.method === 'views.open' && call.body.trigger_id === context.tag && call.outcome === 'ok');

function button(context: SlackContext, actionId: string, value: string, blockId = 'authz'): () => Promise<SlackHttpResponse> {
  return () =>
    client().blockAction(
      buttonAction({ userId: context.userId, actionId, blockId, value, responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag }),
    );
}

function command(context: SlackContext, text: string): () => Promise<SlackHttpResponse> {
  return () => client().command(slashCommand({ text, user_id: context.userId, response_url: context.responseUrl, channel_id: context.channel, trigger_id: context.tag }));
}

function client() {
  const found = stack().slackClients[0];
  if (!found) throw new Error('no replica');
  return found;
}

const digestValue = (accountId: string) => encodeDigestValue({ accountId, csmId: null, page: 0 });

async function followUp(accountId: string) {
  const [row] = await db().select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, accountId));
  return row;
}

/** The digest, the at-risk list, App Home: the AE's shows only accounts they sold; everyone else's shows all. */
const bookVerifier = (actor: SlackActor, context: SlackContext, options: { othersSeeAll: boolean }) => (calls: RecordedCall[]) => {
  const content = calls.filter((call) => call.responseId === context.tag || call.method === 'views.publish').map(shown).join('');
  if (actor === 'ae' && content.includes(otherBook().account.id)) return 'an AE was shown an account they did not sell';
  if (options.othersSeeAll && actor !== 'ae' && !content.includes(otherBook().account.id)) return 'the other account is missing';
  return undefined;
};

const bookVariants = [
  ['own account', () => ownBook().account, readsOwn],
  ["other people's account", () => otherBook().account, readsOthers],
] as const;

const reasonValues: ViewStateValues = { [FieldIds.reason]: { [INPUT_ACTION]: { type: 'plain_text_input', value: 'Checked by the authorization scenario' } } };
const contextValues: ViewStateValues = Object.fromEntries(
  [FieldIds.goals, FieldIds.promises, FieldIds.stakeholders, FieldIds.risks].map((field) => [field, { [INPUT_ACTION]: { type: 'plain_text_input', value: `Authz ${field}` } }]),
);

const taskFixtureActor: Actor = { userId: null, role: 'admin', label: 'Authz fixture' };

/** A task an admin gave to `ownerId` on `accountId` (due tomorrow unless said): made the way people make them. */
async function taskOn(accountId: string, ownerId: string, dueOn = dayIn(1)): Promise<Task> {
  // In brackets, so no title is the start of another's.
  return createTask(db(), { accountId, ownerId, title: `Authz task (${unique('t')})`, dueOn, actor: taskFixtureActor, now: new Date() });
}

async function taskById(id: string): Promise<Task | undefined> {
  const [row] = await db().select().from(tasks).where(eq(tasks.id, id));
  return row;
}

/** The change an allowed task action makes: the task row, read again, shows it. */
const taskMade = (before: Task, made: (task: Task, before: Task) => boolean) => async () => {
  const now = await taskById(before.id);
  return now !== undefined && made(now, before);
};
const isDone = (task: Task) => task.status === 'done';
const isSnoozed = (task: Task) => task.status === 'snoozed';
const ownerChanged = (task: Task, before: Task) => task.ownerId !== before.ownerId;

/**
 * Who acts on a task from Slack (the menu beside it, its forms): admins, its owner, the account's CSM, a manager
 * (nobody reports to anyone in the fixture), an AE only on a task given to them; viewers never.
 */
type TaskVariant = readonly [variant: string, owners: () => { csmId: string; aeId: string }, owner: () => string, expect: (actor: SlackActor) => Expectation];

const taskVariants: readonly TaskVariant[] = [
  ["the CSM's own task on their account", () => ({ csmId: person('csm').id, aeId: person('ae').id }), () => person('csm').id, only('admin', 'manager', 'csm')],
  ["a task given to the AE on the CSM's account", () => ({ csmId: person('csm').id, aeId: person('ae').id }), () => person('ae').id, only('admin', 'manager', 'csm', 'ae')],
  ["another CSM's task on their account", () => ({ csmId: otherCsm().id, aeId: otherAe().id }), () => otherCsm().id, only('admin', 'manager')],
];

/** The task as `/lifeline tasks` shows it, in an ephemeral answer: the list the menu's block id names. */
function taskMenuClick(context: SlackContext, task: Task, choice: TaskMenuChoice): () => Promise<SlackHttpResponse> {
  return () =>
    client().blockAction(
      ephemeralBlockAction(
        { userId: context.userId, channelId: context.channel, responseUrl: context.responseUrl, triggerId: context.tag },
        clickedOverflow({ actionId: ActionIds.taskMenu, blockId: taskBlockId(task.id, task.version, { kind: 'mine' }), value: choice }),
      ),
    );
}

/** A task form submitted, as the menu opened it from an ephemeral `/lifeline tasks` answer. */
function taskFormSubmit(context: SlackContext, task: Task, callbackId: string, values: ViewStateValues): () => Promise<SlackHttpResponse> {
  const privateMetadata = encodeTaskForm({ taskId: task.id, version: task.version, origin: { list: { kind: 'mine' }, responseUrl: context.responseUrl, ephemeral: true } });
  return () => client().viewSubmission(viewSubmissionPayload({ userId: context.userId, callbackId, privateMetadata, values }));
}

const taskMenuAttempts: readonly (readonly [choice: TaskMenuChoice, attempt: (context: SlackContext, task: Task) => Pick<SlackAttempt, 'effect' | 'secret'>])[] = [
  // Snoozing a day or a week happens at once; the others open their form, which shows the task.
  [TaskMenuChoices.snoozeDay, (_context, task) => ({ effect: taskMade(task, isSnoozed) })],
  [TaskMenuChoices.snoozeWeek, (_context, task) => ({ effect: taskMade(task, isSnoozed) })],
  [TaskMenuChoices.done, (context, task) => ({ effect: modalOpened(context), secret: task.title })],
  [TaskMenuChoices.snoozeUntil, (context, task) => ({ effect: modalOpened(context), secret: task.title })],
  [TaskMenuChoices.reassign, (context, task) => ({ effect: modalOpened(context), secret: task.title })],
];

const taskForms: readonly (readonly [callbackId: string, values: () => ViewStateValues, made: (task: Task, before: Task) => boolean])[] = [
  [CallbackIds.taskDone, () => ({ [FieldIds.outcomeNote]: { [INPUT_ACTION]: typedText('Checked by the authorization scenario') } }), isDone],
  [CallbackIds.taskSnooze, () => ({ [FieldIds.until]: { [INPUT_ACTION]: pickedDate(dayIn(3)) } }), isSnoozed],
  [CallbackIds.taskReassign, () => ({ [FieldIds.ownerId]: { [INPUT_ACTION]: pickedUser(person('admin').slackUserId) } }), ownerChanged],
];

const slackCases: SlackCase[] = [
  // Reading an account: a card for the person who asked, or one shared in the channel.
  ...bookVariants.flatMap(([variant, account, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.openAccount}`,
      variant,
      expect,
      prepare: async (context) => ({ send: button(context, ActionIds.openAccount, account().id), effect: repliedWith(context, account().id), secret: account().id }),
    },
    {
      entry: `action:${ActionIds.digestOpenAccount}`,
      variant,
      expect,
      prepare: async (context) => ({ send: button(context, ActionIds.digestOpenAccount, digestValue(account().id)), effect: repliedWith(context, account().id), secret: account().id }),
    },
    {
      entry: `action:${ActionIds.shareCard}`,
      variant,
      expect,
      prepare: async (context) => ({
        send: button(context, ActionIds.shareCard, account().id),
        // Shared through the click's response_url, which works where the bot is not a member of the conversation.
        effect: (calls) =>
          replies(context, calls).some((call) => call.outcome === 'ok' && call.body.response_type === 'in_channel' && shown(call).includes(account().name)),
        secret: account().id,
      }),
    },
    {
      entry: 'command:/lifeline account',
      variant,
      // Searching for an account one may not read finds nothing, as the API answers null for it.
      expect: (actor) => (expect(actor) === 'denied' && actor !== 'unlinked' ? 'hidden' : expect(actor)),
      prepare: async (context) => ({ send: command(context, `account ${account().name}`), effect: repliedWith(context, account().id), secret: account().id }),
    },
  ]),

  // Stage moves, on a card and in the reason modal.
  ...stageMoveVariants.flatMap(([variant, from, to, owners, expect]): SlackCase[] => {
    /** Each attempt moves an account of its own, in `from` and owned as the variant says. */
    const onFreshAccount = (entry: string, attempt: (context: SlackContext, account: Account) => SlackAttempt): SlackCase => ({
      entry,
      variant,
      expect,
      prepare: async (context) => attempt(context, await createAccount(db(), { stageKey: from, ...owners() })),
    });
    return [
      onFreshAccount(`action:${ActionIds.stageSelect}`, (context, account) => ({
        send: () =>
          client().blockAction(
            staticSelectAction({ userId: context.userId, actionId: ActionIds.stageSelect, blockId: cardBlockId(account.id, 1), selectedValue: to, responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag }),
          ),
        effect: movedTo(account.id, to),
      })),
      onFreshAccount(`view:${CallbackIds.stageMove}`, (context, account) => ({
        send: () =>
          client().viewSubmission(
            viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.stageMove, privateMetadata: JSON.stringify({ accountId: account.id, version: 1, toStage: to }), values: reasonValues }),
          ),
        effect: movedTo(account.id, to),
      })),
      onFreshAccount(`action:${ActionIds.digestMoveStage}`, (context, account) => ({
        send: button(context, ActionIds.digestMoveStage, digestValue(account.id)),
        effect: modalOpened(context),
        secret: account.name,
      })),
    ];
  }),

  // CSM sentiment, from a card and its form: the account's CSM, a manager (nobody reports to anyone here) or an admin.
  ...csmVariants('account').flatMap(([variant, csmId, expect]): SlackCase[] => {
    /** Each attempt acts on an account of its own, sold by the fixture's AE (who reads it and is still refused). */
    const onFreshAccount = (entry: string, attempt: (context: SlackContext, account: Account) => SlackAttempt): SlackCase => ({
      entry,
      variant,
      expect,
      prepare: async (context) => attempt(context, await createAccount(db(), { csmId: csmId(), aeId: person('ae').id })),
    });
    const sentimentSet = (account: Account) => async () => (await db().select().from(csmSentiments).where(eq(csmSentiments.accountId, account.id))).length > 0;
    return [
      onFreshAccount(`action:${ActionIds.setSentiment}`, (context, account) => ({
        send: button(context, ActionIds.setSentiment, account.id, cardBlockId(account.id, 1)),
        effect: modalOpened(context),
      })),
      onFreshAccount(`view:${CallbackIds.setSentiment}`, (context, account) => ({
        send: () =>
          client().viewSubmission(
            viewSubmissionPayload({
              userId: context.userId,
              callbackId: CallbackIds.setSentiment,
              privateMetadata: JSON.stringify({ accountId: account.id }),
              values: {
                [FieldIds.sentiment]: { [INPUT_ACTION]: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: 'Negative' }, value: 'negative' } } },
                [FieldIds.note]: { [INPUT_ACTION]: typedText('Checked by the authorization scenario') },
              },
            }),
          ),
        effect: sentimentSet(account),
      })),
    ];
  }),

  // Handoffs: the AE confirms (or edits and confirms), the CSM accepts and schedules the kickoff.
  ...aeHandoffVariants.flatMap(([variant, aeId, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.handoffConfirm}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        return { send: button(context, ActionIds.handoffConfirm, handoff.id, `handoff:${handoff.id}:1`), effect: reached(handoff.id, 'confirmed') };
      },
    },
    {
      entry: `action:${ActionIds.handoffEdit}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        const account = await accountById(handoff.accountId);
        return { send: button(context, ActionIds.handoffEdit, handoff.id, `handoff:${handoff.id}:1`), effect: modalOpened(context), ...(account ? { secret: account.name } : {}) };
      },
    },
    {
      entry: `view:${CallbackIds.handoffContext}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        return {
          send: () => client().viewSubmission(viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.handoffContext, privateMetadata: JSON.stringify({ handoffId: handoff.id }), values: contextValues })),
          effect: reached(handoff.id, 'confirmed'),
        };
      },
    },
  ]),
  ...acceptVariants.map(
    ([variant, csmId, expect]): SlackCase => ({
      entry: `action:${ActionIds.handoffAccept}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('confirmed', { aeId: person('ae').id, csmId: csmId() });
        return { send: button(context, ActionIds.handoffAccept, handoff.id, `handoff:${handoff.id}:${handoff.version}`), effect: reached(handoff.id, 'accepted') };
      },
    }),
  ),
  ...csmVariants('handoff').map(
    ([variant, csmId, expect]): SlackCase => ({
      entry: `action:${ActionIds.handoffKickoff}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('accepted', { aeId: person('ae').id, csmId: csmId() });
        const blockId = `handoff:${handoff.id}:${handoff.version}`;
        const base = buttonAction({ userId: context.userId, actionId: ActionIds.handoffKickoff, blockId, value: '', responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag });
        const picked: BlockAction<DatepickerAction> = {
          ...base,
          actions: [{ type: 'datepicker', action_id: ActionIds.handoffKickoff, block_id: blockId, selected_date: dayIn(3), action_ts: '1700000000.1' }],
        };
        return { send: () => client().blockAction(picked), effect: reached(handoff.id, 'kickoff_scheduled') };
      },
    }),
  ),

  // The at-risk digest: follow-up on one's own accounts; pages for everyone, narrowed for AEs.
  ...csmVariants('account').flatMap(([variant, csmId, expect]) =>
    (
      [
        [ActionIds.digestAcknowledge, 'acknowledgedAt'],
        [ActionIds.digestSnooze, 'snoozedUntil'],
      ] as const
    ).map(
      ([actionId, mark]): SlackCase => ({
        entry: `action:${actionId}`,
        variant,
        expect,
        prepare: async (context) => {
          const account = await createAccount(db(), { csmId: csmId() });
          return { send: button(context, actionId, digestValue(account.id)), effect: async () => Boolean((await followUp(account.id))?.[mark]) };
        },
      }),
    ),
  ),
  {
    entry: `action:${ActionIds.digestShowMore}`,
    expect: everyoneLinked,
    prepare: async (context) => ({
      send: button(context, ActionIds.digestShowMore, encodeDigestValue({ accountId: '', csmId: null, page: 0 })),
      effect: (calls) => replies(context, calls).some((call) => String(call.body.text ?? '').startsWith('At-risk digest')),
      verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: true })(calls.filter((call) => call.responseId === context.tag)),
    }),
  },

  // Tasks: the menu beside a task and the forms it opens, each attempt on a task (and an account) of its own.
  ...taskVariants.flatMap(([variant, owners, owner, expect]): SlackCase[] => {
    const onFreshTask = (entry: string, attempt: (context: SlackContext, task: Task) => SlackAttempt): SlackCase => ({
      entry,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db(), owners());
        return attempt(context, await taskOn(account.id, owner()));
      },
    });
    return [
      ...taskMenuAttempts.map(([choice, attempt]) =>
        onFreshTask(`action:${ActionIds.taskMenu}`, (context, task) => ({ send: taskMenuClick(context, task, choice), ...attempt(context, task) })),
      ),
      ...taskForms.map(([callbackId, values, made]) =>
        onFreshTask(`view:${callbackId}`, (context, task) => ({ send: taskFormSubmit(context, task, callbackId, values()), effect: taskMade(task, made) })),
      ),
    ];
  }),

  // Playbooks started by hand from the card: the account's CSM, a manager (nobody reports to anyone in the fixture)
  // and admins; each attempt on an account of its own, so one started leaves nothing running for the next.
  ...([
    ["the CSM's own account", () => ({ csmId: person('csm').id, aeId: person('ae').id }), only('admin', 'manager', 'csm')],
    ["another CSM's account", () => ({ csmId: otherCsm().id, aeId: otherAe().id }), only('admin', 'manager')],
  ] as const).flatMap(([variant, owners, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.startPlaybook}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db(), owners());
        return { send: button(context, ActionIds.startPlaybook, account.id), effect: modalOpened(context), secret: account.id };
      },
    },
    {
      entry: `view:${CallbackIds.playbookStart}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db(), owners());
        const { playbook } = await requirePlaybook(db(), { key: 'expansion' });
        return {
          send: () =>
            client().viewSubmission(
              viewSubmissionPayload({
                userId: context.userId,
                callbackId: CallbackIds.playbookStart,
                privateMetadata: encodePlaybookStartForm({ accountId: account.id }),
                values: { [FieldIds.playbookId]: { [INPUT_ACTION]: pickedOption(playbook.id) } },
              }),
            ),
          effect: async () => (await db().select().from(playbookRuns).where(eq(playbookRuns.accountId, account.id))).length > 0,
        };
      },
    },
  ]),

  // Renewals: the forecast call buttons, "Record outcome…" and its form, each attempt on a renewal of its own.
  ...renewalVariants.flatMap(([variant, owners, expect]): SlackCase[] => [
    ...[ActionIds.renewalCallCommit, ActionIds.renewalCallLikely, ActionIds.renewalCallAtRisk, ActionIds.renewalCallChurning].map(
      (actionId): SlackCase => ({
        entry: `action:${actionId}`,
        variant,
        expect,
        prepare: async (context) => {
          const renewal = await openRenewal(owners());
          return {
            send: button(context, actionId, renewal.id, `renewal_actions:${renewal.id}`),
            effect: async () => (await db().select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id))).length > 0,
          };
        },
      }),
    ),
    {
      entry: `action:${ActionIds.renewalRecordOutcome}`,
      variant,
      expect,
      prepare: async (context) => {
        const renewal = await openRenewal(owners());
        return { send: button(context, ActionIds.renewalRecordOutcome, renewal.id, `renewal_actions:${renewal.id}`), effect: modalOpened(context), secret: renewal.accountName };
      },
    },
    {
      entry: `view:${CallbackIds.renewalOutcome}`,
      variant,
      expect,
      prepare: async (context) => {
        const renewal = await openRenewal(owners());
        const values: ViewStateValues = {
          [FieldIds.outcome]: { [INPUT_ACTION]: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: 'Renewed' }, value: 'renewed' } } },
          [FieldIds.newContractEnd]: { [INPUT_ACTION]: pickedDate(dayIn(395)) },
          [FieldIds.newArrCents]: { [INPUT_ACTION]: { type: 'number_input', value: String(RENEWAL_ARR_CENTS / 100) } },
        };
        return {
          send: () =>
            client().viewSubmission(
              viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.renewalOutcome, privateMetadata: JSON.stringify({ renewalId: renewal.id, where: { kind: 'ephemeral', responseUrl: context.responseUrl } }), values }),
            ),
          effect: async () => (await db().select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, renewal.id))).length > 0,
        };
      },
    },
  ]),

  // Expansion leads: the CSM qualifies a signal from its alert; the AE accepts, or declines saying why.
  ...leadVariants.flatMap(([variant, owners, qualifies, answers]): SlackCase[] => [
    {
      entry: `action:${ActionIds.leadQualify}`,
      variant,
      expect: qualifies,
      prepare: async (context) => {
        const signal = await expansionSignal(owners());
        return { send: button(context, ActionIds.leadQualify, String(signal.firingId)), effect: modalOpened(context), secret: signal.accountName };
      },
    },
    {
      entry: `view:${CallbackIds.leadQualify}`,
      variant,
      expect: qualifies,
      prepare: async (context) => {
        const signal = await expansionSignal(owners());
        const values: ViewStateValues = {
          [FieldIds.wants]: { [INPUT_ACTION]: typedText('Fifty more seats') },
          [FieldIds.estimatedMrrCents]: { [INPUT_ACTION]: { type: 'number_input', value: '1200' } },
          [FieldIds.urgency]: { [INPUT_ACTION]: pickedOption('high', 'High') },
        };
        return {
          send: () => client().viewSubmission(viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.leadQualify, privateMetadata: JSON.stringify({ firingId: signal.firingId }), values })),
          effect: leadOfSignal(signal.firingId),
        };
      },
    },
    {
      entry: `action:${ActionIds.leadAccept}`,
      variant,
      expect: answers,
      prepare: async (context) => {
        const lead = await qualifiedLead(owners());
        return { send: button(context, ActionIds.leadAccept, lead.id, `lead:${lead.id}`), effect: leadStatusIs(lead.id, 'accepted') };
      },
    },
    {
      entry: `action:${ActionIds.leadDecline}`,
      variant,
      expect: answers,
      prepare: async (context) => {
        const lead = await qualifiedLead(owners());
        return { send: button(context, ActionIds.leadDecline, lead.id, `lead:${lead.id}`), effect: modalOpened(context), secret: lead.accountName };
      },
    },
    {
      entry: `view:${CallbackIds.leadDecline}`,
      variant,
      expect: answers,
      prepare: async (context) => {
        const lead = await qualifiedLead(owners());
        return {
          send: () =>
            client().viewSubmission(
              viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.leadDecline, privateMetadata: JSON.stringify({ leadId: lead.id }), values: { [FieldIds.reason]: { [INPUT_ACTION]: typedText('Already in their plan') } } }),
            ),
          effect: leadStatusIs(lead.id, 'declined'),
        };
      },
    },
  ]),

  // The person's own open tasks: never anyone else's, even on their own accounts.
  ...['tasks', 'task'].map(
    (subcommand): SlackCase => ({
      entry: `command:/lifeline ${subcommand}`,
      expect: everyoneLinked,
      prepare: async (context) => {
        const actor = actorOf(context);
        const account = await createAccount(db(), { csmId: person('csm').id, aeId: person('ae').id });
        // Due today, so both come before the tasks other cases leave due tomorrow.
        const someoneElses = await taskOn(account.id, otherAe().id, dayIn(0));
        const own = actor === 'unlinked' || actor === 'viewer' ? undefined : await taskOn(account.id, person(actor).id, dayIn(0));
        return {
          send: command(context, subcommand),
          effect: (calls) => replies(context, calls).some((call) => call.outcome === 'ok' && call.body.response_type === 'ephemeral' && call.body.replace_original === undefined),
          verify: (calls) => {
            const content = replies(context, calls).map((call) => `${String(call.body.text ?? '')}${shown(call)}`).join('');
            if (content.includes(someoneElses.title)) return "listed someone else's task";
            if (own && !content.includes(own.title)) return 'the own task is missing';
            return undefined;
          },
          secret: someoneElses.title,
        };
      },
    }),
  ),

  // The slash command's own answers: about the person's own book.
  ...['', 'help', 'at-risk', 'atrisk', 'renewals'].map(
    (subcommand): SlackCase => ({
      entry: `command:/lifeline ${subcommand}`.trimEnd(),
      expect: everyoneLinked,
      prepare: async (context) => ({
        send: command(context, subcommand),
        effect: (calls) => replies(context, calls).some((call) => call.outcome === 'ok' && call.body.response_type === 'ephemeral' && call.body.replace_original === undefined),
        verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: false })(calls.filter((call) => call.responseId === context.tag)),
      }),
    }),
  ),

  // App Home: the person's book; an unlinked person is told to get linked.
  {
    entry: 'event:app_home_opened',
    expect: everyoneLinked,
    prepare: async (context) => ({
      send: () => client().event(appHomeOpenedEvent({ userId: context.userId })),
      effect: (calls) => calls.some((call) => call.method === 'views.publish' && call.body.user_id === context.userId && call.outcome === 'ok' && !shown(call).includes('not linked')),
      verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: false })(calls.filter((call) => call.method === 'views.publish' && call.body.user_id === context.userId)),
    }),
  },
];

const actorsByUser = new Map<string, SlackActor>();
function actorOf(context: SlackContext): SlackActor {
  return actorsByUser.get(context.userId) ?? 'unlinked';
}

/** Every Slack entry point the bot registers, read from its listener modules, so a new one must be classified. */
async function registeredEntries(): Promise<string[]> {
  const listenerDir = `${projectRoot}bot/listeners`;
  const kinds = await readdir(listenerDir);
  const entries: string[] = [];
  const source = (kind: string) => readFile(`${listenerDir}/${kind}/index.ts`, 'utf8');
  for (const kind of kinds) {
    const text = await source(kind);
    if (kind === 'actions') {
      for (const [, key] of text.matchAll(/ActionIds\.(\w+)/g)) entries.push(`action:${Reflect.get(ActionIds, key ?? '')}`);
    } else if (kind === 'views') {
      for (const [, key] of text.matchAll(/CallbackIds\.(\w+)/g)) entries.push(`view:${Reflect.get(CallbackIds, key ?? '')}`);
    } else if (kind === 'commands') {
      const commandModule = await readFile(`${listenerDir}/commands/lifeline.ts`, 'utf8');
      for (const [, name] of text.matchAll(/app\.command\('([^']+)'/g)) {
        for (const [, subcommand] of commandModule.matchAll(/case '([^']*)':/g)) entries.push(`command:${name} ${subcommand}`.trimEnd());
      }
    } else if (kind === 'events') {
      for (const [, type] of text.matchAll(/app\.event\('([^']+)'/g)) entries.push(`event:${type}`);
    } else {
      entries.push(`unknown listener kind: ${kind}`);
    }
    for (const [, method] of text.matchAll(/app\.(shortcut|options|message|function)\(/g)) entries.push(`unclassified app.${method} in ${kind}`);
  }
  // Ids defined for the bot but not registered would be classified for nothing: list them too.
  for (const id of Object.values(ActionIds)) entries.push(`action:${id}`);
  for (const id of Object.values(CallbackIds)) entries.push(`view:${id}`);
  return [...new Set(entries)];
}

/** An answer that refuses for a reason about who is asking: a role, an owner, a missing Slack link. */
const AUTHORIZATION_REFUSAL = /not linked|only|cannot|can't|not one of|your role/i;

function refusalIn(context: SlackContext, calls: RecordedCall[], ack: SlackHttpResponse): string | undefined {
  for (const call of replies(context, calls)) {
    // app.error's answer: ephemeral, beside the original, words only.
    if (call.body.response_type === 'ephemeral' && call.body.replace_original === false && call.body.blocks === undefined && typeof call.body.text === 'string') return call.body.text;
  }
  if (ack.text.startsWith('{')) {
    // A modal is answered in the ack: the form replaced by a "Nothing changed" notice, or errors on its inputs.
    const answer: unknown = JSON.parse(ack.text);
    if (typeof answer === 'object' && answer !== null) {
      const action = Reflect.get(answer, 'response_action');
      if (action === 'update') return JSON.stringify(Reflect.get(answer, 'view'));
      if (action === 'errors') return JSON.stringify(Reflect.get(answer, 'errors'));
    }
  }
  for (const call of calls) {
    if (call.method === 'views.publish' && call.body.user_id === context.userId && shown(call).includes('not linked')) return 'App Home: not linked to Lifeline';
  }
  return undefined;
}

async function trySlack(slackCase: SlackCase, actor: SlackActor, index: number): Promise<{ outcome: string; problems: string[] }> {
  const tag = `authz-${index}`;
  const context: SlackContext = { tag, userId: slackUserOf(actor), responseUrl: stack().fake.responseUrl(tag), channel: `CAUTHZ${index}` };
  const attempt = await slackCase.prepare(context);
  const ack = await attempt.send();
  const problems: string[] = [];
  if (ack.status !== 200) problems.push(`answered HTTP ${ack.status}`);
  const expected = slackCase.expect(actor);
  const deadline = Date.now() + 8_000;
  let outcome = 'no answer';
  let related: RecordedCall[] = [];
  for (;;) {
    related = stack().fake.calls.filter(
      (call) =>
        call.responseId === tag ||
        call.body.trigger_id === tag ||
        call.body.channel === context.channel ||
        (slackCase.entry.startsWith('event:') && call.method === 'views.publish' && call.body.user_id === context.userId),
    );
    const refusal = refusalIn(context, related, ack);
    const effect = await attempt.effect(related);
    if (effect && refusal) outcome = `changed and refused: ${refusal}`;
    else if (effect) outcome = 'allowed';
    else if (refusal) outcome = AUTHORIZATION_REFUSAL.test(refusal) ? 'denied' : `refused for another reason: ${refusal.slice(0, 200)}`;
    else if (replies(context, related).length > 0 && expected === 'hidden') outcome = 'hidden';
    if (outcome !== 'no answer' || Date.now() > deadline) break;
    await sleep(40);
  }
  if (outcome !== expected) problems.push(`expected ${expected}, got ${outcome}`);
  if (outcome === 'allowed' && attempt.verify) {
    const problem = attempt.verify(related);
    if (problem) problems.push(problem);
  }
  if (outcome !== 'allowed' && attempt.secret && related.some((call) => shown(call).includes(attempt.secret ?? ''))) problems.push('showed what it refused');
  return { outcome, problems };
}

describe('authorization', () => {
  it('every Slack action, modal, command and event, tried by every role and by an unlinked Slack user: only the allowed ones change anything', async () => {
    for (const role of PEOPLE_ROLES) actorsByUser.set(slackUserOf(role), role);
    const registered = await registeredEntries();
    const classified = new Set(slackCases.map((slackCase) => slackCase.entry));
    const { unclassified, stale } = classification(registered, classified);

    const tally = new Tally();
    const attempts = slackCases.flatMap((slackCase) => SLACK_ACTORS.map((actor) => ({ slackCase, actor })));
    let next = 0;
    // A few at a time, like a busy afternoon; each request has fixtures of its own.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < attempts.length) {
          const index = next++;
          const item = attempts[index];
          if (!item) break;
          // Without problems the outcome is the expected one: an allowed attempt was allowed.
          const { problems } = await trySlack(item.slackCase, item.actor, index);
          tally.count({ name: item.slackCase.entry, variant: item.slackCase.variant, as: item.actor }, item.slackCase.expect(item.actor), problems);
        }
      }),
    );
    tally.failures.sort();
    await reportAuthorization({
      scenario: '8b. authorization: Slack (every entry point × role, unlinked)',
      tally,
      coverage: { unclassified, stale },
      note: `${classified.size} entry points, ${slackCases.length} cases × ${SLACK_ACTORS.length} people: ${tally.allowed} allowed, ${tally.denied} refused or hidden as expected`,
      missing: 'Slack entry points without a declared expectation',
      gone: 'expectations for entry points the bot no longer registers',
    });
  });
});
