import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type FakeSlackUser, type Outcome, checkMessageContent, createFakeWorkspace, fail, str, truthy } from './fake-slack-workspace.ts';

// A loopback stand-in for slack.com: the Web API and response_url endpoints over HTTP, every call recorded, and
// the failures a test injects (errors, 500s, 429s, per-channel rate limits, answers held back). What each method
// answers is the workspace's (fake-slack-workspace.ts); Block Kit is checked as Slack would (block-kit.ts), so a
// test that passes against the fake does not fail for a "too long" string in production.

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
  /** Which of the fake's own chat.postMessage limits answered this call 429 (not set for injected failures). */
  rateLimit?: 'channel' | 'workspace';
  /** Retry-After (seconds) the fake answered with, on a 429. */
  retryAfterSeconds?: number;
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

export interface FakeSlackOptions {
  /** Models Slack's per-channel chat.postMessage limit (about 1/s in production). */
  channelRateLimit?: { perSecond: number };
  /**
   * Models Slack's workspace-wide chat.postMessage limit: at most `perSecond` posts accepted in any second,
   * across all channels; past it, 429 with Retry-After `retryAfterSeconds` (1 by default). Slack does not
   * publish its number; a benchmark or test picks one and the sender must find it from the 429s.
   */
  workspaceRateLimit?: { perSecond: number; retryAfterSeconds?: number };
  /** Users answered by users.info / users.lookupByEmail; unknown ids and emails get a deterministic synthetic user. */
  users?: FakeSlackUser[];
  /**
   * The fake's time in ms: recorded call times, the per-channel rate window and failure rules read it. The wall
   * clock by default; a simulated clock lets a test play minutes of an outage in a second.
   */
  clock?: () => number;
  /**
   * Where apps.connections.open sends a Socket Mode client (Slack answers a single-use wss:// URL; a test gives a
   * ws:// WebSocket server on loopback). Unset: the method answers as for an app without Socket Mode.
   */
  socketModeUrl?: () => string;
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Slack's only method that needs no token; auth.test does need one.
const AUTH_FREE_METHODS = new Set(['api.test']);
const JSON_FIELDS: Record<string, string> = {
  blocks: 'invalid_blocks_format',
  attachments: 'invalid_attachments',
  view: 'invalid_arguments',
  metadata: 'invalid_metadata_format',
};

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

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const calls: RecordedCall[] = [];
  const failures = new Map<string, FakeFailure[]>();
  const failureRules: { method: string; rule: FailureRule }[] = [];
  const holds: { method: string; rule: ((call: FailureProbe) => boolean) | undefined; take: (held: HeldCall) => void; abort: (error: Error) => void }[] = [];
  const heldResponses = new Set<ServerResponse>();
  const now = options.clock ?? Date.now;
  const waiters = new Set<{ check: () => boolean; abort: (error: Error) => void }>();
  const postTimes = new Map<string, number[]>();
  /** Times of the posts accepted in the last second, across every channel, oldest first. */
  const workspacePostTimes: number[] = [];
  const workspace = createFakeWorkspace({ users: options.users ?? [], now });
  const handlers: typeof workspace.handlers = {
    ...workspace.handlers,
    // An app without Socket Mode gets the error Slack gives to a token that may not open connections.
    'apps.connections.open': () =>
      options.socketModeUrl ? { response: { ok: true, url: options.socketModeUrl() } } : { response: { ok: false, error: 'not_allowed_token_type' } },
  };
  let responseCounter = 0;

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

  /** Which limit a post to `channel` now breaks, if any; a post that breaks none counts against both. */
  function rateLimitBroken(channel: string): { limit: 'channel' | 'workspace'; retryAfterSeconds: number } | undefined {
    const at = now();
    const recent = (postTimes.get(channel) ?? []).filter((t) => at - t < 1000);
    postTimes.set(channel, recent);
    while (workspacePostTimes.length > 0 && at - (workspacePostTimes[0] ?? at) >= 1000) workspacePostTimes.shift();
    if (options.channelRateLimit && recent.length >= options.channelRateLimit.perSecond) return { limit: 'channel', retryAfterSeconds: 1 };
    const workspace = options.workspaceRateLimit;
    if (workspace && workspacePostTimes.length >= workspace.perSecond) return { limit: 'workspace', retryAfterSeconds: workspace.retryAfterSeconds ?? 1 };
    recent.push(at);
    workspacePostTimes.push(at);
    return undefined;
  }

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
      call.retryAfterSeconds = failure.retryAfterSeconds;
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
    let broken: ReturnType<typeof rateLimitBroken>;
    if (parsed.parseError) {
      outcome = fail(parsed.parseError);
    } else if (!handler) {
      outcome = fail('unknown_method');
    } else if (!parsed.token && !AUTH_FREE_METHODS.has(method)) {
      outcome = fail('not_authed');
    } else if (method === 'chat.postMessage' && (broken = rateLimitBroken(str(parsed.body.channel) ?? ''))) {
      call.outcome = 'rate_limited';
      call.error = 'ratelimited';
      call.rateLimit = broken.limit;
      call.retryAfterSeconds = broken.retryAfterSeconds;
      record(call);
      sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(broken.retryAfterSeconds) });
      return;
    } else {
      outcome = handler({ body: parsed.body, warnings: call.warnings });
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
    else if (!truthy(parsed.delete_original)) problem = checkMessageContent(call.body, call.warnings);

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
      workspacePostTimes.length = 0;
      workspace.reset();
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