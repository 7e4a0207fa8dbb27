import type { IncomingMessage, ServerResponse } from 'node:http';
import { type App, HTTPModuleFunctions, HTTPResponseAck, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Logger } from '@slack/logger';
import pLimit, { type LimitFunction } from 'p-limit';

export interface SlackReceiverOptions {
  signingSecret: string;
  logger: Logger;
  /** Largest request body accepted, in bytes; Bolt's default (4 MB) otherwise. */
  bodyLimit?: number;
  /** How many acked requests are routed and worked on at once. */
  dispatchConcurrency: number;
}

/** Requests whose ack carries an answer for Slack to show: a modal's errors or next view, a select's options. */
function answersInAck(body: Record<string, unknown>): boolean {
  return body.type === 'view_submission' || body.type === 'block_suggestion';
}

const noAck = async (): Promise<void> => {};

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
  private readonly dispatchQueue: LimitFunction;

  constructor(private readonly options: SlackReceiverOptions) {
    this.dispatchQueue = pLimit(options.dispatchConcurrency);
  }

  init(app: App): void {
    this.app = app;
  }

  // Lifeline's HTTP server listens; the receiver only handles what it routes here.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  readonly requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    void this.handle(req, res);
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { logger } = this.options;
    if (req.method !== 'POST') {
      HTTPModuleFunctions.buildNoBodyResponse(res, 405);
      return;
    }
    let request: Awaited<ReturnType<typeof HTTPModuleFunctions.parseAndVerifyHTTPRequest>>;
    try {
      // SECURITY: signature and timestamp (at most five minutes old) are checked before anything is parsed.
      request = await HTTPModuleFunctions.parseAndVerifyHTTPRequest(
        { enabled: true, signingSecret: this.options.signingSecret, ...(this.options.bodyLimit ? { bodyLimit: this.options.bodyLimit } : {}) },
        req,
      );
    } catch (error) {
      if (HTTPModuleFunctions.isRawBodyError(error) && (error.type === 'entity.too.large' || error.statusCode === 413)) {
        logger.warn(`Refused a Slack request: its body is larger than ${String(error.limit)} bytes`);
        HTTPModuleFunctions.buildNoBodyResponse(res, 413);
        return;
      }
      logger.warn(`Refused a Slack request that failed verification: ${error instanceof Error ? error.message : String(error)}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = HTTPModuleFunctions.parseHTTPRequestBody(request);
    } catch (error) {
      logger.warn(`Refused a malformed Slack request: ${error instanceof Error ? error.message : String(error)}`);
      HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
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
      HTTPModuleFunctions.buildNoBodyResponse(res, 200);
      await this.dispatchQueue(() => this.dispatch(event, res));
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
