import type { IncomingMessage, ServerResponse } from 'node:http';
import { type App, HTTPModuleFunctions, HTTPResponseAck, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Logger } from '@slack/logger';
import { Lane, LaneFullError, refuseBusy } from '../admission.ts';
import { refuseBodyTooLarge } from '../request-body.ts';

/**
 * The largest Slack request accepted, in bytes. Slack's own payloads stay far below it: a view submission carries
 * one view (Slack refuses views over about 250 kB), a message action one message (at most 50 blocks of 3,000
 * characters), even form-encoded. Bolt reads a body without any bound unless it is given one, and the signature
 * can only be checked once the whole body is in memory, so this bound is what stops an unsigned 200 MB POST.
 */
export const SLACK_REQUEST_BODY_LIMIT = 1024 * 1024;

export interface SlackReceiverOptions {
  signingSecret: string;
  logger: Logger;
  /** Largest request body accepted, in bytes; SLACK_REQUEST_BODY_LIMIT otherwise. */
  bodyLimit?: number;
  /** How many acked requests are routed and worked on at once. */
  dispatchConcurrency: number;
  /**
   * How many acked requests may wait for that; past it a request is answered 503 with Retry-After instead of its
   * ack, and Slack sends it again later (unbounded by default).
   */
  dispatchQueueLimit?: number;
}

/** Requests whose ack carries an answer for Slack to show: a modal's errors or next view, a select's options. */
function answersInAck(body: Record<string, unknown>): boolean {
  return body.type === 'view_submission' || body.type === 'block_suggestion';
}

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) current = isObjectBody(current) ? current[key] : undefined;
  return typeof current === 'string' && current !== '' ? current : undefined;
}

/**
 * A request answered in its ack is routed by Bolt before any listener runs, and Bolt reads these fields without
 * checking them: without them it throws and the request would end as a 500. Slack always sends them.
 */
function missingAckAnswerFields(body: Record<string, unknown>): string | undefined {
  if (!stringAt(body, 'user', 'id')) return 'user.id';
  if (body.type === 'view_submission') {
    if (!stringAt(body, 'view', 'id')) return 'view.id';
    if (!stringAt(body, 'view', 'callback_id')) return 'view.callback_id';
  }
  if (body.type === 'block_suggestion' && !stringAt(body, 'action_id')) return 'action_id';
  return undefined;
}

const noAck = async (): Promise<void> => {};

function isObjectBody(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/**
 * Refused requests cost an attacker nothing to send, so they must not cost a line of warn-level log each: the
 * first refusal of a minute is logged at warn with how many were refused since the last such line, the rest at
 * debug. An operator still sees a misconfigured signing secret or a probe within a minute.
 */
export class RefusalLog {
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private refusedSinceWarn = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  refused(message: string): void {
    this.refusedSinceWarn += 1;
    const now = this.clock();
    if (now - this.lastWarnAt < this.intervalMs) {
      this.logger.debug(message);
      return;
    }
    const others = this.refusedSinceWarn - 1;
    this.logger.warn(others > 0 ? `${message} (and ${others} other refused Slack request(s) since the last such warning)` : message);
    this.lastWarnAt = now;
    this.refusedSinceWarn = 0;
  }
}

/** 400 with a short reason: the sender learns what was wrong, the log says why it was refused. */
function refuseMalformed(res: ServerResponse, refusals: RefusalLog, reason: string): void {
  refusals.refused(`Refused a malformed Slack request: ${reason}`);
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`Refused: ${reason}.`);
}

/**
 * Slack's request endpoint, mounted on Lifeline's own HTTP server. Like Bolt's HTTPReceiver it verifies every
 * request's signature and age (Bolt's own functions; there is no bypass), answers Slack's SSL checks and URL
 * verification, and hands the request to the Bolt app. Unlike it, a request whose ack is always empty (a click,
 * a slash command, an event) is acked as soon as it is verified, and only then routed and worked on, a few at a
 * time: Slack wants every ack within 3 seconds and people feel anything slower than a blink, while the work a
 * click starts (Bolt's routing, queries, redrawing, Web API calls) shares the event loop with the acks of the
 * clicks still arriving. Unbounded, a burst of 50 clicks makes the last ack wait for the work of the 49 before
 * it. Listeners still call ack() (it does nothing for these). Modal submissions and option requests ack from
 * their listener, since the ack is their answer.
 */
export class SlackReceiver implements Receiver {
  private app: App | undefined;
  private readonly dispatchLane: Lane;
  private readonly refusals: RefusalLog;

  constructor(private readonly options: SlackReceiverOptions) {
    this.dispatchLane = new Lane('slack', { maxInFlight: options.dispatchConcurrency, maxQueued: options.dispatchQueueLimit ?? Number.POSITIVE_INFINITY });
    this.refusals = new RefusalLog(options.logger);
  }

  init(app: App): void {
    this.app = app;
  }

  // Lifeline's HTTP server listens; the receiver only handles what it routes here.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  readonly requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    // Whatever goes wrong with one request is answered and logged here; it must never reach the process.
    this.handle(req, res).catch((error: unknown) => {
      this.options.logger.error(`A Slack request failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
      else if (!res.writableEnded) res.end();
    });
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger } = this.options;
    if (req.method !== 'POST') {
      HTTPModuleFunctions.buildNoBodyResponse(res, 405);
      return;
    }
    const bodyLimit = this.options.bodyLimit ?? SLACK_REQUEST_BODY_LIMIT;
    let request: Awaited<ReturnType<typeof HTTPModuleFunctions.parseAndVerifyHTTPRequest>>;
    try {
      // SECURITY: signature and timestamp (at most five minutes old) are checked before anything is parsed. The
      // body is read first (the signature covers it), at most bodyLimit bytes of it: a larger Content-Length is
      // refused before reading, and a chunked body stops being read as soon as it passes the bound.
      request = await HTTPModuleFunctions.parseAndVerifyHTTPRequest({ enabled: true, signingSecret: this.options.signingSecret, bodyLimit }, req);
    } catch (error) {
      if (HTTPModuleFunctions.isRawBodyError(error) && (error.type === 'entity.too.large' || error.statusCode === 413)) {
        this.refusals.refused(`Refused a Slack request: its body is larger than ${bodyLimit} bytes`);
        refuseBodyTooLarge(req, res, bodyLimit, "Slack's own requests are far smaller; this one did not come from Slack.");
        return;
      }
      this.refusals.refused(`Refused a Slack request that failed verification: ${error instanceof Error ? error.message : String(error)}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let parsed: unknown;
    try {
      parsed = HTTPModuleFunctions.parseHTTPRequestBody(request);
    } catch (error) {
      refuseMalformed(res, this.refusals, `its body is not valid JSON or form data (${error instanceof Error ? error.message : String(error)})`);
      return;
    }
    // A correctly signed body can still be JSON `null`, a number, a string or a list (or a `payload=` field that
    // parses to one): every request Slack sends is an object, and Bolt's routing assumes one.
    if (!isObjectBody(parsed)) {
      refuseMalformed(res, this.refusals, `its body is ${describeJson(parsed)}, not the JSON object every Slack request is`);
      return;
    }
    const body = parsed;
    if (body.ssl_check === '1') {
      HTTPModuleFunctions.buildSSLCheckResponse(res);
      return;
    }
    if (body.type === 'url_verification') {
      HTTPModuleFunctions.buildUrlVerificationResponse(res, body);
      return;
    }

    const retryNum = HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req);
    const retryReason = HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req);
    const event: ReceiverEvent = {
      body,
      ack: noAck,
      ...(retryNum !== undefined ? { retryNum } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
    };
    if (!answersInAck(body)) {
      let admitted: Promise<() => void>;
      try {
        admitted = this.dispatchLane.enter();
      } catch (error) {
        if (!(error instanceof LaneFullError)) throw error;
        // Refused before the ack, not dropped after it: Slack sends a request it got no 200 for again.
        this.refusals.refused(`Refused a Slack request: ${error.message}`);
        refuseBusy(req, res, error, false);
        return;
      }
      HTTPModuleFunctions.buildNoBodyResponse(res, 200);
      const release = await admitted;
      try {
        await this.dispatch(event, res);
      } finally {
        release();
      }
      return;
    }
    const missing = missingAckAnswerFields(body);
    if (missing) {
      refuseMalformed(res, this.refusals, `its ${String(body.type)} body has no ${missing}`);
      return;
    }
    const responseAck = new HTTPResponseAck({ logger, processBeforeResponse: false, httpRequest: request, httpRequestBody: body, httpResponse: res });
    event.ack = responseAck.bind();
    await this.dispatch(event, res, responseAck);
  }

  private async dispatch(event: ReceiverEvent, res: ServerResponse, responseAck?: HTTPResponseAck): Promise<void> {
    const { logger } = this.options;
    try {
      await this.app?.processEvent(event);
    } catch (error) {
      // Bolt has already passed a listener's failure to app.error, which answered the person where it could.
      logger.debug(`A Slack request ended with an error: ${error instanceof Error ? error.message : String(error)}`);
      if (responseAck && !res.headersSent) {
        // A submission that failed before its ack must not look like a success (an empty ack closes the modal):
        // Slack shows its own error in the modal for a 500.
        responseAck.ack();
        HTTPModuleFunctions.buildNoBodyResponse(res, 500);
      }
    }
  }
}
