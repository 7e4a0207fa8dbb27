import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../db/client.ts';
import type { OutboxRow } from '../db/schema.ts';
import { decodeNotification, parseNotificationTarget } from '../domain/notifications.ts';
import { webhookBody } from '../domain/webhook-events.ts';
import { WEBHOOK_BODY_LIMIT, getWebhookEndpointForDelivery, recordWebhookAttempt } from '../domain/webhooks.ts';

/**
 * Sends the outbox's webhook rows to their endpoints, signed to the Standard Webhooks specification. The outbox
 * worker (delivery.ts) claims the rows and owns retries, backoff and parking, exactly as for Slack.
 */

export type WebhookOutcome = { kind: 'sent'; statusCode: number } | { kind: 'transient'; error: string } | { kind: 'permanent'; error: string };

export interface WebhookSenderOptions {
  db: Db;
  logger: Logger;
  /** How long an endpoint has to answer, headers and body. */
  timeoutMs?: number;
  clock?: () => Date;
}

export type WebhookSender = (row: OutboxRow) => Promise<WebhookOutcome>;

/** How much of an endpoint's answer is read (kept in the log when it refused). */
const ANSWER_LIMIT = 2048;

async function readAnswer(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ANSWER_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, ANSWER_LIMIT);
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `The endpoint did not answer within ${timeoutMs / 1000}s`;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `Could not reach the endpoint (${error instanceof Error ? error.message : String(error)}${cause})`;
}

export interface WebhookPost {
  url: string;
  secret: string;
  eventId: string;
  body: string;
  /** Sent as `webhook-timestamp` and signed with the body. */
  at: Date;
  timeoutMs: number;
}

/** One signed POST of an event to an endpoint, and what its answer means for the delivery. Nothing is recorded here. */
export async function postWebhook(post: WebhookPost): Promise<{ statusCode: number | null; outcome: WebhookOutcome }> {
  // SECURITY: the secret signs; it is never logged, and the signature covers the id, the time and the body.
  const signature = new Webhook(post.secret).sign(post.eventId, post.at, post.body);
  try {
    const response = await fetch(post.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Lifeline-Webhooks/1',
        'webhook-id': post.eventId,
        'webhook-timestamp': String(Math.floor(post.at.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body: post.body,
      // SECURITY: a redirect could send the signed event somewhere the admin never registered.
      redirect: 'manual',
      signal: AbortSignal.timeout(post.timeoutMs),
    });
    const answer = await readAnswer(response);
    const statusCode = response.status;
    if (statusCode >= 200 && statusCode < 300) return { statusCode, outcome: { kind: 'sent', statusCode } };
    if (statusCode >= 300 && statusCode < 400) {
      const location = response.headers.get('location') ?? 'nowhere';
      return { statusCode, outcome: { kind: 'permanent', error: `The endpoint answered ${statusCode} redirecting to ${location}: Lifeline does not follow redirects; register the final URL, then replay.` } };
    }
    if (statusCode === 410) return { statusCode, outcome: { kind: 'permanent', error: 'The endpoint answered 410 Gone: it no longer wants these events; fix or disable it, then replay.' } };
    return { statusCode, outcome: { kind: 'transient', error: `The endpoint answered HTTP ${statusCode}${answer ? `: ${answer.slice(0, 300)}` : ''}` } };
  } catch (error) {
    return { statusCode: null, outcome: { kind: 'transient', error: describeFailure(error, post.timeoutMs) } };
  }
}

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { db, logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? (() => new Date());

  return async (row) => {
    const decoded = decodeNotification(row);
    if (!decoded.ok || decoded.notification.kind !== 'webhook') return { kind: 'permanent', error: decoded.ok ? `A ${row.kind} notification is not a webhook event.` : decoded.error };
    const envelope = decoded.notification.payload;
    const target = parseNotificationTarget(row.target);
    if (target?.form !== 'webhook') return { kind: 'permanent', error: `"${row.target}" is not a webhook endpoint.` };
    const endpoint = await getWebhookEndpointForDelivery(db, target.endpointId);
    if (!endpoint) return { kind: 'permanent', error: 'The webhook endpoint was deleted.' };
    if (!endpoint.active) return { kind: 'permanent', error: 'The webhook endpoint is disabled: enable it (updateWebhookEndpoint, active: true), then replay.' };
    const body = webhookBody(envelope);
    if (Buffer.byteLength(body) > WEBHOOK_BODY_LIMIT) {
      return { kind: 'permanent', error: `The event is ${Buffer.byteLength(body)} bytes, over the ${WEBHOOK_BODY_LIMIT}-byte limit for a webhook body (a bug in Lifeline: report it).` };
    }
    const startedAt = clock();
    const started = performance.now();
    // Signed with the wall clock whatever the worker's clock says: receivers refuse a timestamp far from their own.
    const { statusCode, outcome } = await postWebhook({ url: endpoint.url, secret: endpoint.secret, eventId: envelope.eventId, body, at: new Date(), timeoutMs });
    const durationMs = Math.round(performance.now() - started);
    await recordWebhookAttempt(db, {
      outboxId: row.id,
      eventId: envelope.eventId,
      endpointId: endpoint.id,
      attempt: row.attempts,
      statusCode,
      durationMs,
      error: outcome.kind === 'sent' ? null : outcome.error,
      startedAt,
      finishedAt: clock(),
      acknowledged: outcome.kind === 'sent',
    });
    if (outcome.kind !== 'sent') logger.info({ delivery: row.id, endpoint: endpoint.id, event: envelope.type, statusCode, error: outcome.error }, 'webhook attempt failed');
    return outcome;
  };
}
