import { createHash } from 'node:crypto';
import { validateBlocks, validateView } from './block-kit.ts';

// The fake Slack's workspace: the messages, views and people it holds, and how each Web API method answers from
// them, with Slack's own checks and error codes. The server in fake-slack.ts decides, around these answers, what
// is recorded, failed, held back or rate limited.

export interface FakeSlackUser {
  id: string;
  email: string;
  name?: string;
  realName?: string;
  tz?: string;
}

export const FAKE_TEAM_ID = 'T0001';
export const FAKE_TEAM_DOMAIN = 'lifeline-test';
export const FAKE_APP_ID = 'A0001';
export const FAKE_BOT_USER_ID = 'UBOT';
export const FAKE_BOT_ID = 'BBOT';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A method's answer, and the Block Kit violations behind an `invalid_blocks` / `invalid_arguments` one. */
export interface Outcome {
  response: Record<string, unknown>;
  errors?: string[];
}

interface MethodContext {
  body: Record<string, unknown>;
  /** The call's warnings, for what Slack accepts but is probably a mistake. */
  warnings: string[];
}

type MethodHandler = (ctx: MethodContext) => Outcome;

const MAX_MESSAGE_TEXT = 40_000;

function ok(data: Record<string, unknown> = {}): Outcome {
  return { response: { ok: true, ...data } };
}

export function fail(error: string, errors?: string[]): Outcome {
  if (!errors || errors.length === 0) return { response: { ok: false, error } };
  return {
    response: { ok: false, error, errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } },
    errors,
  };
}

// Slack reports view problems as invalid_arguments with the detail only in response_metadata.messages.
function invalidArguments(errors: string[]): Outcome {
  return {
    response: {
      ok: false,
      error: 'invalid_arguments',
      response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
    },
    errors,
  };
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function truthy(value: unknown): boolean {
  return value === true || value === 'true' || value === 1 || value === '1';
}

/** Whether Slack takes `body` as a message (text, blocks or attachments within limits); notes its warnings. */
export function checkMessageContent(body: Record<string, unknown>, warnings: string[]): Outcome | undefined {
  const text = typeof body.text === 'string' ? body.text : '';
  const hasBlocks = Array.isArray(body.blocks) && body.blocks.length > 0;
  const hasAttachments = Array.isArray(body.attachments) && body.attachments.length > 0;
  if (text.length === 0 && !hasBlocks && !hasAttachments) return fail('no_text');
  if (body.blocks !== undefined) {
    const errors = validateBlocks(body.blocks, 'message');
    if (errors.length > 0) return fail('invalid_blocks', errors);
  }
  // Slack accepts this, but notifications and screen readers then show nothing useful.
  if (hasBlocks && text.length === 0) warnings.push('missing_text_fallback');
  if (text.length > MAX_MESSAGE_TEXT) warnings.push('text_truncated');
  return undefined;
}

/** A message as the fake keeps it, so conversations.history and conversations.replies can answer. */
interface StoredMessage {
  channel: string;
  ephemeral: boolean;
  ts: string;
  text?: string;
  threadTs?: string;
  metadata?: unknown;
}

export interface FakeWorkspace {
  /** The Web API methods the fake answers, by name; an unknown method is `unknown_method`. */
  handlers: Record<string, MethodHandler>;
  /** Forgets the messages and views; people and counters stay, so ids never repeat within a run. */
  reset(): void;
}

export function createFakeWorkspace(options: { users?: FakeSlackUser[]; now: () => number }): FakeWorkspace {
  const now = options.now;
  const messages = new Map<string, StoredMessage>();
  const viewHashes = new Map<string, string>();
  const homeViewIds = new Map<string, string>();
  const usersByEmail = new Map((options.users ?? []).map((u) => [u.email.toLowerCase(), u]));
  const usersById = new Map((options.users ?? []).map((u) => [u.id, u]));
  let tsCounter = 0;
  let viewCounter = 0;

  // Like Slack's: the posting time in seconds plus a unique, increasing suffix, so `oldest` filters work.
  let lastTs = 0;
  function nextTs(): string {
    tsCounter += 1;
    const micros = Math.max(now() * 1000, lastTs + 1);
    lastTs = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  function userRecord(id: string, email?: string): Record<string, unknown> {
    const known = usersById.get(id);
    const address = known?.email ?? email ?? `${id.toLowerCase()}@example.com`;
    const name = known?.name ?? address.split('@')[0] ?? id.toLowerCase();
    const realName = known?.realName ?? name;
    return {
      id,
      team_id: FAKE_TEAM_ID,
      name,
      real_name: realName,
      deleted: false,
      is_bot: false,
      is_admin: false,
      tz: known?.tz ?? 'Europe/London',
      tz_offset: 0,
      profile: { email: address, real_name: realName, display_name: name, real_name_normalized: realName },
    };
  }

  function messageObject(body: Record<string, unknown>, ts: string): Record<string, unknown> {
    const message: Record<string, unknown> = {
      type: 'message',
      text: typeof body.text === 'string' ? body.text.slice(0, MAX_MESSAGE_TEXT) : '',
      user: FAKE_BOT_USER_ID,
      bot_id: FAKE_BOT_ID,
      app_id: FAKE_APP_ID,
      team: FAKE_TEAM_ID,
      ts,
    };
    if (body.blocks !== undefined) message.blocks = body.blocks;
    if (body.attachments !== undefined) message.attachments = body.attachments;
    if (body.thread_ts !== undefined) message.thread_ts = body.thread_ts;
    if (body.metadata !== undefined) message.metadata = body.metadata;
    return message;
  }

  function viewOutput(view: Record<string, unknown>, id: string): Record<string, unknown> {
    viewCounter += 1;
    const hash = `${1_700_000_000 + viewCounter}.fakehash${viewCounter}`;
    viewHashes.set(id, hash);
    return {
      id,
      team_id: FAKE_TEAM_ID,
      type: view.type,
      blocks: view.blocks,
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: {} },
      hash,
      title: view.title ?? null,
      clear_on_close: view.clear_on_close ?? false,
      notify_on_close: view.notify_on_close ?? false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: null,
      root_view_id: id,
      app_id: FAKE_APP_ID,
      external_id: view.external_id ?? '',
      app_installed_team_id: FAKE_TEAM_ID,
      bot_id: FAKE_BOT_ID,
    };
  }

  function newViewId(): string {
    viewCounter += 1;
    return `V${String(viewCounter).padStart(10, '0')}`;
  }

  function checkView(
    body: Record<string, unknown>,
    expectedType: 'modal' | 'home',
  ): { view: Record<string, unknown> } | { outcome: Outcome } {
    const errors = validateView(body.view);
    if (errors.length > 0) return { outcome: invalidArguments(errors) };
    if (!isRecord(body.view) || body.view.type !== expectedType) {
      return { outcome: invalidArguments([`must be ${expectedType} on this method [json-pointer:/view/type]`]) };
    }
    return { view: body.view };
  }

  function checkHash(body: Record<string, unknown>, viewId: string): Outcome | undefined {
    const known = viewHashes.get(viewId);
    if (typeof body.hash === 'string' && known !== undefined && body.hash !== known) return fail('hash_conflict');
    return undefined;
  }

  // Opening a modal and pushing one onto another answer alike: a new view, for a trigger id.
  const openModal: MethodHandler = ({ body }) => {
    if (!str(body.trigger_id)) return invalidArguments(['missing required field: trigger_id [json-pointer:/trigger_id]']);
    const checked = checkView(body, 'modal');
    if ('outcome' in checked) return checked.outcome;
    const { view } = checked;
    return ok({ view: viewOutput(view, newViewId()) });
  };

  const handlers: Record<string, MethodHandler> = {
    'api.test': ({ body }) => ok({ args: body }),
    'auth.test': () =>
      ok({
        url: `https://${FAKE_TEAM_DOMAIN}.slack.com/`,
        team: 'Lifeline Test',
        user: 'lifeline',
        team_id: FAKE_TEAM_ID,
        user_id: FAKE_BOT_USER_ID,
        bot_id: FAKE_BOT_ID,
        is_enterprise_install: false,
      }),
    'chat.postMessage': ({ body, warnings }) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      const problem = checkMessageContent(body, warnings);
      if (problem) return problem;
      // Posting to a user id lands in the bot's DM with them, as conversations.open would give.
      const resolved = /^[UW]/.test(channel) ? `D${channel}` : channel;
      const ts = nextTs();
      const threadTs = str(body.thread_ts);
      messages.set(ts, {
        channel: resolved,
        ephemeral: false,
        ts,
        text: str(body.text) ?? '',
        ...(threadTs ? { threadTs } : {}),
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
      });
      return ok({ channel: resolved, ts, message: messageObject(body, ts) });
    },
    'chat.update': ({ body, warnings }) => {
      const channel = str(body.channel);
      const ts = str(body.ts);
      if (!channel) return fail('channel_not_found');
      // Ephemeral messages cannot be edited through chat.update: only their response_url can replace them.
      if (!ts || messages.get(ts)?.ephemeral) return fail('message_not_found');
      if (body.text === undefined && body.blocks === undefined && body.attachments === undefined) return fail('no_text');
      if (body.blocks !== undefined) {
        const errors = validateBlocks(body.blocks, 'message');
        if (errors.length > 0) return fail('invalid_blocks', errors);
      }
      const text = typeof body.text === 'string' ? body.text : '';
      if (Array.isArray(body.blocks) && body.blocks.length > 0 && text.length === 0) {
        warnings.push('missing_text_fallback');
      }
      return ok({ channel, ts, text, message: messageObject(body, ts) });
    },
    'chat.postEphemeral': ({ body, warnings }) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      if (!str(body.user)) return fail('user_not_in_channel');
      const problem = checkMessageContent(body, warnings);
      if (problem) return problem;
      const ts = nextTs();
      messages.set(ts, { channel, ephemeral: true, ts });
      return ok({ message_ts: ts });
    },
    'chat.delete': ({ body }) => {
      const channel = str(body.channel);
      const ts = str(body.ts);
      if (!channel) return fail('channel_not_found');
      if (!ts || messages.get(ts)?.ephemeral) return fail('message_not_found');
      messages.delete(ts);
      return ok({ channel, ts });
    },
    'views.open': openModal,
    'views.push': openModal,
    'views.update': ({ body }) => {
      const viewId = str(body.view_id) ?? str(body.external_id);
      if (!viewId) return invalidArguments(['must provide view_id or external_id [json-pointer:/view_id]']);
      const checked = checkView(body, 'modal');
      if ('outcome' in checked) return checked.outcome;
      const { view } = checked;
      const conflict = checkHash(body, viewId);
      if (conflict) return conflict;
      return ok({ view: viewOutput(view, viewId) });
    },
    'views.publish': ({ body }) => {
      const userId = str(body.user_id);
      if (!userId) return invalidArguments(['missing required field: user_id [json-pointer:/user_id]']);
      const checked = checkView(body, 'home');
      if ('outcome' in checked) return checked.outcome;
      const { view } = checked;
      const viewId = homeViewIds.get(userId) ?? newViewId();
      homeViewIds.set(userId, viewId);
      const conflict = checkHash(body, viewId);
      if (conflict) return conflict;
      return ok({ view: viewOutput(view, viewId) });
    },
    // Newest first, top-level messages only, metadata only when asked for: as Slack answers.
    'conversations.history': ({ body }) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      const oldest = Number(str(body.oldest) ?? '0');
      const limit = Math.min(Number(str(body.limit) ?? '100') || 100, 999);
      const withMetadata = str(body.include_all_metadata) === 'true' || body.include_all_metadata === true;
      const found = [...messages.values()]
        .filter((message) => message.channel === channel && !message.ephemeral && !message.threadTs && Number(message.ts) >= oldest)
        .sort((a, b) => Number(b.ts) - Number(a.ts));
      return ok({
        messages: found.slice(0, limit).map((message) => ({
          type: 'message',
          ts: message.ts,
          text: message.text ?? '',
          bot_id: FAKE_BOT_ID,
          ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
        })),
        has_more: found.length > limit,
      });
    },
    'conversations.replies': ({ body }) => {
      const channel = str(body.channel);
      const ts = str(body.ts);
      if (!channel || !ts) return fail('thread_not_found');
      const withMetadata = str(body.include_all_metadata) === 'true' || body.include_all_metadata === true;
      const thread = [...messages.values()]
        .filter((message) => message.channel === channel && (message.ts === ts || message.threadTs === ts))
        .sort((a, b) => Number(a.ts) - Number(b.ts));
      if (thread.length === 0) return fail('thread_not_found');
      return ok({
        messages: thread.map((message) => ({
          type: 'message',
          ts: message.ts,
          text: message.text ?? '',
          ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
          ...(withMetadata && message.metadata !== undefined ? { metadata: message.metadata } : {}),
        })),
        has_more: false,
      });
    },
    'conversations.open': ({ body }) => {
      const channel = str(body.channel);
      if (channel) return ok({ no_op: true, already_open: true, channel: { id: channel } });
      const users = (str(body.users) ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u.length > 0);
      if (users.length === 0) return fail('users_list_not_supplied');
      const id = users.length === 1 ? `D${users[0]}` : `G${users.join('')}`;
      return ok({ no_op: false, already_open: false, channel: { id } });
    },
    'users.info': ({ body }) => {
      const user = str(body.user);
      if (!user) return fail('user_not_found');
      return ok({ user: userRecord(user) });
    },
    'users.lookupByEmail': ({ body }) => {
      const email = str(body.email)?.toLowerCase();
      if (!email) return fail('users_not_found');
      const known = usersByEmail.get(email);
      // Deterministic ids keep repeated lookups of the same address consistent across runs.
      const id = known?.id ?? `U${createHash('sha256').update(email).digest('hex').slice(0, 10).toUpperCase()}`;
      return ok({ user: userRecord(id, email) });
    },
  };

  return {
    handlers,
    reset(): void {
      messages.clear();
      viewHashes.clear();
      homeViewIds.clear();
    },
  };
}
