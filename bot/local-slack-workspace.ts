import { randomBytes } from 'node:crypto';
import { blocksToPlainText } from './views/plain-text.ts';

// Local mode's Slack workspace: the conversations, messages, modals and Home tabs Lifeline's Web API calls and
// response_url posts make, kept the way Slack keeps them (a chat.update edits the message in place; an ephemeral
// message belongs to one person and only its response_url can replace it), and the trigger ids and response URLs
// the simulator hands out with each request. Pure state: local-slack.ts puts it on HTTP.

export const LOCAL_TEAM_ID = 'TLOCAL';
export const LOCAL_TEAM_DOMAIN = 'lifeline-local';
export const LOCAL_APP_ID = 'ALIFELINE';
export const LOCAL_BOT_USER_ID = 'ULIFELINE';
export const LOCAL_BOT_ID = 'BLIFELINE';
/** The channel the simulator's people type commands in, besides their DMs with Lifeline. */
export const LOCAL_TEAM_CHANNEL = 'CLOCALTEAM';

/** Stand-in channels of local mode and how the simulator names them. */
const channelNames: Record<string, string> = {
  [LOCAL_TEAM_CHANNEL]: 'customer-success',
  CLOCALHANDOFFS: 'handoffs',
  CLOCALATRISK: 'at-risk',
};

export type Json = Record<string, unknown>;

export interface LocalPerson {
  id: string;
  name: string;
  role: string;
  email: string;
}

export interface LocalMessage {
  ts: string;
  channel: string;
  text: string;
  blocks: Json[];
  /** Set on an ephemeral message: the only person who sees it. */
  ephemeralTo?: string;
  threadTs?: string;
  metadata?: unknown;
  postedAt: string;
  editedAt?: string;
}

export interface LocalConversation {
  id: string;
  name: string;
  kind: 'channel' | 'dm';
  /** A DM's person. */
  user?: string;
  messages: LocalMessage[];
}

export interface LocalView {
  id: string;
  type: 'modal' | 'home';
  user: string;
  blocks: Json[];
  title: unknown;
  submit: unknown;
  close: unknown;
  callback_id: string;
  private_metadata: string;
  external_id: string;
  hash: string;
  previous_view_id: string | null;
  root_view_id: string;
  /** A submission's errors by block id, shown under their inputs. */
  errors?: Record<string, string>;
}

/** Where a response_url leads back to: the conversation of a command or a click, and the message clicked. */
export interface ResponseTarget {
  channel: string;
  user: string;
  /** The message a click came from (posted or ephemeral); unset for a command. */
  messageTs?: string;
}

/** A Web API answer: Slack's JSON, always with `ok`. */
export type ApiAnswer = Json & { ok: boolean };

/** One Web API call or response_url post, as the console prints it. */
export interface LocalSlackCall {
  method: string;
  channel: string;
  ts: string;
  text: string;
  rendered: string;
  at: Date;
}

// Slack keeps a response_url for 30 minutes and 5 uses; a trigger id for 3 seconds and one use.
const RESPONSE_URL_MS = 30 * 60_000;
const RESPONSE_URL_USES = 5;
const TRIGGER_MS = 3_000;
// Slack stacks at most 3 views in a modal.
const MAX_STACK = 3;
// What the page keeps of each conversation, newest last.
const KEEP_MESSAGES = 200;
const KEEP_CALLS = 200;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function shortId(): string {
  return randomBytes(3).toString('base64url');
}

/**
 * Slack gives every block a block_id and every interactive element an action_id when the app sent none, and
 * sends them back with a click: they are given here so the page and the payloads agree.
 */
function withIds(blocks: unknown): Json[] {
  if (!Array.isArray(blocks)) return [];
  return blocks.filter(isJson).map((block) => {
    const named: Json = { ...block, block_id: text(block.block_id) ?? shortId() };
    const name = (element: unknown) => (isJson(element) ? { ...element, action_id: text(element.action_id) ?? shortId() } : element);
    if (Array.isArray(block.elements) && block.type === 'actions') named.elements = block.elements.map(name);
    if (isJson(block.accessory)) named.accessory = name(block.accessory);
    if (isJson(block.element)) named.element = name(block.element);
    return named;
  });
}

export interface LocalWorkspace {
  /** Bumped on every change; the page waits for it to move. */
  readonly version: number;
  readonly calls: LocalSlackCall[];
  people(): LocalPerson[];
  setPeople(people: LocalPerson[]): void;
  conversations(): LocalConversation[];
  /** The person's open modal, bottom first. */
  modalStack(user: string): LocalView[];
  home(user: string): LocalView | undefined;
  view(id: string): LocalView | undefined;
  message(channel: string, ts: string): LocalMessage | undefined;
  /** Answers one Web API method as Slack would. */
  call(method: string, body: Json): ApiAnswer;
  /** A response_url post; an error string as Slack answers it (HTTP 404 / 400), or undefined when it landed. */
  respond(id: string, payload: Json): { status: number; error?: string };
  issueTrigger(user: string): string;
  issueResponseUrl(target: ResponseTarget): string;
  /** Puts a new view on top of the person's modal (or replaces a view in it, e.g. a submission's `update`). */
  showModal(user: string, view: Json, how: 'open' | 'push' | 'replace', replacing?: string): LocalView;
  closeView(user: string, viewId: string, all: boolean): void;
  setViewErrors(viewId: string, errors: Record<string, string> | undefined): void;
  /** Something the simulator wants the person to see (a request Lifeline did not accept). */
  postNotice(channel: string, user: string, text: string): void;
  /** Resolves once the version is past `after`, or after `ms`. */
  waitForChange(after: number, ms: number): Promise<void>;
}

export function createLocalWorkspace(options: { responseUrlBase: string; print: (line: string) => void; now?: () => number }): LocalWorkspace {
  const now = options.now ?? Date.now;
  const conversations = new Map<string, LocalConversation>();
  const modals = new Map<string, LocalView[]>();
  const homes = new Map<string, LocalView>();
  const triggers = new Map<string, { user: string; until: number }>();
  const responseUrls = new Map<string, { target: ResponseTarget; until: number; uses: number }>();
  const calls: LocalSlackCall[] = [];
  const waiters = new Set<() => void>();
  let people: LocalPerson[] = [];
  let version = 0;
  let lastMicros = 0;
  let viewCounter = 0;

  function changed(): void {
    version += 1;
    for (const wake of [...waiters]) wake();
  }

  // Like Slack's: the posting time in seconds and a unique, increasing suffix.
  function nextTs(): string {
    const micros = Math.max(now() * 1000, lastMicros + 1);
    lastMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  function conversation(id: string): LocalConversation {
    let found = conversations.get(id);
    if (!found) {
      const dmUser = id.startsWith('D') ? id.slice(1) : undefined;
      found = dmUser
        ? { id, name: people.find((person) => person.id === dmUser)?.name ?? dmUser, kind: 'dm', user: dmUser, messages: [] }
        : { id, name: channelNames[id] ?? id, kind: 'channel', messages: [] };
      conversations.set(id, found);
    }
    return found;
  }

  /** Posting to a member id lands in the bot's DM with them, as Slack does. */
  function channelOf(id: string): string {
    return /^[UW]/.test(id) ? `D${id}` : id;
  }

  function log(method: string, channel: string, ts: string, body: Json): void {
    const view = isJson(body.view) ? body.view : undefined;
    const rendered = blocksToPlainText(view ? view.blocks : body.blocks) || (text(body.text) ?? '');
    calls.unshift({ method, channel, ts, text: text(body.text) ?? '', rendered, at: new Date(now()) });
    calls.length = Math.min(calls.length, KEEP_CALLS);
    options.print(`\n┌─ Slack ${method} → ${channel}\n${rendered.replace(/^/gm, '│ ')}\n└─`);
  }

  function add(message: LocalMessage): void {
    const into = conversation(message.channel);
    into.messages.push(message);
    if (into.messages.length > KEEP_MESSAGES) into.messages.splice(0, into.messages.length - KEEP_MESSAGES);
  }

  function findMessage(channel: string, ts: string): LocalMessage | undefined {
    return conversations.get(channel)?.messages.find((message) => message.ts === ts);
  }

  function messageFrom(body: Json, channel: string, ts: string, extra: Partial<LocalMessage> = {}): LocalMessage {
    const threadTs = text(body.thread_ts);
    return {
      ts,
      channel,
      text: text(body.text) ?? '',
      blocks: withIds(body.blocks),
      postedAt: new Date(now()).toISOString(),
      ...(threadTs ? { threadTs } : {}),
      ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
      ...extra,
    };
  }

  function hasContent(body: Json): boolean {
    return text(body.text) !== undefined || (Array.isArray(body.blocks) && body.blocks.length > 0);
  }

  function newView(user: string, view: Json, type: 'modal' | 'home', id: string, previous: string | null, root?: string): LocalView {
    viewCounter += 1;
    return {
      id,
      type,
      user,
      blocks: withIds(view.blocks),
      title: view.title ?? null,
      submit: view.submit ?? null,
      close: view.close ?? null,
      callback_id: text(view.callback_id) ?? '',
      private_metadata: typeof view.private_metadata === 'string' ? view.private_metadata : '',
      external_id: text(view.external_id) ?? '',
      hash: `${Math.floor(now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: previous,
      root_view_id: root ?? id,
    };
  }

  function newViewId(): string {
    viewCounter += 1;
    return `VLOCAL${String(viewCounter).padStart(6, '0')}`;
  }

  function findView(id: string): LocalView | undefined {
    for (const stack of modals.values()) {
      const found = stack.find((view) => view.id === id);
      if (found) return found;
    }
    return [...homes.values()].find((view) => view.id === id);
  }

  /** The Web API's view object, as views.* answer it. */
  function viewAnswer(view: LocalView): Json {
    return { id: view.id, type: view.type, blocks: view.blocks, callback_id: view.callback_id, private_metadata: view.private_metadata, hash: view.hash, team_id: LOCAL_TEAM_ID, app_id: LOCAL_APP_ID, bot_id: LOCAL_BOT_ID, root_view_id: view.root_view_id, previous_view_id: view.previous_view_id, state: { values: {} } };
  }

  function takeTrigger(id: unknown): { user: string } | { error: string } {
    const trigger = typeof id === 'string' ? triggers.get(id) : undefined;
    if (!trigger) return { error: typeof id === 'string' && id !== '' ? 'invalid_trigger_id' : 'invalid_arguments' };
    triggers.delete(id as string);
    if (trigger.until < now()) return { error: 'expired_trigger_id' };
    return { user: trigger.user };
  }

  function showModal(user: string, view: Json, how: 'open' | 'push' | 'replace', replacing?: string): LocalView {
    const stack = modals.get(user) ?? [];
    let shown: LocalView;
    if (how === 'replace') {
      const index = stack.findIndex((candidate) => candidate.id === replacing);
      const old = stack[index];
      shown = newView(user, view, 'modal', old?.id ?? newViewId(), old?.previous_view_id ?? null, old?.root_view_id);
      if (index >= 0) stack[index] = shown;
      else stack.push(shown);
    } else {
      const below = how === 'push' ? stack[stack.length - 1] : undefined;
      const id = newViewId();
      shown = newView(user, view, 'modal', id, below?.id ?? null, below?.root_view_id ?? id);
      if (how === 'open') stack.length = 0;
      stack.push(shown);
    }
    modals.set(user, stack);
    changed();
    return shown;
  }

  const methods: Record<string, (body: Json) => ApiAnswer> = {
    'api.test': (body) => ({ ok: true, args: body }),
    'auth.test': () => ({ ok: true, url: `https://${LOCAL_TEAM_DOMAIN}.slack.com/`, team: 'Local', user: 'lifeline', team_id: LOCAL_TEAM_ID, user_id: LOCAL_BOT_USER_ID, bot_id: LOCAL_BOT_ID }),
    'chat.postMessage': (body) => {
      const target = text(body.channel);
      if (!target) return { ok: false, error: 'channel_not_found' };
      if (!hasContent(body)) return { ok: false, error: 'no_text' };
      const channel = channelOf(target);
      const message = messageFrom(body, channel, nextTs());
      add(message);
      log('chat.postMessage', channel, message.ts, body);
      return { ok: true, channel, ts: message.ts, message: { type: 'message', text: message.text, blocks: message.blocks, ts: message.ts, user: LOCAL_BOT_USER_ID, bot_id: LOCAL_BOT_ID } };
    },
    'chat.update': (body) => {
      const channel = text(body.channel);
      const ts = text(body.ts);
      if (!channel) return { ok: false, error: 'channel_not_found' };
      const message = ts ? findMessage(channelOf(channel), ts) : undefined;
      // Ephemeral messages cannot be edited through chat.update: only their response_url can replace them.
      if (!message || message.ephemeralTo) return { ok: false, error: 'message_not_found' };
      if (body.text === undefined && body.blocks === undefined) return { ok: false, error: 'no_text' };
      if (body.text !== undefined) message.text = text(body.text) ?? '';
      if (body.blocks !== undefined) message.blocks = withIds(body.blocks);
      message.editedAt = new Date(now()).toISOString();
      log('chat.update', message.channel, message.ts, body);
      return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
    },
    'chat.postEphemeral': (body) => {
      const target = text(body.channel);
      const user = text(body.user);
      if (!target) return { ok: false, error: 'channel_not_found' };
      if (!user) return { ok: false, error: 'user_not_in_channel' };
      if (!hasContent(body)) return { ok: false, error: 'no_text' };
      const channel = channelOf(target);
      const message = messageFrom(body, channel, nextTs(), { ephemeralTo: user });
      add(message);
      log('chat.postEphemeral', channel, message.ts, body);
      return { ok: true, message_ts: message.ts };
    },
    'chat.delete': (body) => {
      const channel = channelOf(text(body.channel) ?? '');
      const found = conversations.get(channel);
      const index = found?.messages.findIndex((message) => message.ts === body.ts && !message.ephemeralTo) ?? -1;
      if (!found || index < 0) return { ok: false, error: 'message_not_found' };
      found.messages.splice(index, 1);
      return { ok: true, channel, ts: body.ts };
    },
    'conversations.open': (body) => {
      const users = (text(body.users) ?? '').split(',').map((user) => user.trim()).filter((user) => user !== '');
      if (text(body.channel)) return { ok: true, no_op: true, already_open: true, channel: { id: body.channel } };
      if (users.length !== 1) return { ok: false, error: users.length === 0 ? 'users_list_not_supplied' : 'not_supported' };
      return { ok: true, channel: { id: conversation(`D${users[0]}`).id } };
    },
    // Newest first, top-level messages only, as Slack answers; the outbox looks here for a post it is unsure of.
    'conversations.history': (body) => {
      const found = conversations.get(channelOf(text(body.channel) ?? ''));
      if (!found) return { ok: false, error: 'channel_not_found' };
      const oldest = Number(text(body.oldest) ?? '0');
      const messages = found.messages.filter((message) => !message.ephemeralTo && !message.threadTs && Number(message.ts) >= oldest).reverse();
      return { ok: true, messages: messages.map((message) => ({ type: 'message', ts: message.ts, text: message.text, bot_id: LOCAL_BOT_ID, metadata: message.metadata })), has_more: false };
    },
    'conversations.replies': (body) => {
      const found = conversations.get(channelOf(text(body.channel) ?? ''));
      const thread = found?.messages.filter((message) => message.ts === body.ts || message.threadTs === body.ts) ?? [];
      if (thread.length === 0) return { ok: false, error: 'thread_not_found' };
      return { ok: true, messages: thread.map((message) => ({ type: 'message', ts: message.ts, thread_ts: message.threadTs, text: message.text, metadata: message.metadata })), has_more: false };
    },
    'users.info': (body) => {
      const person = people.find((candidate) => candidate.id === body.user);
      if (!person) return { ok: false, error: 'user_not_found' };
      return { ok: true, user: { id: person.id, team_id: LOCAL_TEAM_ID, name: person.name, real_name: person.name, tz: 'UTC', is_bot: false, deleted: false, profile: { email: person.email, real_name: person.name, display_name: person.name } } };
    },
    'users.lookupByEmail': (body) => {
      const email = (text(body.email) ?? '').toLowerCase();
      const person = people.find((candidate) => candidate.email.toLowerCase() === email);
      if (!person) return { ok: false, error: 'users_not_found' };
      return { ok: true, user: { id: person.id, team_id: LOCAL_TEAM_ID, name: person.name, real_name: person.name, profile: { email: person.email, real_name: person.name } } };
    },
    'views.open': (body) => {
      if (!isJson(body.view) || body.view.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
      const trigger = takeTrigger(body.trigger_id);
      if ('error' in trigger) return { ok: false, error: trigger.error };
      const view = showModal(trigger.user, body.view, 'open');
      log('views.open', `modal:${trigger.user}`, view.id, body);
      return { ok: true, view: viewAnswer(view) };
    },
    'views.push': (body) => {
      if (!isJson(body.view) || body.view.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
      const trigger = takeTrigger(body.trigger_id);
      if ('error' in trigger) return { ok: false, error: trigger.error };
      if ((modals.get(trigger.user) ?? []).length >= MAX_STACK) return { ok: false, error: 'push_limit_reached' };
      const view = showModal(trigger.user, body.view, 'push');
      log('views.push', `modal:${trigger.user}`, view.id, body);
      return { ok: true, view: viewAnswer(view) };
    },
    'views.update': (body) => {
      const id = text(body.view_id);
      const old = id ? findView(id) : [...modals.values()].flat().find((view) => view.external_id !== '' && view.external_id === body.external_id);
      if (!old) return { ok: false, error: 'not_found' };
      if (!isJson(body.view) || body.view.type !== old.type) return { ok: false, error: 'invalid_arguments' };
      if (typeof body.hash === 'string' && body.hash !== old.hash) return { ok: false, error: 'hash_conflict' };
      let view: LocalView;
      if (old.type === 'home') {
        view = newView(old.user, body.view, 'home', old.id, null);
        homes.set(old.user, view);
        changed();
      } else {
        view = showModal(old.user, body.view, 'replace', old.id);
      }
      log('views.update', `${old.type}:${old.user}`, view.id, body);
      return { ok: true, view: viewAnswer(view) };
    },
    'views.publish': (body) => {
      const user = text(body.user_id);
      if (!user) return { ok: false, error: 'invalid_arguments' };
      if (!isJson(body.view) || body.view.type !== 'home') return { ok: false, error: 'invalid_arguments' };
      const old = homes.get(user);
      if (old && typeof body.hash === 'string' && body.hash !== old.hash) return { ok: false, error: 'hash_conflict' };
      const view = newView(user, body.view, 'home', old?.id ?? newViewId(), null);
      homes.set(user, view);
      changed();
      log('views.publish', `home:${user}`, view.id, body);
      return { ok: true, view: viewAnswer(view) };
    },
  };

  return {
    get version() {
      return version;
    },
    calls,
    people: () => people,
    setPeople(next) {
      if (JSON.stringify(next) === JSON.stringify(people)) return;
      people = next;
      for (const found of conversations.values()) if (found.user) found.name = people.find((person) => person.id === found.user)?.name ?? found.user;
      changed();
    },
    conversations: () => [...conversations.values()],
    modalStack: (user) => modals.get(user) ?? [],
    home: (user) => homes.get(user),
    view: findView,
    message: findMessage,
    call(method, body) {
      const answer = methods[method]?.(body) ?? { ok: false, error: 'unknown_method' };
      if (answer.ok && method.startsWith('chat.')) changed();
      return answer;
    },
    respond(id, payload) {
      const entry = responseUrls.get(id);
      if (!entry || entry.until < now() || entry.uses <= 0) return { status: 404, error: 'expired_url' };
      entry.uses -= 1;
      const { target } = entry;
      const original = target.messageTs ? findMessage(target.channel, target.messageTs) : undefined;
      if (payload.delete_original === true || payload.delete_original === 'true') {
        const found = conversations.get(target.channel);
        if (found && original) found.messages.splice(found.messages.indexOf(original), 1);
        changed();
        return { status: 200 };
      }
      if (!hasContent(payload)) return { status: 400, error: 'no_text' };
      const replace = payload.replace_original === true || payload.replace_original === 'true';
      if (replace && original) {
        original.text = text(payload.text) ?? '';
        original.blocks = withIds(payload.blocks);
        original.editedAt = new Date(now()).toISOString();
        log('response_url (replace)', target.channel, original.ts, payload);
      } else {
        // Slack's default for a response_url is a message only the person sees.
        const inChannel = payload.response_type === 'in_channel';
        const message = messageFrom(payload, target.channel, nextTs(), inChannel ? {} : { ephemeralTo: target.user });
        add(message);
        log(`response_url (${inChannel ? 'in_channel' : 'ephemeral'})`, target.channel, message.ts, payload);
      }
      changed();
      return { status: 200 };
    },
    issueTrigger(user) {
      const id = `${Math.floor(now() / 1000)}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`;
      triggers.set(id, { user, until: now() + TRIGGER_MS });
      for (const [key, trigger] of triggers) if (trigger.until < now() - 60_000) triggers.delete(key);
      return id;
    },
    issueResponseUrl(target) {
      const id = randomBytes(12).toString('hex');
      responseUrls.set(id, { target, until: now() + RESPONSE_URL_MS, uses: RESPONSE_URL_USES });
      for (const [key, entry] of responseUrls) if (entry.until < now()) responseUrls.delete(key);
      return `${options.responseUrlBase}${id}`;
    },
    showModal,
    closeView(user, viewId, all) {
      const stack = modals.get(user) ?? [];
      const index = stack.findIndex((view) => view.id === viewId);
      if (index < 0) return;
      stack.splice(all ? 0 : index);
      changed();
    },
    setViewErrors(viewId, errors) {
      const view = findView(viewId);
      if (!view) return;
      if (errors) view.errors = errors;
      else delete view.errors;
      changed();
    },
    postNotice(channel, user, notice) {
      add({ ts: nextTs(), channel, text: notice, blocks: [], ephemeralTo: user, postedAt: new Date(now()).toISOString() });
      changed();
    },
    waitForChange(after, ms) {
      if (version > after) return Promise.resolve();
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        // A page left open must not keep a stopping process alive.
        const timer = setTimeout(wake, ms).unref();
        waiters.add(wake);
      });
    },
  };
}
