import { createHmac, randomBytes } from 'node:crypto';
import {
  type Json,
  LOCAL_APP_ID,
  LOCAL_BOT_ID,
  LOCAL_BOT_USER_ID,
  LOCAL_TEAM_DOMAIN,
  LOCAL_TEAM_ID,
  type LocalMessage,
  type LocalPerson,
  type LocalView,
} from './local-slack-workspace.ts';

// The requests Slack sends an app, built field for field as Slack builds them (slash commands as form fields;
// block_actions from a message, an ephemeral message, a modal or the Home tab; view_submission; the
// app_home_opened event), and signed the way Slack signs them. The simulator sends these to Lifeline's own
// /slack/events, through the same receiver and signature check as real Slack's.

/** The value a person chose or typed, before it takes the shape of its element. */
export type Choice = string | string[] | null;

/** Inputs of a view as the page holds them: block id → action id → what was chosen or typed. */
export type RawValues = Record<string, Record<string, Choice>>;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function actionTs(): string {
  return `${nowSeconds()}.${String(randomBytes(3).readUIntBE(0, 3) % 1_000_000).padStart(6, '0')}`;
}

/** Every option of a select, radio group, checkbox group or overflow menu, option groups flattened. */
function optionsOf(element: Json): Json[] {
  const direct = Array.isArray(element.options) ? element.options.filter(isJson) : [];
  const grouped = Array.isArray(element.option_groups)
    ? element.option_groups.filter(isJson).flatMap((group) => (Array.isArray(group.options) ? group.options.filter(isJson) : []))
    : [];
  return [...direct, ...grouped];
}

function optionFor(element: Json, value: string | null): Json | null {
  if (value === null) return null;
  const option = optionsOf(element).find((candidate) => candidate.value === value);
  if (!option) throw new SimulatorInputError(`“${value}” is not one of the choices offered here.`);
  return { text: option.text, value: option.value };
}

function single(choice: Choice): string | null {
  if (Array.isArray(choice)) return choice[0] ?? null;
  return choice === '' ? null : choice;
}

/** What the page sent does not fit the element it names (a value that is not an option, an element not there). */
export class SimulatorInputError extends Error {}

/** The element a block holds under `actionId`: in an actions block, as a section's accessory, or an input's. */
export function elementIn(blocks: Json[], blockId: string, actionId: string): Json | undefined {
  const block = blocks.find((candidate) => candidate.block_id === blockId);
  if (!block) return undefined;
  const candidates = [...(Array.isArray(block.elements) ? block.elements : []), block.accessory, block.element];
  return candidates.find((candidate): candidate is Json => isJson(candidate) && candidate.action_id === actionId);
}

/** One element's state, typed as Slack sends it in `view.state.values` and `actions`. */
function elementState(element: Json, choice: Choice): Json {
  const type = String(element.type);
  switch (type) {
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'number_input':
      return { type, value: single(choice) };
    case 'static_select':
    case 'radio_buttons':
    case 'overflow':
      return { type, selected_option: optionFor(element, single(choice)) };
    case 'multi_static_select':
    case 'checkboxes':
      return { type, selected_options: (Array.isArray(choice) ? choice : choice ? [choice] : []).map((value) => optionFor(element, value)) };
    case 'users_select':
      return { type, selected_user: single(choice) };
    case 'conversations_select':
    case 'channels_select':
      return { type, [type === 'channels_select' ? 'selected_channel' : 'selected_conversation']: single(choice) };
    case 'datepicker':
      return { type, selected_date: single(choice) };
    case 'timepicker':
      return { type, selected_time: single(choice) };
    default:
      return { type };
  }
}

/** `view.state.values` from the page's inputs, every input of the view present, as Slack sends them. */
export function stateValues(view: LocalView, raw: RawValues): Record<string, Record<string, Json>> {
  const values: Record<string, Record<string, Json>> = {};
  for (const block of view.blocks) {
    const element = isJson(block.element) ? block.element : undefined;
    if (block.type !== 'input' || !element) continue;
    const blockId = String(block.block_id);
    const actionId = String(element.action_id);
    values[blockId] = { [actionId]: elementState(element, raw[blockId]?.[actionId] ?? null) };
  }
  return values;
}

/** The element clicked or chosen, as it appears in a block_actions payload's `actions`. */
export function clickedAction(element: Json, blockId: string, choice: Choice): Json {
  const base = { action_id: element.action_id, block_id: blockId, action_ts: actionTs() };
  if (element.type === 'button') {
    return { ...base, type: 'button', text: element.text, ...(element.value !== undefined ? { value: element.value } : {}), ...(element.style ? { style: element.style } : {}) };
  }
  const state = elementState(element, choice);
  return { ...base, ...state, ...(element.placeholder ? { placeholder: element.placeholder } : {}) };
}

function userOf(person: LocalPerson): Json {
  const username = person.email.split('@')[0] ?? person.id.toLowerCase();
  return { id: person.id, username, name: username, team_id: LOCAL_TEAM_ID };
}

const team = { id: LOCAL_TEAM_ID, domain: LOCAL_TEAM_DOMAIN };

function channelName(channel: string, name: string): string {
  return channel.startsWith('D') ? 'directmessage' : name;
}

export interface CommandInput {
  person: LocalPerson;
  channel: { id: string; name: string };
  command: string;
  text: string;
  responseUrl: string;
  triggerId: string;
}

/** A slash command: plain form fields, in Slack's order. */
export function slashCommandFields(input: CommandInput): Record<string, string> {
  return {
    token: 'local-verification-token',
    team_id: LOCAL_TEAM_ID,
    team_domain: LOCAL_TEAM_DOMAIN,
    channel_id: input.channel.id,
    channel_name: channelName(input.channel.id, input.channel.name),
    user_id: input.person.id,
    user_name: String(userOf(input.person).username),
    command: input.command,
    text: input.text,
    api_app_id: LOCAL_APP_ID,
    is_enterprise_install: 'false',
    response_url: input.responseUrl,
    trigger_id: input.triggerId,
  };
}

function actionCommon(person: LocalPerson, triggerId: string, action: Json): Json {
  return {
    type: 'block_actions',
    user: userOf(person),
    api_app_id: LOCAL_APP_ID,
    token: 'local-verification-token',
    trigger_id: triggerId,
    team,
    enterprise: null,
    is_enterprise_install: false,
    actions: [action],
  };
}

/**
 * A click in a message. A posted message comes back whole with the click; an ephemeral one does not (only the
 * container says it was ephemeral). Both carry a response_url.
 */
export function messageActionPayload(input: { person: LocalPerson; channelName: string; message: LocalMessage; action: Json; responseUrl: string; triggerId: string }): Json {
  const { message } = input;
  const ephemeral = message.ephemeralTo !== undefined;
  return {
    ...actionCommon(input.person, input.triggerId, input.action),
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: ephemeral },
    channel: { id: message.channel, name: channelName(message.channel, input.channelName) },
    ...(ephemeral
      ? {}
      : {
          message: {
            type: 'message',
            user: LOCAL_BOT_USER_ID,
            bot_id: LOCAL_BOT_ID,
            app_id: LOCAL_APP_ID,
            text: message.text,
            ts: message.ts,
            team: LOCAL_TEAM_ID,
            blocks: message.blocks,
            ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
          },
        }),
    state: { values: {} },
    response_url: input.responseUrl,
  };
}

/** A view as Slack sends it back with a click in it or its submission, with the inputs' state. */
export function viewPayload(view: LocalView, raw: RawValues): Json {
  return {
    id: view.id,
    team_id: LOCAL_TEAM_ID,
    type: view.type,
    blocks: view.blocks,
    private_metadata: view.private_metadata,
    callback_id: view.callback_id,
    state: { values: stateValues(view, raw) },
    hash: view.hash,
    title: view.title,
    clear_on_close: false,
    notify_on_close: false,
    close: view.close,
    submit: view.submit,
    previous_view_id: view.previous_view_id,
    root_view_id: view.root_view_id,
    app_id: LOCAL_APP_ID,
    external_id: view.external_id,
    app_installed_team_id: LOCAL_TEAM_ID,
    bot_id: LOCAL_BOT_ID,
  };
}

/** A click in a modal or on the Home tab: the view, and no response_url, channel or message. */
export function viewActionPayload(input: { person: LocalPerson; view: LocalView; raw: RawValues; action: Json; triggerId: string }): Json {
  return { ...actionCommon(input.person, input.triggerId, input.action), container: { type: 'view', view_id: input.view.id }, view: viewPayload(input.view, input.raw) };
}

export function viewSubmissionPayload(input: { person: LocalPerson; view: LocalView; raw: RawValues; triggerId: string }): Json {
  return {
    type: 'view_submission',
    team,
    user: userOf(input.person),
    api_app_id: LOCAL_APP_ID,
    token: 'local-verification-token',
    trigger_id: input.triggerId,
    view: viewPayload(input.view, input.raw),
    response_urls: [],
    is_enterprise_install: false,
  };
}

export function appHomeOpenedEnvelope(person: LocalPerson, homeViewId: string | undefined): Json {
  return {
    token: 'local-verification-token',
    team_id: LOCAL_TEAM_ID,
    api_app_id: LOCAL_APP_ID,
    event: { type: 'app_home_opened', user: person.id, channel: `D${person.id}`, tab: 'home', event_ts: actionTs(), ...(homeViewId ? { view: { id: homeViewId } } : {}) },
    type: 'event_callback',
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: nowSeconds(),
    authorizations: [{ enterprise_id: null, team_id: LOCAL_TEAM_ID, user_id: LOCAL_BOT_USER_ID, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
}

/** Slack's signature: HMAC-SHA256 with the signing secret over `v0:{timestamp}:{body}`. */
export function signSlackBody(signingSecret: string, body: string, timestamp = nowSeconds()): Record<string, string> {
  const hex = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${hex}`, 'x-slack-request-timestamp': String(timestamp) };
}

/** A request as Slack sends it: form-encoded (commands, `payload=` for interactivity) or JSON (events). */
export function slackRequestBody(kind: 'command' | 'interactive' | 'event', content: Json | Record<string, string>): { body: string; contentType: string } {
  if (kind === 'event') return { body: JSON.stringify(content), contentType: 'application/json' };
  const fields = kind === 'interactive' ? { payload: JSON.stringify(content) } : content;
  // Exactly this content type: Bolt parses a form body only without a charset.
  return { body: new URLSearchParams(Object.entries(fields).map(([key, value]) => [key, String(value)])).toString(), contentType: 'application/x-www-form-urlencoded' };
}
