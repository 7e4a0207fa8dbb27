import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

// A loopback stand-in for slack.com: the Web API methods Lifeline calls, the
// response_url endpoints, Block Kit limit checks, and injectable failures.
// Everything Slack would reject should be rejected here too, so a test that
// passes against the fake does not fail for a "too long" string in production.

export type CallOutcome = 'ok' | 'error' | 'http_500' | 'rate_limited';

export interface RecordedCall {
  /** Web API method name, or `response_url` for posts to a response URL. */
  method: string;
  /** Arguments as Slack received them; JSON-carrying form fields (`blocks`, `attachments`, `view`, `metadata`) parsed back into objects. Other form values stay strings, as on the wire. */
  body: Record<string, unknown>;
  token: string | undefined;
  at: number;
  responseId?: string;
  outcome: CallOutcome;
  /** The `error` code of an `ok: false` answer. */
  error?: string;
  /** Block Kit violations behind an `invalid_blocks` / `invalid_arguments` answer. */
  errors?: string[];
  /** Things Slack accepts but that are probably mistakes, e.g. `missing_text_fallback`. */
  warnings: string[];
  /** Answered 500 after Slack did the work (a `processed` failure): the caller cannot know it landed. */
  processed?: boolean;
  /** The fake kept this call's answer back (see `holdNext`): its caller may never have heard that it landed. */
  held?: boolean;
}

/**
 * `processed: true` on a 500: Slack did the work (a post is stored and shows in conversations.history), then
 * the answer was lost, as when a gateway times out behind a healthy backend.
 */
export type FakeFailure = { status: 500; processed?: boolean } | { status: 429; retryAfterSeconds: number } | { error: string };

/** What a failure rule sees of a call: its arguments and the fake's time. */
export interface FailureProbe {
  body: Record<string, unknown>;
  at: number;
}

/** Decides, call by call, whether the fake fails it: an outage schedule, a channel that is gone, … */
export type FailureRule = (call: FailureProbe) => FakeFailure | undefined;

/** A call Slack accepted and did the work of, whose answer the fake keeps back until released. */
export interface HeldCall {
  call: RecordedCall;
  /** The answer Slack would have sent (e.g. the posted message's `ts`). */
  response: Record<string, unknown>;
  /** Sends the answer now, if the caller is still connected. */
  release(): void;
}

export interface HoldOptions {
  /** Only a call this accepts is held; others are answered as usual. */
  rule?: (call: FailureProbe) => boolean;
  /** How long to wait for a matching call before the returned promise rejects. */
  timeoutMs?: number;
}

export interface FakeSlackUser {
  id: string;
  email: string;
  name?: string;
  realName?: string;
  tz?: string;
}

export interface FakeSlackOptions {
  /** Models Slack's per-channel chat.postMessage limit (about 1/s in production). */
  channelRateLimit?: { perSecond: number };
  /** Users answered by users.info / users.lookupByEmail; unknown ids and emails get a deterministic synthetic user. */
  users?: FakeSlackUser[];
  /**
   * The fake's time in ms: recorded call times, the per-channel rate window and failure rules read it. The wall
   * clock by default; a simulated clock lets a test play minutes of an outage in a second.
   */
  clock?: () => number;
}

export interface FakeSlack {
  apiUrl: string;
  responseUrl(id?: string): string;
  calls: RecordedCall[];
  callsTo(method: string): RecordedCall[];
  waitForCalls(method: string, count: number, timeoutMs?: number): Promise<RecordedCall[]>;
  failNext(method: string, failure: FakeFailure, times?: number): void;
  /**
   * Consulted for every call to `method` (`*` for every method and response_url) that no `failNext` failure
   * took; the first rule that answers a failure decides. Cleared by reset().
   */
  failWhen(method: string, rule: FailureRule): void;
  /**
   * Holds the next successful call to `method`: Slack does the work (a post is stored and shows in
   * conversations.history) and the call is recorded, but no answer is sent until it is released. This is the
   * window a crash between "Slack accepted it" and "the caller recorded it" falls into, made to last until the
   * test has killed the caller. Resolves when such a call arrives.
   */
  holdNext(method: string, options?: HoldOptions): Promise<HeldCall>;
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_TEAM_ID = 'T0001';
export const FAKE_TEAM_DOMAIN = 'lifeline-test';
export const FAKE_APP_ID = 'A0001';
export const FAKE_BOT_USER_ID = 'UBOT';
export const FAKE_BOT_ID = 'BBOT';

// ---------------------------------------------------------------------------
// Block Kit validation
// ---------------------------------------------------------------------------

export type BlockSurface = 'message' | 'modal' | 'home';

const MAX_BLOCKS: Record<BlockSurface, number> = { message: 50, modal: 100, home: 100 };

const SELECT_ELEMENTS = [
  'static_select',
  'multi_static_select',
  'external_select',
  'multi_external_select',
  'users_select',
  'multi_users_select',
  'conversations_select',
  'multi_conversations_select',
  'channels_select',
  'multi_channels_select',
];
const INTERACTIVE_ELEMENTS = new Set([
  ...SELECT_ELEMENTS,
  'button',
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'overflow',
  'workflow_button',
  'feedback_buttons',
  'icon_button',
]);
const ACCESSORY_ELEMENTS = new Set([...INTERACTIVE_ELEMENTS, 'image']);
const INPUT_ELEMENTS = new Set([
  ...SELECT_ELEMENTS,
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'plain_text_input',
  'email_text_input',
  'url_text_input',
  'number_input',
  'rich_text_input',
  'file_input',
]);
// Block types Slack accepts that Lifeline does not build; they pass without deeper checks.
const OPAQUE_BLOCKS = new Set([
  'rich_text',
  'file',
  'video',
  'table',
  'alert',
  'card',
  'carousel',
  'container',
  'context_actions',
  'data_table',
  'task_card',
  'plan',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Violations {
  readonly list: string[] = [];
  add(message: string, pointer: string): void {
    // Slack's own format, so assertions written against the fake read like production logs.
    this.list.push(`${message} [json-pointer:${pointer}]`);
  }
}

function checkString(v: Violations, value: unknown, pointer: string, min: number, max: number): void {
  if (typeof value !== 'string') {
    v.add('must provide a string', pointer);
    return;
  }
  // String length counts UTF-16 units, which errs on the strict side for emoji.
  if (value.length < min) v.add(`must be more than ${min - 1} characters`, pointer);
  else if (value.length > max) v.add(`must be less than ${max + 1} characters`, pointer);
}

function checkOptionalString(v: Violations, value: unknown, pointer: string, max: number): void {
  if (value !== undefined) checkString(v, value, pointer, 0, max);
}

function checkArray(v: Violations, value: unknown, pointer: string, min: number, max: number): unknown[] | undefined {
  if (!Array.isArray(value)) {
    v.add('must provide an array', pointer);
    return undefined;
  }
  if (value.length < min) v.add(`must provide at least ${min} items`, pointer);
  if (value.length > max) v.add(`no more than ${max} items allowed`, pointer);
  return value;
}

interface TextRule {
  max: number;
  min?: number;
  plainOnly?: boolean;
}

function checkText(v: Violations, value: unknown, pointer: string, rule: TextRule): void {
  if (!isRecord(value)) {
    v.add('must provide an object', pointer);
    return;
  }
  const allowed = value.type === 'plain_text' || (!rule.plainOnly && value.type === 'mrkdwn');
  if (!allowed) v.add('must be a valid enum value', `${pointer}/type`);
  checkString(v, value.text, `${pointer}/text`, rule.min ?? 1, rule.max);
}

function checkOptionalText(v: Violations, value: unknown, pointer: string, rule: TextRule): void {
  if (value !== undefined) checkText(v, value, pointer, rule);
}

function checkConfirm(v: Violations, value: unknown, pointer: string): void {
  if (value === undefined) return;
  if (!isRecord(value)) {
    v.add('must provide an object', pointer);
    return;
  }
  checkOptionalText(v, value.title, `${pointer}/title`, { max: 100, plainOnly: true });
  checkText(v, value.text, `${pointer}/text`, { max: 300 });
  checkOptionalText(v, value.confirm, `${pointer}/confirm`, { max: 30, plainOnly: true });
  checkOptionalText(v, value.deny, `${pointer}/deny`, { max: 30, plainOnly: true });
}

function checkOption(v: Violations, option: unknown, pointer: string, plainOnly: boolean, allowUrl: boolean): void {
  if (!isRecord(option)) {
    v.add('must provide an object', pointer);
    return;
  }
  checkText(v, option.text, `${pointer}/text`, { max: 75, plainOnly });
  checkString(v, option.value, `${pointer}/value`, 0, 150);
  checkOptionalText(v, option.description, `${pointer}/description`, { max: 75, plainOnly });
  if (allowUrl) checkOptionalString(v, option.url, `${pointer}/url`, 3000);
}

function checkOptions(
  v: Violations,
  value: unknown,
  pointer: string,
  limits: { min: number; max: number; plainOnly: boolean; allowUrl?: boolean },
): void {
  const options = checkArray(v, value, pointer, limits.min, limits.max);
  options?.forEach((option, i) => checkOption(v, option, `${pointer}/${i}`, limits.plainOnly, limits.allowUrl ?? false));
}

function checkSelectOptions(v: Violations, el: Record<string, unknown>, pointer: string): void {
  if (el.option_groups !== undefined) {
    const groups = checkArray(v, el.option_groups, `${pointer}/option_groups`, 1, 100);
    groups?.forEach((group, g) => {
      const groupPointer = `${pointer}/option_groups/${g}`;
      if (!isRecord(group)) {
        v.add('must provide an object', groupPointer);
        return;
      }
      checkText(v, group.label, `${groupPointer}/label`, { max: 75, plainOnly: true });
      checkOptions(v, group.options, `${groupPointer}/options`, { min: 1, max: 100, plainOnly: true });
    });
    return;
  }
  if (el.options === undefined) {
    v.add('missing required field: options', pointer);
    return;
  }
  checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 100, plainOnly: true });
}

function checkElement(v: Violations, el: unknown, pointer: string, allowed: ReadonlySet<string>): void {
  if (!isRecord(el)) {
    v.add('must provide an object', pointer);
    return;
  }
  const type = el.type;
  if (typeof type !== 'string' || !allowed.has(type)) {
    v.add(`unsupported element type: ${String(type)}`, `${pointer}/type`);
    return;
  }
  checkOptionalString(v, el.action_id, `${pointer}/action_id`, 255);
  checkConfirm(v, el.confirm, `${pointer}/confirm`);
  checkOptionalText(v, el.placeholder, `${pointer}/placeholder`, { max: 150, plainOnly: true });

  switch (type) {
    case 'button':
      checkText(v, el.text, `${pointer}/text`, { max: 75, plainOnly: true });
      checkOptionalString(v, el.value, `${pointer}/value`, 2000);
      checkOptionalString(v, el.url, `${pointer}/url`, 3000);
      if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
        v.add('must be a valid enum value', `${pointer}/style`);
      }
      break;
    case 'workflow_button':
      checkText(v, el.text, `${pointer}/text`, { max: 75, plainOnly: true });
      break;
    case 'static_select':
    case 'multi_static_select':
      checkSelectOptions(v, el, pointer);
      break;
    case 'overflow':
      checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 5, plainOnly: true, allowUrl: true });
      break;
    case 'checkboxes':
    case 'radio_buttons':
      checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 10, plainOnly: false });
      break;
    case 'plain_text_input':
      checkOptionalString(v, el.initial_value, `${pointer}/initial_value`, 3000);
      break;
    case 'image':
      if (el.slack_file === undefined) checkString(v, el.image_url, `${pointer}/image_url`, 1, 3000);
      checkString(v, el.alt_text, `${pointer}/alt_text`, 0, 2000);
      break;
    default:
      break;
  }
}

function checkBlock(
  v: Violations,
  block: unknown,
  pointer: string,
  blockIds: Map<string, string>,
): void {
  if (!isRecord(block)) {
    v.add('must provide an object', pointer);
    return;
  }
  if (block.block_id !== undefined) {
    checkString(v, block.block_id, `${pointer}/block_id`, 0, 255);
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) v.add(`duplicate block_id: ${block.block_id}`, `${pointer}/block_id`);
      blockIds.set(block.block_id, pointer);
    }
  }

  const type = block.type;
  switch (type) {
    case 'section': {
      if (block.text === undefined && block.fields === undefined) {
        v.add('missing required field: text', pointer);
      }
      checkOptionalText(v, block.text, `${pointer}/text`, { max: 3000 });
      if (block.fields !== undefined) {
        const fields = checkArray(v, block.fields, `${pointer}/fields`, 1, 10);
        fields?.forEach((field, i) => checkText(v, field, `${pointer}/fields/${i}`, { max: 2000 }));
      }
      if (block.accessory !== undefined) checkElement(v, block.accessory, `${pointer}/accessory`, ACCESSORY_ELEMENTS);
      break;
    }
    case 'header':
      checkText(v, block.text, `${pointer}/text`, { max: 150, plainOnly: true });
      break;
    case 'actions': {
      const elements = checkArray(v, block.elements, `${pointer}/elements`, 1, 25);
      const actionIds = new Set<string>();
      elements?.forEach((el, i) => {
        const elPointer = `${pointer}/elements/${i}`;
        checkElement(v, el, elPointer, INTERACTIVE_ELEMENTS);
        if (isRecord(el) && typeof el.action_id === 'string') {
          if (actionIds.has(el.action_id)) v.add(`duplicate action_id: ${el.action_id}`, `${elPointer}/action_id`);
          actionIds.add(el.action_id);
        }
      });
      break;
    }
    case 'context': {
      const elements = checkArray(v, block.elements, `${pointer}/elements`, 1, 10);
      elements?.forEach((el, i) => {
        const elPointer = `${pointer}/elements/${i}`;
        if (isRecord(el) && el.type === 'image') checkElement(v, el, elPointer, ACCESSORY_ELEMENTS);
        else checkText(v, el, elPointer, { max: 3000 });
      });
      break;
    }
    case 'divider':
      break;
    case 'image':
      if (block.slack_file === undefined) checkString(v, block.image_url, `${pointer}/image_url`, 1, 3000);
      checkString(v, block.alt_text, `${pointer}/alt_text`, 0, 2000);
      checkOptionalText(v, block.title, `${pointer}/title`, { max: 2000, plainOnly: true });
      break;
    case 'input':
      checkText(v, block.label, `${pointer}/label`, { max: 2000, plainOnly: true });
      checkOptionalText(v, block.hint, `${pointer}/hint`, { max: 2000, plainOnly: true });
      if (block.element === undefined) v.add('missing required field: element', pointer);
      else checkElement(v, block.element, `${pointer}/element`, INPUT_ELEMENTS);
      break;
    case 'markdown':
      checkString(v, block.text, `${pointer}/text`, 1, 12000);
      break;
    default:
      if (typeof type !== 'string' || !OPAQUE_BLOCKS.has(type)) {
        v.add(`unsupported block type: ${String(type)}`, `${pointer}/type`);
      }
  }
}

function checkBlocks(v: Violations, blocks: unknown, pointer: string, surface: BlockSurface): void {
  const list = checkArray(v, blocks, pointer, 0, MAX_BLOCKS[surface]);
  const blockIds = new Map<string, string>();
  list?.forEach((block, i) => checkBlock(v, block, `${pointer}/${i}`, blockIds));
}

/** Block Kit violations Slack would report for `blocks` on a surface; pointers are rooted at `/blocks`. */
export function validateBlocks(blocks: unknown, surface: BlockSurface): string[] {
  const v = new Violations();
  checkBlocks(v, blocks, '/blocks', surface);
  return v.list;
}

/** Violations Slack would report for a modal or Home tab view; pointers are rooted at `/view`. */
export function validateView(view: unknown): string[] {
  const v = new Violations();
  if (!isRecord(view)) {
    v.add('must provide an object', '/view');
    return v.list;
  }
  if (view.type !== 'modal' && view.type !== 'home') v.add('must be a valid enum value', '/view/type');
  const surface: BlockSurface = view.type === 'home' ? 'home' : 'modal';
  if (view.type === 'modal') checkText(v, view.title, '/view/title', { max: 24, plainOnly: true });
  else checkOptionalText(v, view.title, '/view/title', { max: 24, plainOnly: true });
  checkOptionalText(v, view.submit, '/view/submit', { max: 24, plainOnly: true });
  checkOptionalText(v, view.close, '/view/close', { max: 24, plainOnly: true });
  checkOptionalString(v, view.private_metadata, '/view/private_metadata', 3000);
  checkOptionalString(v, view.callback_id, '/view/callback_id', 255);
  checkOptionalString(v, view.external_id, '/view/external_id', 255);
  if (view.blocks === undefined) v.add('missing required field: blocks', '/view');
  else checkBlocks(v, view.blocks, '/view/blocks', surface);
  const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isRecord(b) && b.type === 'input');
  if (view.type === 'modal' && hasInput && view.submit === undefined) {
    v.add('must provide submit when the view contains input blocks', '/view/submit');
  }
  return v.list;
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

interface Outcome {
  response: Record<string, unknown>;
  errors?: string[];
}

interface MethodContext {
  body: Record<string, unknown>;
  record: RecordedCall;
}

type MethodHandler = (ctx: MethodContext) => Outcome;

// Slack's only method that needs no token; auth.test does need one.
const AUTH_FREE_METHODS = new Set(['api.test']);
const JSON_FIELDS: Record<string, string> = {
  blocks: 'invalid_blocks_format',
  attachments: 'invalid_attachments',
  view: 'invalid_arguments',
  metadata: 'invalid_metadata_format',
};
const MAX_MESSAGE_TEXT = 40_000;

function ok(data: Record<string, unknown> = {}): Outcome {
  return { response: { ok: true, ...data } };
}

function fail(error: string, errors?: string[]): Outcome {
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

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function truthy(value: unknown): boolean {
  return value === true || value === 'true' || value === 1 || value === '1';
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}

function describeCall(call: RecordedCall): string {
  const id = call.responseId ? `[${call.responseId}]` : '';
  const error = call.error ? `:${call.error}` : '';
  const details = call.errors?.length ? ` ${call.errors.join('; ')}` : '';
  return `${call.method}${id} → ${call.outcome}${error}${details}`;
}

interface ParsedRequest {
  body: Record<string, unknown>;
  token: string | undefined;
  parseError?: string;
  warnings: string[];
}

function parseJsonFields(body: Record<string, unknown>): string | undefined {
  for (const [field, errorCode] of Object.entries(JSON_FIELDS)) {
    const value = body[field];
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) continue;
    try {
      body[field] = JSON.parse(trimmed);
    } catch {
      return errorCode;
    }
  }
  return undefined;
}

function parseApiRequest(req: IncomingMessage, url: URL, raw: string): ParsedRequest {
  const body: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const warnings: string[] = [];
  const contentType = req.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  let parseError: string | undefined;

  if (mediaType === 'application/json') {
    // Slack warns (but answers) when a JSON body has no charset.
    if (!/charset=/i.test(contentType)) warnings.push('missing_charset');
    if (raw.trim().length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (isRecord(parsed)) Object.assign(body, parsed);
        else parseError = 'invalid_json';
      } catch {
        parseError = 'invalid_json';
      }
    }
    // Slack ignores a token inside a JSON body: JSON callers must use the header.
    delete body.token;
  } else if (mediaType === 'application/x-www-form-urlencoded' || mediaType === '' || raw.length === 0) {
    for (const [key, value] of new URLSearchParams(raw)) body[key] = value;
  } else {
    parseError = 'invalid_form_data';
  }

  const formToken = str(body.token);
  delete body.token;
  parseError ??= parseJsonFields(body);
  return { body, token: bearer ?? formToken, parseError, warnings };
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

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const calls: RecordedCall[] = [];
  const failures = new Map<string, FakeFailure[]>();
  const failureRules: { method: string; rule: FailureRule }[] = [];
  const holds: { method: string; rule: ((call: FailureProbe) => boolean) | undefined; take: (held: HeldCall) => void; abort: (error: Error) => void }[] = [];
  const heldResponses = new Set<ServerResponse>();
  const now = options.clock ?? Date.now;
  const waiters = new Set<{ check: () => boolean; abort: (error: Error) => void }>();
  const messages = new Map<string, StoredMessage>();
  const viewHashes = new Map<string, string>();
  const homeViewIds = new Map<string, string>();
  const postTimes = new Map<string, number[]>();
  const usersByEmail = new Map((options.users ?? []).map((u) => [u.email.toLowerCase(), u]));
  const usersById = new Map((options.users ?? []).map((u) => [u.id, u]));
  let tsCounter = 0;
  let viewCounter = 0;
  let responseCounter = 0;

  // Like Slack's: the posting time in seconds plus a unique, increasing suffix, so `oldest` filters work.
  let lastTs = 0;
  function nextTs(): string {
    tsCounter += 1;
    const micros = Math.max(now() * 1000, lastTs + 1);
    lastTs = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  function record(call: RecordedCall): void {
    calls.push(call);
    for (const waiter of [...waiters]) waiter.check();
  }

  function takeFailure(method: string, probe: FailureProbe): FakeFailure | undefined {
    const queue = failures.get(method);
    const failure = queue?.shift();
    if (queue && queue.length === 0) failures.delete(method);
    if (failure) return failure;
    for (const entry of failureRules) {
      if (entry.method !== method && entry.method !== '*') continue;
      const ruled = entry.rule(probe);
      if (ruled) return ruled;
    }
    return undefined;
  }

  function isRateLimited(channel: string): boolean {
    const limit = options.channelRateLimit;
    if (!limit) return false;
    const at = now();
    const recent = (postTimes.get(channel) ?? []).filter((t) => at - t < 1000);
    const limited = recent.length >= limit.perSecond;
    if (!limited) recent.push(at);
    postTimes.set(channel, recent);
    return limited;
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

  function checkMessageContent(body: Record<string, unknown>, recordCall: RecordedCall): Outcome | undefined {
    const text = typeof body.text === 'string' ? body.text : '';
    const hasBlocks = Array.isArray(body.blocks) && body.blocks.length > 0;
    const hasAttachments = Array.isArray(body.attachments) && body.attachments.length > 0;
    if (text.length === 0 && !hasBlocks && !hasAttachments) return fail('no_text');
    if (body.blocks !== undefined) {
      const errors = validateBlocks(body.blocks, 'message');
      if (errors.length > 0) return fail('invalid_blocks', errors);
    }
    // Slack accepts this, but notifications and screen readers then show nothing useful.
    if (hasBlocks && text.length === 0) recordCall.warnings.push('missing_text_fallback');
    if (text.length > MAX_MESSAGE_TEXT) recordCall.warnings.push('text_truncated');
    return undefined;
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
    'chat.postMessage': ({ body, record: call }) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      const problem = checkMessageContent(body, call);
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
    'chat.update': ({ body, record: call }) => {
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
        call.warnings.push('missing_text_fallback');
      }
      return ok({ channel, ts, text, message: messageObject(body, ts) });
    },
    'chat.postEphemeral': ({ body, record: call }) => {
      const channel = str(body.channel);
      if (!channel) return fail('channel_not_found');
      if (!str(body.user)) return fail('user_not_in_channel');
      const problem = checkMessageContent(body, call);
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
    'views.open': ({ body }) => {
      if (!str(body.trigger_id)) return invalidArguments(['missing required field: trigger_id [json-pointer:/trigger_id]']);
      const checked = checkView(body, 'modal');
      if ('outcome' in checked) return checked.outcome;
      const { view } = checked;
      return ok({ view: viewOutput(view, newViewId()) });
    },
    'views.push': ({ body }) => {
      if (!str(body.trigger_id)) return invalidArguments(['missing required field: trigger_id [json-pointer:/trigger_id]']);
      const checked = checkView(body, 'modal');
      if ('outcome' in checked) return checked.outcome;
      const { view } = checked;
      return ok({ view: viewOutput(view, newViewId()) });
    },
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

  function applyFailure(res: ServerResponse, call: RecordedCall, failure: FakeFailure, asText: boolean): void {
    if ('error' in failure) {
      call.outcome = 'error';
      call.error = failure.error;
      record(call);
      // response_url errors come back as a non-2xx plain-text body rather than JSON ok:false.
      if (asText) sendText(res, 400, failure.error);
      else sendJson(res, 200, { ok: false, error: failure.error });
    } else if (failure.status === 429) {
      call.outcome = 'rate_limited';
      call.error = 'ratelimited';
      record(call);
      const headers = { 'retry-after': String(failure.retryAfterSeconds) };
      if (asText) sendText(res, 429, 'rate_limited', headers);
      else sendJson(res, 429, { ok: false, error: 'ratelimited' }, headers);
    } else {
      call.outcome = 'http_500';
      record(call);
      sendText(res, 500, 'Internal Server Error');
    }
  }

  function handleApi(method: string, req: IncomingMessage, url: URL, raw: string, res: ServerResponse): void {
    const parsed = parseApiRequest(req, url, raw);
    const call: RecordedCall = {
      method,
      body: parsed.body,
      token: parsed.token,
      at: now(),
      outcome: 'ok',
      warnings: parsed.warnings,
    };

    const failure = takeFailure(method, { body: parsed.body, at: call.at });
    const processedFailure = failure && 'status' in failure && failure.status === 500 && failure.processed === true;
    if (failure && !processedFailure) {
      applyFailure(res, call, failure, false);
      return;
    }

    const handler = handlers[method];
    let outcome: Outcome;
    if (parsed.parseError) {
      outcome = fail(parsed.parseError);
    } else if (!handler) {
      outcome = fail('unknown_method');
    } else if (!parsed.token && !AUTH_FREE_METHODS.has(method)) {
      outcome = fail('not_authed');
    } else if (method === 'chat.postMessage' && isRateLimited(str(parsed.body.channel) ?? '')) {
      call.outcome = 'rate_limited';
      call.error = 'ratelimited';
      record(call);
      sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
      return;
    } else {
      outcome = handler({ body: parsed.body, record: call });
    }

    const response = outcome.response;
    if (failure) {
      call.processed = response.ok === true;
      applyFailure(res, call, failure, false);
      return;
    }
    if (response.ok !== true) {
      call.outcome = 'error';
      call.error = typeof response.error === 'string' ? response.error : 'unknown_error';
      if (outcome.errors) call.errors = outcome.errors;
    }
    if (parsed.warnings.includes('missing_charset')) {
      response.warning = 'missing_charset';
      const metadata = isRecord(response.response_metadata) ? response.response_metadata : {};
      response.response_metadata = { ...metadata, warnings: ['missing_charset'] };
    }
    const hold = response.ok === true ? holds.find((entry) => entry.method === method && (entry.rule?.({ body: parsed.body, at: call.at }) ?? true)) : undefined;
    if (hold) {
      holds.splice(holds.indexOf(hold), 1);
      call.held = true;
      record(call);
      heldResponses.add(res);
      hold.take({
        call,
        response,
        release: () => {
          if (!heldResponses.delete(res)) return;
          // A caller killed meanwhile has closed its socket: there is nobody left to answer.
          if (!res.destroyed) sendJson(res, 200, response);
        },
      });
      return;
    }
    record(call);
    sendJson(res, 200, response);
  }

  function handleResponseUrl(id: string, raw: string, res: ServerResponse): void {
    const call: RecordedCall = {
      method: 'response_url',
      body: {},
      token: undefined,
      at: now(),
      responseId: id,
      outcome: 'ok',
      warnings: [],
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (isRecord(parsed)) {
      call.body = parsed;
      parseJsonFields(call.body);
    }
    const failure = takeFailure('response_url', { body: call.body, at: call.at });
    if (failure) {
      applyFailure(res, call, failure, true);
      return;
    }

    let problem: Outcome | undefined;
    if (!isRecord(parsed)) problem = fail('invalid_payload');
    else if (!truthy(parsed.delete_original)) problem = checkMessageContent(call.body, call);

    if (problem) {
      const error = typeof problem.response.error === 'string' ? problem.response.error : 'invalid_payload';
      call.outcome = 'error';
      call.error = error;
      if (problem.errors) call.errors = problem.errors;
      record(call);
      sendText(res, 400, error);
      return;
    }
    record(call);
    sendText(res, 200, 'ok');
  }

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const raw = await readBody(req);
        if (url.pathname.startsWith('/api/')) {
          handleApi(decodeURIComponent(url.pathname.slice('/api/'.length)), req, url, raw, res);
        } else if (url.pathname.startsWith('/response/') && req.method === 'POST') {
          handleResponseUrl(decodeURIComponent(url.pathname.slice('/response/'.length)), raw, res);
        } else {
          sendText(res, 404, 'not_found');
        }
      } catch (error) {
        // A bug in the fake must surface in the test, not as a hung request.
        if (!res.headersSent) sendText(res, 500, `fake-slack crashed: ${String(error)}`);
        else res.end();
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake Slack: server has no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const fake: FakeSlack = {
    apiUrl: `${baseUrl}/api/`,
    calls,
    responseUrl(id?: string): string {
      responseCounter += 1;
      return `${baseUrl}/response/${encodeURIComponent(id ?? `R${String(responseCounter).padStart(4, '0')}`)}`;
    },
    callsTo(method: string): RecordedCall[] {
      return calls.filter((c) => c.method === method);
    },
    waitForCalls(method: string, count: number, timeoutMs = 5000): Promise<RecordedCall[]> {
      return new Promise((resolve, reject) => {
        const matching = (): RecordedCall[] => calls.filter((c) => c.method === method);
        if (matching().length >= count) {
          resolve(matching());
          return;
        }
        const waiter = {
          check: (): boolean => {
            const found = matching();
            if (found.length < count) return false;
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(found);
            return true;
          },
          abort: (error: Error): void => {
            clearTimeout(timer);
            waiters.delete(waiter);
            reject(error);
          },
        };
        const timer = setTimeout(() => {
          const received = calls.length === 0 ? 'no calls at all' : calls.map(describeCall).join('\n  ');
          waiter.abort(
            new Error(
              `fake Slack: expected ${count} call(s) to ${method} within ${timeoutMs} ms, got ${matching().length}. Received:\n  ${received}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    failNext(method: string, failure: FakeFailure, times = 1): void {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i += 1) queue.push(failure);
      failures.set(method, queue);
    },
    failWhen(method: string, rule: FailureRule): void {
      failureRules.push({ method, rule });
    },
    holdNext(method: string, holdOptions: HoldOptions = {}): Promise<HeldCall> {
      return new Promise((resolve, reject) => {
        const timeoutMs = holdOptions.timeoutMs ?? 30_000;
        const entry = {
          method,
          rule: holdOptions.rule,
          take: (held: HeldCall) => {
            clearTimeout(timer);
            resolve(held);
          },
          abort: (error: Error) => {
            clearTimeout(timer);
            const index = holds.indexOf(entry);
            if (index >= 0) holds.splice(index, 1);
            reject(error);
          },
        };
        const timer = setTimeout(
          () => entry.abort(new Error(`fake Slack: no successful call to ${method} to hold arrived within ${timeoutMs} ms; got ${calls.filter((c) => c.method === method).length} call(s) to it in all`)),
          timeoutMs,
        );
        holds.push(entry);
      });
    },
    reset(): void {
      calls.length = 0;
      failures.clear();
      failureRules.length = 0;
      postTimes.clear();
      messages.clear();
      viewHashes.clear();
      homeViewIds.clear();
    },
    close(): Promise<void> {
      for (const waiter of [...waiters]) waiter.abort(new Error('fake Slack closed while waiting for calls'));
      for (const hold of [...holds]) hold.abort(new Error('fake Slack closed while waiting for a call to hold'));
      for (const res of heldResponses) res.destroy();
      heldResponses.clear();
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // fetch keeps sockets alive; without this close() would wait for them to idle out.
        server.closeAllConnections();
      });
    },
  };
  return fake;
}
