import { randomUUID } from 'node:crypto';
import { App, type Authorize, UnknownError } from '@slack/bolt';
import { type RetryOptions, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { type Db, isDatabaseUnavailable } from '../db/client.ts';
import { DomainError } from '../domain/errors.ts';
import { boltLogger } from './bolt-logger.ts';
import { type BotDeps, DATABASE_UNAVAILABLE_MESSAGE } from './deps.ts';
import { resolveSlackPerson } from './person.ts';
import { SlackReceiver } from './receiver.ts';
import { SocketReceiver } from './socket-receiver.ts';
import * as actions from './listeners/actions/index.ts';
import * as commands from './listeners/commands/index.ts';
import * as events from './listeners/events/index.ts';
import * as views from './listeners/views/index.ts';
import { recordSlackEvent } from '../domain/outbox.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../domain/renewals/window.ts';
import { postToResponseUrl } from './replies.ts';
import { field } from './payload.ts';
import { meteredSlackFetch } from '../metrics.ts';

// Bolt exports the extended handler's argument type only from a deep path; take it from App's own signature.
type ExtendedErrorHandlerArgs = Parameters<Parameters<App['error']>[0]>[0];

export const SLACK_EVENTS_PATH = '/slack/events';

export interface SlackAppOptions {
  db: Db;
  logger: Logger;
  botToken: string;
  signingSecret: string;
  /** Web API base URL: Slack's, a proxy, the local preview or a test server. */
  apiUrl: string;
  /** Set: connect over Socket Mode with this app-level token instead of receiving signed HTTP requests. */
  appToken?: string;
  /** Retries of interactive Web API calls; the person is waiting, so keep this short. */
  retryConfig?: RetryOptions;
  /** Called after a click queued notifications (e.g. a handoff update), to deliver them without waiting. */
  onNotificationsQueued?: () => void;
  clock?: () => Date;
  /** Days before contract end that a renewal counts as upcoming (config.jobs.renewalWindowDays); the domain default otherwise. */
  renewalWindowDays?: number;
  /** How many acked requests are routed and worked on at once (default 4); see SlackReceiver. */
  dispatchConcurrency?: number;
  /** How many acked requests may wait for that before more are refused with 503 for Slack to retry (unbounded by default). */
  dispatchQueueLimit?: number;
}

function eventIdOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('event_id' in body) || typeof body.event_id !== 'string') return undefined;
  return body.event_id;
}

export interface SlackApp {
  app: App;
  /** The receiver of signed HTTP requests at /slack/events; undefined over Socket Mode. */
  receiver: SlackReceiver | undefined;
  /** The Socket Mode connection; undefined when Slack sends HTTP requests. */
  socket: SocketReceiver | undefined;
}

/**
 * How a failed request's answer reaches the person: its response_url when it has one (commands, clicks in
 * messages), else a DM to the person (clicks on the Home tab or in a modal, which carry no response_url).
 */
function answerPathOf(body: unknown): { responseUrl: string } | { userId: string } | undefined {
  const responseUrl = field(body, 'response_url');
  if (typeof responseUrl === 'string' && responseUrl !== '') return { responseUrl };
  const userId = field(field(body, 'user'), 'id');
  if (field(body, 'type') === 'block_actions' && typeof userId === 'string' && userId !== '') return { userId };
  return undefined;
}

/**
 * The bot's identity for Bolt's context (botUserId and botId, which its ignoreSelf middleware needs), asked of
 * Slack when a request first needs it. Given a token instead, Bolt calls auth.test as the App is constructed
 * and keeps that promise: with Slack unreachable at start it rejects with nobody awaiting it, which ends the
 * process, and every later request fails on the same cached rejection. Here only a success is kept; after a
 * failure the next request asks again.
 */
function botAuthorization(client: WebClient, botToken: string): Authorize<boolean> {
  let identity: Promise<{ botUserId?: string; botId?: string }> | undefined;
  return async () => {
    identity ??= client.auth.test().then(
      (result) => ({ ...(result.user_id ? { botUserId: result.user_id } : {}), ...(result.bot_id ? { botId: result.bot_id } : {}) }),
      (error: unknown) => {
        identity = undefined;
        throw error;
      },
    );
    return { botToken, ...(await identity) };
  };
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const logger = boltLogger(options.logger);
  // SECURITY: every HTTP request's signature and timestamp are verified with the signing secret; there is no
  // bypass. Over Socket Mode nothing arrives over HTTP: the socket, opened with the app token, is the proof.
  const socket = options.appToken ? new SocketReceiver({ appToken: options.appToken, apiUrl: options.apiUrl, logger }) : undefined;
  const receiver = socket
    ? undefined
    : new SlackReceiver({
        signingSecret: options.signingSecret,
        logger,
        dispatchConcurrency: options.dispatchConcurrency ?? 4,
        ...(options.dispatchQueueLimit !== undefined ? { dispatchQueueLimit: options.dispatchQueueLimit } : {}),
      });
  const retryConfig = options.retryConfig ?? { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2000 };
  // Answers the app itself sends outside a request's own client (a failure told by DM).
  const botClient = new WebClient(options.botToken, { slackApiUrl: options.apiUrl, logger, retryConfig, fetch: meteredSlackFetch });
  const app = new App({
    receiver: socket ?? receiver,
    authorize: botAuthorization(botClient, options.botToken),
    logger,
    extendedErrorHandler: true,
    // Conversation state is kept in the database; Bolt's in-memory store would only cost time on every request.
    convoStore: false,
    clientOptions: { slackApiUrl: options.apiUrl, retryConfig, fetch: meteredSlackFetch },
  });

  // Slack retries an event it thinks failed, with the same event_id, and Bolt does not dedupe: the first
  // delivery wins in the database, so a retry (or the same event reaching another replica) does nothing.
  app.use(async ({ body, next }) => {
    const eventId = eventIdOf(body);
    if (eventId !== undefined && !(await recordSlackEvent(options.db, eventId))) {
      options.logger.debug({ eventId }, 'duplicate Slack event ignored');
      return;
    }
    await next();
  });
  // Who is asking, looked up once for every listener of the request (after the duplicate check, which needs no one).
  app.use(resolveSlackPerson(options.db));

  // Calls that spend a click's trigger_id fail fast instead of waiting out a 429: see BotDeps.triggerClient.
  const triggerClient = new WebClient(options.botToken, {
    slackApiUrl: options.apiUrl,
    logger,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    fetch: meteredSlackFetch,
  });
  const deps: BotDeps = {
    db: options.db,
    logger: options.logger,
    triggerClient,
    onNotificationsQueued: options.onNotificationsQueued,
    renewalWindowDays: options.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS,
    ...(options.clock ? { clock: options.clock } : {}),
  };
  commands.register(app, deps);
  actions.register(app, deps);
  views.register(app, deps);
  events.register(app, deps);

  // One place turns failures into answers: the person always learns why nothing happened.
  app.error(async ({ error, body }: ExtendedErrorHandlerArgs) => {
    const answerPath = answerPathOf(body);
    // Bolt hands over errors without a `code` wrapped in its UnknownError, the thrown one under `original`.
    const cause: unknown = error instanceof UnknownError ? error.original : error;
    let text: string;
    if (error instanceof DomainError) {
      options.logger.info({ code: error.code }, 'slack request refused: %s', error.message);
      text = error.message;
    } else if (isDatabaseUnavailable(cause)) {
      options.logger.warn({ err: error }, 'slack request failed: the database is unavailable');
      text = DATABASE_UNAVAILABLE_MESSAGE;
    } else {
      const reference = randomUUID().slice(0, 8);
      options.logger.error({ err: error, reference }, 'slack listener failed');
      text = `Something went wrong on Lifeline's side and nothing was changed. Try again in a minute; if it keeps failing, give an admin this reference: ${reference}.`;
    }
    if (!answerPath) return;
    try {
      if ('responseUrl' in answerPath) {
        await postToResponseUrl(answerPath.responseUrl, { response_type: 'ephemeral', replace_original: false, text });
      } else {
        await botClient.chat.postMessage({ channel: answerPath.userId, text });
      }
    } catch (replyError) {
      options.logger.warn({ err: replyError }, 'could not tell the person why their request failed');
    }
  });

  return { app, receiver, socket };
}
