import type { WebhookAttempt, WebhookEndpoint } from '../../db/schema.ts';
import { outboxStatuses } from '../../db/schema.ts';
import { webhookEventTypeNames, webhookEventTypes } from '../../domain/webhook-events.ts';
import {
  type CreatedWebhookEndpoint,
  MAX_WEBHOOK_DELIVERY_PAGE,
  type WebhookDelivery,
  createWebhookEndpoint,
  disableWebhookEndpoint,
  listWebhookAttempts,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDelivery,
  rotateWebhookSecret,
  updateWebhookEndpoint,
} from '../../domain/webhooks.ts';
import { builder } from '../builder.ts';
import { PageInfoRef } from './account.ts';
import { UserRef } from './user.ts';

const eventTypesDescription = `Event types: ${webhookEventTypeNames.map((type) => `\`${type}\` (v${webhookEventTypes[type].version}: ${webhookEventTypes[type].description})`).join('; ')}.`;

const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint').implement({
  description: 'Where Lifeline sends its events, signed to the Standard Webhooks specification. The secret is shown only when created or rotated.',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes', { description: eventTypesDescription }),
    active: t.exposeBoolean('active', { description: 'False once disabled: nothing new is queued for it, and what was queued parks.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    secretRotatedAt: t.expose('secretRotatedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.field({ type: UserRef, nullable: true, resolve: (endpoint, _args, ctx) => (endpoint.createdBy ? ctx.loaders.user.load(endpoint.createdBy) : null) }),
  }),
});

const WebhookEndpointWithSecretRef = builder.objectRef<CreatedWebhookEndpoint>('WebhookEndpointWithSecret').implement({
  fields: (t) => ({
    secret: t.exposeString('secret', {
      description: 'The signing secret (`whsec_…`), shown this once: give it to the receiver, which verifies `webhook-signature` with it.',
    }),
    endpoint: t.field({ type: WebhookEndpointRef, resolve: (created) => created.endpoint }),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: '`SENT`: the endpoint acknowledged it (2xx). `PARKED`: delivery gave up (see `lastError`); replay it after fixing the endpoint.',
  values: outboxStatuses.map((status) => status.toUpperCase()),
});

const WebhookAttemptRef = builder.objectRef<WebhookAttempt>('WebhookAttempt').implement({
  fields: (t) => ({
    attempt: t.exposeInt('attempt'),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'The HTTP status the endpoint answered; null when it did not answer.' }),
    durationMs: t.exposeInt('durationMs'),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryRef = builder.objectRef<WebhookDelivery>('WebhookDelivery').implement({
  description: 'One event for one endpoint, and how its delivery went.',
  fields: (t) => ({
    id: t.id({ resolve: (delivery) => String(delivery.row.id) }),
    eventId: t.string({ description: 'Sent as `webhook-id`: the same for every attempt, replay and endpoint of the event.', resolve: (delivery) => delivery.eventId }),
    eventType: t.string({ resolve: (delivery) => delivery.eventType }),
    endpointId: t.id({ resolve: (delivery) => delivery.endpointId }),
    status: t.field({ type: WebhookDeliveryStatusEnum, resolve: (delivery) => delivery.row.status.toUpperCase() }),
    attemptCount: t.int({ resolve: (delivery) => delivery.row.attempts }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (delivery) => (delivery.row.status === 'pending' ? delivery.row.nextAttemptAt : null) }),
    lastError: t.string({ nullable: true, description: 'Why the last attempt failed; for a parked delivery, why it was parked.', resolve: (delivery) => delivery.row.lastError }),
    body: t.string({ description: 'The JSON body sent: `{ type, version, timestamp, data }`.', resolve: (delivery) => JSON.stringify(delivery.row.payload) }),
    createdAt: t.field({ type: 'DateTime', resolve: (delivery) => delivery.row.createdAt }),
    sentAt: t.field({ type: 'DateTime', nullable: true, resolve: (delivery) => delivery.row.sentAt }),
    attempts: t.field({
      type: [WebhookAttemptRef],
      description: 'Every attempt, oldest first.',
      complexity: { field: 5, multiplier: 10 },
      resolve: (delivery, _args, ctx) => listWebhookAttempts(ctx.db, { outboxIds: [delivery.row.id], reader: ctx.actor }),
    }),
  }),
});

const WebhookDeliveryEdgeRef = builder.objectRef<WebhookDelivery>('WebhookDeliveryEdge').implement({
  fields: (t) => ({
    node: t.field({ type: WebhookDeliveryRef, resolve: (delivery) => delivery }),
    cursor: t.string({ resolve: (delivery) => String(delivery.row.id) }),
  }),
});

const WebhookDeliveryConnectionRef = builder.objectRef<{ deliveries: WebhookDelivery[]; hasNextPage: boolean }>('WebhookDeliveryConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [WebhookDeliveryEdgeRef], complexity: { field: 0, multiplier: 1 }, resolve: (page) => page.deliveries }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.deliveries.at(-1) ? String(page.deliveries.at(-1)?.row.id) : null }),
    }),
  }),
});

builder.queryFields((t) => ({
  webhookEndpoints: t.field({
    type: [WebhookEndpointRef],
    description: 'Admins: the webhook endpoints, newest first.',
    complexity: { field: 1, multiplier: 10 },
    resolve: (_root, _args, ctx) => listWebhookEndpoints(ctx.db, { reader: ctx.actor }),
  }),
  webhookDeliveries: t.field({
    type: WebhookDeliveryConnectionRef,
    description: `Admins: webhook deliveries (one per endpoint per event), newest first, a page at a time (at most ${MAX_WEBHOOK_DELIVERY_PAGE}); Relay-style cursors. \`status: PARKED\` lists the ones to replay.`,
    args: {
      endpoint: t.arg.id({ required: false, description: 'Only this endpoint’s deliveries.' }),
      status: t.arg({ type: WebhookDeliveryStatusEnum, required: false }),
      first: t.arg.int({ defaultValue: 25 }),
      after: t.arg.string({ required: false }),
    },
    complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 25, 1), MAX_WEBHOOK_DELIVERY_PAGE) }),
    resolve: (_root, args, ctx) =>
      listWebhookDeliveries(ctx.db, {
        reader: ctx.actor,
        endpointId: args.endpoint ? String(args.endpoint) : null,
        status: outboxStatuses.find((status) => status.toUpperCase() === args.status) ?? null,
        first: args.first ?? 25,
        after: args.after ?? null,
      }),
  }),
}));

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'https, or http to a receiver on this machine (localhost, 127.0.0.1).' }),
    eventTypes: t.stringList({ required: true, description: eventTypesDescription }),
    description: t.string({ required: false }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Omitted fields stay as they are.',
  fields: (t) => ({
    url: t.string({ required: false }),
    eventTypes: t.stringList({ required: false }),
    description: t.string({ required: false }),
    active: t.boolean({ required: false, description: 'True enables a disabled endpoint again.' }),
  }),
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: WebhookEndpointWithSecretRef,
    description: 'Admins: registers an endpoint for the given event types; the answer holds its signing secret, shown this once.',
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createWebhookEndpoint(ctx.db, { url: input.url, eventTypes: input.eventTypes, description: input.description ?? null, actor: ctx.actor }),
  }),
  updateWebhookEndpoint: t.field({
    type: WebhookEndpointRef,
    description: 'Admins: changes an endpoint’s URL, event types, description, or enables it again.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      updateWebhookEndpoint(ctx.db, {
        id: String(id),
        url: input.url ?? null,
        eventTypes: input.eventTypes ?? null,
        ...(input.description !== undefined ? { description: input.description } : {}),
        active: input.active ?? null,
        actor: ctx.actor,
        now: new Date(),
      }),
  }),
  disableWebhookEndpoint: t.field({
    type: WebhookEndpointRef,
    description: 'Admins: stops sending to an endpoint; what is still queued for it parks, and can be replayed once it is enabled again.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => disableWebhookEndpoint(ctx.db, { id: String(id), actor: ctx.actor, now: new Date() }),
  }),
  rotateWebhookSecret: t.field({
    type: WebhookEndpointWithSecretRef,
    description: 'Admins: gives an endpoint a new signing secret, shown this once; every delivery from now on is signed with it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => rotateWebhookSecret(ctx.db, { id: String(id), actor: ctx.actor, now: new Date() }),
  }),
  replayWebhookDelivery: t.field({
    type: WebhookDeliveryRef,
    description: 'Admins: sends a parked or sent delivery again, with the same `webhook-id` and body.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => replayWebhookDelivery(ctx.db, { id: String(id), actor: ctx.actor, now: new Date() }),
  }),
}));
