import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BlockAction, DatepickerAction } from '@slack/bolt';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, cardBlockId } from '../../bot/ids.ts';
import { encodeDigestValue } from '../../bot/views/digest.ts';
import { type Account, type UserRole, atRiskFollowUps } from '../../db/schema.ts';
import { createAccount } from '../support/factories.ts';
import type { RecordedCall } from '../support/fake-slack.ts';
import {
  type SlackHttpResponse,
  type ViewStateValues,
  appHomeOpenedEvent,
  buttonAction,
  slashCommand,
  staticSelectAction,
  viewSubmissionPayload,
} from '../support/slack-requests.ts';
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
  handoffAt,
  movedTo,
  only,
  otherBook,
  ownBook,
  person,
  reached,
  recordAuthorization,
  stack,
  stageMoveVariants,
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
    await recordAuthorization(
      '8b. authorization: Slack (every entry point × role, unlinked)',
      tally,
      unclassified.length + stale.length,
      `${classified.size} entry points, ${slackCases.length} cases × ${SLACK_ACTORS.length} people: ${tally.allowed} allowed, ${tally.denied} refused or hidden as expected`,
    );
    expect(unclassified, 'Slack entry points without a declared expectation').toEqual([]);
    expect(stale, 'expectations for entry points the bot no longer registers').toEqual([]);
    expect(tally.failures).toEqual([]);
  });
});
