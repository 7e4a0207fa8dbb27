import { createHmac, randomBytes } from 'node:crypto';
import type {
  BasicElementAction,
  BlockAction,
  ButtonAction,
  DatepickerAction,
  EnvelopedEvent,
  SlashCommand,
  StaticSelectAction,
  ViewOutput,
  ViewSubmitAction,
  types,
} from '@slack/bolt';

// Requests shaped and signed exactly as Slack sends them, so tests go through
// the real Bolt receiver (signature check, body parsing, routing) unchanged.

export const REQUEST_TEAM_ID = 'T0001';
export const REQUEST_TEAM_DOMAIN = 'lifeline-test';
export const REQUEST_APP_ID = 'A0001';
export const REQUEST_CHANNEL_ID = 'C0001';
export const REQUEST_CHANNEL_NAME = 'customer-success';
// Deprecated verification token Slack still puts in every payload; Bolt ignores it.
export const REQUEST_VERIFICATION_TOKEN = 'fakeVerificationToken0001';
const BOT_USER_ID = 'UBOT';
const BOT_ID = 'BBOT';

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

export function signSlackRequest(
  signingSecret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const hex = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${hex}`, 'x-slack-request-timestamp': String(timestamp) };
}

export interface SignedRequestOverrides {
  /** Sent instead of the correct signature (forged-request tests). */
  signature?: string;
  /** Unix seconds; the request is signed with it, so a stale value yields a correctly signed but stale request. */
  timestamp?: number;
  omitHeaders?: boolean;
  /** Extra headers, e.g. `x-slack-retry-num`; applied last so they can replace anything. */
  headers?: Record<string, string>;
}

export interface SlackHttpResponse {
  status: number;
  text: string;
  headers: Headers;
  json(): unknown;
}

export interface SlackRequestClient {
  send(body: string, contentType: string, overrides?: SignedRequestOverrides): Promise<SlackHttpResponse>;
  command(payload: SlashCommand, overrides?: SignedRequestOverrides): Promise<SlackHttpResponse>;
  blockAction<A extends BasicElementAction>(
    payload: SurfaceBlockAction<A> | BlockAction<A>,
    overrides?: SignedRequestOverrides,
  ): Promise<SlackHttpResponse>;
  viewSubmission(payload: ViewSubmitAction, overrides?: SignedRequestOverrides): Promise<SlackHttpResponse>;
  event<E extends { type: string }>(payload: EnvelopedEvent<E>, overrides?: SignedRequestOverrides): Promise<SlackHttpResponse>;
}

// Exactly this value: Bolt only parses a form body when the content type has no charset suffix.
const FORM = 'application/x-www-form-urlencoded';

function formEncode(fields: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    params.append(key, typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return params.toString();
}

export function createSlackClient(options: { url: string; signingSecret: string }): SlackRequestClient {
  const send = async (
    body: string,
    contentType: string,
    overrides: SignedRequestOverrides = {},
  ): Promise<SlackHttpResponse> => {
    const signed = signSlackRequest(options.signingSecret, body, overrides.timestamp);
    const headers: Record<string, string> = { 'content-type': contentType };
    if (!overrides.omitHeaders) {
      headers['x-slack-request-timestamp'] = signed['x-slack-request-timestamp'];
      headers['x-slack-signature'] = overrides.signature ?? signed['x-slack-signature'];
    }
    Object.assign(headers, overrides.headers);
    const response = await fetch(options.url, { method: 'POST', headers, body });
    const text = await response.text();
    return {
      status: response.status,
      text,
      headers: response.headers,
      json(): unknown {
        try {
          return JSON.parse(text);
        } catch {
          throw new Error(`expected a JSON response, got status ${response.status} with body ${JSON.stringify(text)}`);
        }
      },
    };
  };

  return {
    send,
    command: (payload, overrides) => send(formEncode(payload), FORM, overrides),
    blockAction: (payload, overrides) => send(formEncode({ payload: JSON.stringify(payload) }), FORM, overrides),
    viewSubmission: (payload, overrides) => send(formEncode({ payload: JSON.stringify(payload) }), FORM, overrides),
    event: (payload, overrides) => send(JSON.stringify(payload), 'application/json', overrides),
  };
}

// ---------------------------------------------------------------------------
// Payload factories
// ---------------------------------------------------------------------------

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function randomDigits(length: number): string {
  let out = '';
  for (const byte of randomBytes(length)) out += String(byte % 10);
  return out;
}

/** Slack's trigger ids look like `1234567890123.1234567890.0123456789abcdef...`. */
export function fakeTriggerId(): string {
  return `${randomDigits(13)}.${randomDigits(10)}.${randomBytes(16).toString('hex')}`;
}

function actionTs(): string {
  return `${nowSeconds()}.${randomDigits(6)}`;
}

function channelNameFor(channelId: string): string {
  return channelId.startsWith('D') ? 'directmessage' : REQUEST_CHANNEL_NAME;
}

export type SlashCommandOverrides = Partial<SlashCommand> & { text: string; user_id: string; response_url: string };

export function slashCommand(overrides: SlashCommandOverrides): SlashCommand {
  // Key order follows Slack's form body; Object.assign keeps each key's first position.
  const defaults: SlashCommand = {
    token: REQUEST_VERIFICATION_TOKEN,
    team_id: REQUEST_TEAM_ID,
    team_domain: REQUEST_TEAM_DOMAIN,
    channel_id: REQUEST_CHANNEL_ID,
    channel_name: channelNameFor(overrides.channel_id ?? REQUEST_CHANNEL_ID),
    user_id: '',
    user_name: overrides.user_id.toLowerCase(),
    command: '/lifeline',
    text: '',
    api_app_id: REQUEST_APP_ID,
    is_enterprise_install: 'false',
    response_url: '',
    trigger_id: fakeTriggerId(),
  };
  return Object.assign(defaults, overrides);
}

// ---------------------------------------------------------------------------
// Block actions, one payload type per surface an action can come from
// ---------------------------------------------------------------------------
//
// Where a click happens decides what Slack sends (compare the block_actions payloads in the scenario tests of
// slackapi/bolt-python and slackapi/bolt-js, and Slack's own reference):
// - a message: container.type `message`, `channel`, `message` and a `response_url`;
// - an ephemeral message: container.is_ephemeral `true`, `channel` and a `response_url`, but no `message`;
// - a modal or the App Home tab: container.type `view` and the `view` itself (view.type `modal` or `home`),
//   and no `response_url`, `channel` or `message` at all: Bolt's `respond` is undefined there.
// Bolt's own BlockAction type declares `response_url` as always present, so view payloads get their own type.

/** The interactive element that was clicked, as Slack reports it in `actions`. */
export type ClickedElement = ButtonAction | StaticSelectAction | DatepickerAction;

interface BlockActionCommon<A extends BasicElementAction> {
  type: 'block_actions';
  user: { id: string; username: string; name: string; team_id: string };
  api_app_id: string;
  token: string;
  trigger_id: string;
  team: { id: string; domain: string };
  is_enterprise_install: boolean;
  actions: A[];
}

export interface PostedMessage {
  type: 'message';
  user: string;
  bot_id: string;
  app_id: string;
  text: string;
  ts: string;
  team: string;
  blocks: unknown[];
}

export interface MessageBlockAction<A extends BasicElementAction = ClickedElement> extends BlockActionCommon<A> {
  container: { type: 'message'; message_ts: string; channel_id: string; is_ephemeral: false };
  channel: { id: string; name: string };
  message: PostedMessage;
  state: { values: Record<string, never> };
  response_url: string;
}

export interface EphemeralBlockAction<A extends BasicElementAction = ClickedElement> extends BlockActionCommon<A> {
  container: { type: 'message'; message_ts: string; channel_id: string; is_ephemeral: true };
  channel: { id: string; name: string };
  state: { values: Record<string, never> };
  response_url: string;
}

export interface ViewBlockAction<A extends BasicElementAction = ClickedElement> extends BlockActionCommon<A> {
  container: { type: 'view'; view_id: string };
  view: ViewOutput & { type: 'modal' | 'home' };
}

/** Any block_actions payload Slack sends, by surface. */
export type SurfaceBlockAction<A extends BasicElementAction = ClickedElement> = MessageBlockAction<A> | EphemeralBlockAction<A> | ViewBlockAction<A>;

export interface ClickInput {
  userId: string;
  userName?: string;
  triggerId?: string;
}

export interface MessageClickInput extends ClickInput {
  channelId: string;
  messageTs: string;
  responseUrl: string;
  /** What the message showed; Slack sends it back with the click. */
  blocks?: unknown[];
  text?: string;
}

export interface EphemeralClickInput extends ClickInput {
  channelId: string;
  /** Slack gives ephemeral messages a ts too, though no API can address them by it. */
  messageTs?: string;
  responseUrl: string;
}

export interface ViewClickInput extends ClickInput {
  viewId?: string;
  blocks?: ViewOutput['blocks'];
  privateMetadata?: string;
  callbackId?: string;
  /** A view pushed on top of another names the one below; a modal opened from a click has none. */
  previousViewId?: string | null;
  rootViewId?: string;
  title?: string;
}

function commonFields<A extends BasicElementAction>(input: ClickInput, action: A): BlockActionCommon<A> {
  const userName = input.userName ?? input.userId.toLowerCase();
  return {
    type: 'block_actions',
    user: { id: input.userId, username: userName, name: userName, team_id: REQUEST_TEAM_ID },
    api_app_id: REQUEST_APP_ID,
    token: REQUEST_VERIFICATION_TOKEN,
    trigger_id: input.triggerId ?? fakeTriggerId(),
    team: { id: REQUEST_TEAM_ID, domain: REQUEST_TEAM_DOMAIN },
    is_enterprise_install: false,
    actions: [action],
  };
}

/** A click in a message the bot posted (a channel, a DM, a thread). */
export function messageBlockAction<A extends BasicElementAction>(input: MessageClickInput, action: A): MessageBlockAction<A> {
  return {
    ...commonFields(input, action),
    container: { type: 'message', message_ts: input.messageTs, channel_id: input.channelId, is_ephemeral: false },
    channel: { id: input.channelId, name: channelNameFor(input.channelId) },
    message: {
      type: 'message',
      user: BOT_USER_ID,
      bot_id: BOT_ID,
      app_id: REQUEST_APP_ID,
      text: input.text ?? '',
      ts: input.messageTs,
      team: REQUEST_TEAM_ID,
      blocks: input.blocks ?? [],
    },
    state: { values: {} },
    response_url: input.responseUrl,
  };
}

/** A click in an ephemeral message (a slash command's answer, a card only the clicker sees). */
export function ephemeralBlockAction<A extends BasicElementAction>(input: EphemeralClickInput, action: A): EphemeralBlockAction<A> {
  return {
    ...commonFields(input, action),
    container: { type: 'message', message_ts: input.messageTs ?? actionTs(), channel_id: input.channelId, is_ephemeral: true },
    channel: { id: input.channelId, name: channelNameFor(input.channelId) },
    state: { values: {} },
    response_url: input.responseUrl,
  };
}

function viewOutputFor(input: ViewClickInput, type: 'modal' | 'home'): ViewOutput & { type: 'modal' | 'home' } {
  const id = input.viewId ?? `V${randomDigits(10)}`;
  return {
    id,
    team_id: REQUEST_TEAM_ID,
    type,
    blocks: input.blocks ?? [],
    private_metadata: input.privateMetadata ?? '',
    callback_id: input.callbackId ?? '',
    state: { values: {} },
    hash: `${nowSeconds()}.${randomBytes(4).toString('hex')}`,
    title: { type: 'plain_text', text: input.title ?? 'Lifeline', emoji: true },
    clear_on_close: false,
    notify_on_close: false,
    close: type === 'modal' ? { type: 'plain_text', text: 'Close', emoji: true } : null,
    submit: null,
    previous_view_id: input.previousViewId ?? null,
    root_view_id: input.rootViewId ?? id,
    app_id: REQUEST_APP_ID,
    external_id: '',
    app_installed_team_id: REQUEST_TEAM_ID,
    bot_id: BOT_ID,
  };
}

/** A click inside an open modal: no response_url, no channel. */
export function modalBlockAction<A extends BasicElementAction>(input: ViewClickInput, action: A): ViewBlockAction<A> {
  const view = viewOutputFor(input, 'modal');
  return { ...commonFields(input, action), container: { type: 'view', view_id: view.id }, view };
}

/** A click on the App Home tab: no response_url, no channel. */
export function homeBlockAction<A extends BasicElementAction>(input: ViewClickInput, action: A): ViewBlockAction<A> {
  const view = viewOutputFor(input, 'home');
  return { ...commonFields(input, action), container: { type: 'view', view_id: view.id }, view };
}

/** The clicked element of each kind, as it appears in `actions`. */
export function clickedButton(input: { actionId: string; blockId: string; value: string; text?: string }): ButtonAction {
  return {
    type: 'button',
    action_id: input.actionId,
    block_id: input.blockId,
    text: { type: 'plain_text', text: input.text ?? input.value, emoji: true },
    value: input.value,
    action_ts: actionTs(),
  };
}

export function clickedStaticSelect(input: { actionId: string; blockId: string; selectedValue: string; selectedText?: string }): StaticSelectAction {
  return {
    type: 'static_select',
    action_id: input.actionId,
    block_id: input.blockId,
    selected_option: {
      text: { type: 'plain_text', text: input.selectedText ?? input.selectedValue, emoji: true },
      value: input.selectedValue,
    },
    action_ts: actionTs(),
  };
}

export function clickedDatepicker(input: { actionId: string; blockId: string; selectedDate: string }): DatepickerAction {
  return { type: 'datepicker', action_id: input.actionId, block_id: input.blockId, selected_date: input.selectedDate, action_ts: actionTs() };
}

// Earlier, message-only inputs: kept for callers that build message or ephemeral clicks this way.

export interface MessageContainerInput {
  type: 'message';
  channelId: string;
  messageTs: string;
  isEphemeral: boolean;
}

export interface ActionMessageInput {
  blocks: unknown[];
  text: string;
  /** Must equal `container.messageTs`. */
  ts: string;
}

interface ActionBaseInput {
  userId: string;
  userName?: string;
  actionId: string;
  blockId: string;
  responseUrl: string;
  container: MessageContainerInput;
  /** The message the action was clicked in; Slack omits it for ephemeral messages, so it is refused for them. */
  message?: ActionMessageInput;
  triggerId?: string;
}

export interface StaticSelectActionInput extends ActionBaseInput {
  selectedValue: string;
  selectedText?: string;
}

export interface ButtonActionInput extends ActionBaseInput {
  value: string;
  /** Button label; defaults to the value. */
  text?: string;
}

function blockActionPayload<A extends BasicElementAction>(input: ActionBaseInput, action: A): MessageBlockAction<A> | EphemeralBlockAction<A> {
  const { container } = input;
  if (container.isEphemeral && input.message) {
    throw new Error('block_actions from an ephemeral message carry no `message`: drop it from the fixture');
  }
  if (input.message && input.message.ts !== container.messageTs) {
    throw new Error(`message.ts (${input.message.ts}) must equal container.messageTs (${container.messageTs})`);
  }
  const click = {
    userId: input.userId,
    ...(input.userName !== undefined ? { userName: input.userName } : {}),
    ...(input.triggerId !== undefined ? { triggerId: input.triggerId } : {}),
    channelId: container.channelId,
    messageTs: container.messageTs,
    responseUrl: input.responseUrl,
  };
  if (container.isEphemeral) return ephemeralBlockAction(click, action);
  return messageBlockAction({ ...click, blocks: input.message?.blocks ?? [], text: input.message?.text ?? '' }, action);
}

export function staticSelectAction(input: StaticSelectActionInput): MessageBlockAction<StaticSelectAction> | EphemeralBlockAction<StaticSelectAction> {
  return blockActionPayload(input, clickedStaticSelect(input));
}

export function buttonAction(input: ButtonActionInput): MessageBlockAction<ButtonAction> | EphemeralBlockAction<ButtonAction> {
  return blockActionPayload(input, clickedButton(input));
}

export type ViewStateValues = ViewOutput['state']['values'];

export interface ViewSubmissionInput {
  userId: string;
  userName?: string;
  callbackId: string;
  privateMetadata: string;
  values: ViewStateValues;
  viewId?: string;
  title?: string;
  blocks?: ViewOutput['blocks'];
  responseUrls?: ViewSubmitAction['response_urls'];
}

export function viewSubmissionPayload(input: ViewSubmissionInput): ViewSubmitAction {
  const viewId = input.viewId ?? `V${randomDigits(10)}`;
  const userName = input.userName ?? input.userId.toLowerCase();
  // Slack also sends `username`, which Bolt's type leaves out.
  const user = { id: input.userId, username: userName, name: userName, team_id: REQUEST_TEAM_ID };
  return {
    type: 'view_submission',
    team: { id: REQUEST_TEAM_ID, domain: REQUEST_TEAM_DOMAIN },
    user,
    api_app_id: REQUEST_APP_ID,
    token: REQUEST_VERIFICATION_TOKEN,
    trigger_id: fakeTriggerId(),
    view: {
      id: viewId,
      team_id: REQUEST_TEAM_ID,
      type: 'modal',
      blocks: input.blocks ?? [],
      private_metadata: input.privateMetadata,
      callback_id: input.callbackId,
      state: { values: input.values },
      hash: `${nowSeconds()}.${randomBytes(4).toString('hex')}`,
      title: { type: 'plain_text', text: input.title ?? 'Lifeline', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: { type: 'plain_text', text: 'Cancel', emoji: true },
      submit: { type: 'plain_text', text: 'Submit', emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: REQUEST_APP_ID,
      external_id: '',
      app_installed_team_id: REQUEST_TEAM_ID,
      bot_id: BOT_ID,
    },
    response_urls: input.responseUrls ?? [],
    is_enterprise_install: false,
  };
}

/** Wraps an event in the `event_callback` envelope the Events API posts. */
export function eventEnvelope<E extends { type: string }>(
  event: E,
  overrides: Partial<EnvelopedEvent<E>> = {},
): EnvelopedEvent<E> {
  return {
    token: REQUEST_VERIFICATION_TOKEN,
    team_id: REQUEST_TEAM_ID,
    context_team_id: REQUEST_TEAM_ID,
    api_app_id: REQUEST_APP_ID,
    event,
    type: 'event_callback',
    // Unique per delivery; Slack's retries reuse it, which is what dedupe keys on.
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: nowSeconds(),
    authorizations: [
      { enterprise_id: null, team_id: REQUEST_TEAM_ID, user_id: BOT_USER_ID, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    ...overrides,
  };
}

export function appHomeOpenedEvent(input: {
  userId: string;
  tab?: 'home' | 'messages';
}): EnvelopedEvent<types.AppHomeOpenedEvent> {
  return eventEnvelope<types.AppHomeOpenedEvent>({
    type: 'app_home_opened',
    user: input.userId,
    // The app's DM with the user, matching the fake's conversations.open answer.
    channel: `D${input.userId}`,
    tab: input.tab ?? 'home',
    event_ts: `${nowSeconds()}.${randomDigits(6)}`,
  });
}
