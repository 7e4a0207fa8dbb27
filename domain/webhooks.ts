/**
 * Outgoing webhooks: the endpoints admins register (URL, Standard Webhooks secret, event types), queuing an event to
 * every subscribed endpoint through the outbox in the caller's transaction, the delivery log, and replays.
 * The events themselves are declared in webhook-events.ts; bot/webhooks.ts sends them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, inArray, like, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../db/client.ts';
import { type OutboxRow, type OutboxStatus, type WebhookAttempt, type WebhookEndpoint, outbox, webhookAttempts, webhookEndpoints } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { parseNotificationTarget, webhookTarget, webhookTargetPattern } from './notifications.ts';
import { type EnqueueNotificationParams, enqueueNotifications } from './outbox.ts';
import { isUuid, parseInput } from './validation.ts';
import { type WebhookEventData, type WebhookEventType, isWebhookEventType, webhookEventTypeNames, webhookEventTypes } from './webhook-events.ts';

/** The largest body an endpoint is sent; an event over it is parked with the reason rather than sent cut. */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a URL may receive Lifeline's events: https, or http to this machine (a receiver under test, a sidecar). */
export function checkWebhookUrl(candidate: string): string {
  let url: URL;
  try {
    url = new URL(candidate.trim());
  } catch {
    throw new InvalidInputError(`"${candidate}" is not a URL. Give the full address, such as https://hooks.example.com/lifeline.`, 'url');
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new InvalidInputError(
      `Webhook URLs must use https (events carry account data and a signature): change "${url.protocol}//" to "https://", or use http only for a receiver on this machine (localhost, 127.0.0.1).`,
      'url',
    );
  }
  if (url.username || url.password) throw new InvalidInputError('Remove the user name and password from the URL: requests are signed with the endpoint’s secret instead.', 'url');
  if (url.hash) throw new InvalidInputError('Remove the #fragment from the URL: it is never sent.', 'url');
  if (url.href.length > 2000) throw new InvalidInputError('The URL is too long: keep it under 2000 characters.', 'url');
  return url.href;
}

const eventTypesSchema = z
  .array(z.string())
  .min(1, `Subscribe to at least one event type: ${webhookEventTypeNames.join(', ')}.`)
  .transform((types) => [...new Set(types)])
  .superRefine((types, ctx) => {
    for (const type of types.filter((candidate) => !isWebhookEventType(candidate))) {
      ctx.addIssue({ code: 'custom', message: `There is no event type "${type}". Use any of: ${webhookEventTypeNames.join(', ')}.` });
    }
  });
const descriptionSchema = z.string().trim().max(500, 'Keep the description under 500 characters.').nullish();

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface CreatedWebhookEndpoint {
  endpoint: WebhookEndpoint;
  /** Shown once, when created or rotated; receivers verify signatures with it. */
  secret: string;
}

export interface CreateWebhookEndpointParams {
  url: string;
  eventTypes: string[];
  description?: string | null;
  actor: Actor;
}

export async function createWebhookEndpoint(db: Db, params: CreateWebhookEndpointParams): Promise<CreatedWebhookEndpoint> {
  requireAccess(params.actor, 'manage_webhooks');
  const url = checkWebhookUrl(params.url);
  const eventTypes = parseInput(eventTypesSchema, params.eventTypes, 'eventTypes');
  const description = parseInput(descriptionSchema, params.description, 'description') ?? null;
  const secret = newSecret();
  const [endpoint] = await db.insert(webhookEndpoints).values({ url, eventTypes, description, secret, createdBy: params.actor.userId }).returning();
  if (!endpoint) throw new Error('Creating the webhook endpoint wrote nothing');
  return { endpoint, secret };
}

async function requireEndpoint(db: Db | Tx, id: string): Promise<WebhookEndpoint> {
  const [endpoint] = isUuid(id) ? await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)) : [];
  if (!endpoint) throw new NotFoundError(`No webhook endpoint with id ${id}: list them with the \`webhookEndpoints\` query.`, 'id');
  return endpoint;
}

export interface UpdateWebhookEndpointParams {
  id: string;
  url?: string | null;
  eventTypes?: string[] | null;
  description?: string | null;
  /** True re-enables a disabled endpoint. */
  active?: boolean | null;
  actor: Actor;
  now: Date;
}

export async function updateWebhookEndpoint(db: Db, params: UpdateWebhookEndpointParams): Promise<WebhookEndpoint> {
  requireAccess(params.actor, 'manage_webhooks');
  await requireEndpoint(db, params.id);
  const changes: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: params.now };
  if (params.url != null) changes.url = checkWebhookUrl(params.url);
  if (params.eventTypes != null) changes.eventTypes = parseInput(eventTypesSchema, params.eventTypes, 'eventTypes');
  if (params.description !== undefined) changes.description = parseInput(descriptionSchema, params.description, 'description') ?? null;
  if (params.active != null) changes.active = params.active;
  const [endpoint] = await db.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, params.id)).returning();
  if (!endpoint) throw new NotFoundError(`No webhook endpoint with id ${params.id}.`, 'id');
  return endpoint;
}

/** Stops sending to an endpoint: no new events are queued for it, and what is still queued parks when its turn comes. */
export function disableWebhookEndpoint(db: Db, params: { id: string; actor: Actor; now: Date }): Promise<WebhookEndpoint> {
  return updateWebhookEndpoint(db, { id: params.id, active: false, actor: params.actor, now: params.now });
}

/** A new secret, shown once; deliveries from now on are signed with it (replays too). */
export async function rotateWebhookSecret(db: Db, params: { id: string; actor: Actor; now: Date }): Promise<CreatedWebhookEndpoint> {
  requireAccess(params.actor, 'manage_webhooks');
  await requireEndpoint(db, params.id);
  const secret = newSecret();
  const [endpoint] = await db.update(webhookEndpoints).set({ secret, secretRotatedAt: params.now, updatedAt: params.now }).where(eq(webhookEndpoints.id, params.id)).returning();
  if (!endpoint) throw new NotFoundError(`No webhook endpoint with id ${params.id}.`, 'id');
  return { endpoint, secret };
}

export function listWebhookEndpoints(db: Db, params: { reader: Actor }): Promise<WebhookEndpoint[]> {
  requireAccess(params.reader, 'manage_webhooks');
  return db.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id));
}

/** The endpoint a delivery goes to, read by the sender at each attempt (the secret may have been rotated). */
export async function getWebhookEndpointForDelivery(db: Db, id: string): Promise<WebhookEndpoint | undefined> {
  if (!isUuid(id)) return undefined;
  const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return endpoint;
}

// ---------------------------------------------------------------------------------------------------------------
// Queuing events

/** An event as a producer states it; `occasion` names what happened once (e.g. `stage:<account>:v7`). */
export type WebhookEventDraft = {
  [T in WebhookEventType]: { type: T; occasion: string; at: Date; data: WebhookEventData<T> };
}[WebhookEventType];

/** The event id sent as `webhook-id`: derived from the occasion, so queuing the same occasion again is a no-op. */
export function webhookEventId(occasion: string): string {
  return `msg_${createHash('sha256').update(occasion).digest('hex').slice(0, 32)}`;
}

/**
 * Queues events to every active endpoint subscribed to their type: one outbox row per endpoint per event, in the
 * caller's transaction, so the change and its events commit or roll back together. Returns the rows queued.
 */
export async function queueWebhookEvents(tx: Db | Tx, events: readonly WebhookEventDraft[]): Promise<number> {
  if (events.length === 0) return 0;
  const types = [...new Set(events.map((event) => event.type))];
  const endpoints = await tx
    .select({ id: webhookEndpoints.id, eventTypes: webhookEndpoints.eventTypes })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.active, true), sql`${webhookEndpoints.eventTypes} && ${`{${types.join(',')}}`}::text[]`));
  if (endpoints.length === 0) return 0;
  const drafts: EnqueueNotificationParams[] = [];
  for (const event of events) {
    const eventId = webhookEventId(`${event.type}:${event.occasion}`);
    const payload = { eventId, type: event.type, version: webhookEventTypes[event.type].version, timestamp: event.at.toISOString(), data: event.data };
    for (const endpoint of endpoints) {
      if (!endpoint.eventTypes.includes(event.type)) continue;
      drafts.push({ kind: 'webhook', dedupeKey: `webhook:${eventId}:${endpoint.id}`, target: webhookTarget(endpoint.id), payload });
    }
  }
  return enqueueNotifications(tx, drafts);
}

/** Queues one event; see queueWebhookEvents. */
export function queueWebhookEvent(tx: Db | Tx, event: WebhookEventDraft): Promise<number> {
  return queueWebhookEvents(tx, [event]);
}

// ---------------------------------------------------------------------------------------------------------------
// The delivery log

export interface WebhookAttemptRecord {
  outboxId: number;
  eventId: string;
  endpointId: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  startedAt: Date;
  finishedAt: Date;
  /** The endpoint acknowledged (2xx): the delivery is done and is never sent again unless an admin replays it. */
  acknowledged: boolean;
}

/** Logs an attempt and, when acknowledged, marks the delivery sent, in one transaction. */
export async function recordWebhookAttempt(db: Db, params: WebhookAttemptRecord): Promise<void> {
  await db.transaction(async (tx) => {
    const { acknowledged, ...attempt } = params;
    await tx.insert(webhookAttempts).values(attempt);
    if (acknowledged) {
      await tx.update(outbox).set({ status: 'sent', sentAt: params.finishedAt, lastError: null }).where(eq(outbox.id, params.outboxId));
    }
  });
}

export interface WebhookDelivery {
  row: OutboxRow;
  endpointId: string;
  eventId: string;
  eventType: string;
}

function toDelivery(row: OutboxRow): WebhookDelivery {
  const target = parseNotificationTarget(row.target);
  const payload = row.payload as { eventId?: unknown; type?: unknown };
  return {
    row,
    endpointId: target?.form === 'webhook' ? target.endpointId : '',
    eventId: typeof payload.eventId === 'string' ? payload.eventId : '',
    eventType: typeof payload.type === 'string' ? payload.type : '',
  };
}

export const MAX_WEBHOOK_DELIVERY_PAGE = 100;

export interface ListWebhookDeliveriesParams {
  reader: Actor;
  endpointId?: string | null;
  status?: OutboxStatus | null;
  first: number;
  /** The cursor of the last delivery of the previous page. */
  after?: string | null;
}

export interface WebhookDeliveryPage {
  deliveries: WebhookDelivery[];
  hasNextPage: boolean;
}

/** Deliveries (one per endpoint per event), newest first, a page at a time. */
export async function listWebhookDeliveries(db: Db, params: ListWebhookDeliveriesParams): Promise<WebhookDeliveryPage> {
  requireAccess(params.reader, 'manage_webhooks');
  if (!Number.isInteger(params.first) || params.first < 1 || params.first > MAX_WEBHOOK_DELIVERY_PAGE) {
    throw new InvalidInputError(`\`first\` must be between 1 and ${MAX_WEBHOOK_DELIVERY_PAGE}.`, 'first');
  }
  let before: number | undefined;
  if (params.after) {
    before = Number(params.after);
    if (!Number.isSafeInteger(before)) throw new InvalidInputError('`after` must be a cursor from a previous page of `webhookDeliveries`.', 'after');
  }
  if (params.endpointId) await requireEndpoint(db, params.endpointId);
  const rows = await db
    .select()
    .from(outbox)
    .where(
      and(
        eq(outbox.kind, 'webhook'),
        params.endpointId ? eq(outbox.target, webhookTarget(params.endpointId)) : like(outbox.target, webhookTargetPattern),
        params.status ? eq(outbox.status, params.status) : undefined,
        before !== undefined ? lt(outbox.id, before) : undefined,
      ),
    )
    .orderBy(desc(outbox.id))
    .limit(params.first + 1);
  return { deliveries: rows.slice(0, params.first).map(toDelivery), hasNextPage: rows.length > params.first };
}

/** The attempts of deliveries, oldest first, by delivery. */
export async function listWebhookAttempts(db: Db, params: { outboxIds: readonly number[]; reader: Actor }): Promise<WebhookAttempt[]> {
  requireAccess(params.reader, 'manage_webhooks');
  if (params.outboxIds.length === 0) return [];
  return db.select().from(webhookAttempts).where(inArray(webhookAttempts.outboxId, [...params.outboxIds])).orderBy(webhookAttempts.id);
}

/**
 * Sends a delivery again from scratch, with the same `webhook-id` and body (receivers dedupe by the id): a parked
 * one after fixing the endpoint, or a sent one the receiver lost.
 */
export async function replayWebhookDelivery(db: Db, params: { id: string; actor: Actor; now: Date }): Promise<WebhookDelivery> {
  requireAccess(params.actor, 'manage_webhooks');
  const id = Number(params.id);
  if (!Number.isSafeInteger(id)) throw new InvalidInputError('`id` must be a delivery id from the `webhookDeliveries` query.', 'id');
  const [current] = await db.select().from(outbox).where(and(eq(outbox.id, id), eq(outbox.kind, 'webhook')));
  if (!current) throw new NotFoundError(`No webhook delivery with id ${id}: list them with \`webhookDeliveries\`.`, 'id');
  if (current.status === 'pending') throw new InvalidInputError(`Delivery ${id} is still queued (attempt ${current.attempts}); it will be sent without a replay.`, 'id');
  const delivery = toDelivery(current);
  const endpoint = await requireEndpoint(db, delivery.endpointId);
  if (!endpoint.active) throw new InvalidInputError('Its endpoint is disabled: enable it with `updateWebhookEndpoint(active: true)` first, then replay.', 'id');
  const [row] = await db
    .update(outbox)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: params.now, lastError: null, sentAt: null })
    .where(and(eq(outbox.id, id), eq(outbox.status, current.status)))
    .returning();
  if (!row) throw new InvalidInputError(`Delivery ${id} changed while replaying it; list it again.`, 'id');
  return toDelivery(row);
}
