import type { OutboxRow } from '../../db/schema.ts';
import { outboxStatuses } from '../../db/schema.ts';
import { notificationKinds, notificationTargetForms } from '../../domain/notifications.ts';
import { listNotifications, requeueNotification } from '../../domain/outbox.ts';
import { builder } from '../builder.ts';

const NotificationStatusEnum = builder.enumType('NotificationStatus', {
  description: '`parked`: delivery gave up (Slack refused it for good, or it kept failing); see `lastError`.',
  values: outboxStatuses.map((status) => status.toUpperCase()),
});

const toStatus = (status: OutboxRow['status']) => status.toUpperCase();

export const NotificationRef = builder.objectRef<OutboxRow>('Notification').implement({
  description: 'A Slack notification from the outbox: what, to whom, and how its delivery went.',
  fields: (t) => ({
    id: t.id({ resolve: (row) => String(row.id) }),
    kind: t.exposeString('kind', { description: `${notificationKinds.join(', ')}.` }),
    dedupeKey: t.exposeString('dedupeKey', { description: 'Unique per occasion: the same key is never delivered twice.' }),
    target: t.exposeString('target', { description: `${notificationTargetForms}.` }),
    status: t.field({ type: NotificationStatusEnum, resolve: (row) => toStatus(row.status) }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why the last attempt failed; for a parked notification, why it was parked.' }),
    slackChannel: t.exposeString('slackChannel', { nullable: true }),
    slackTs: t.exposeString('slackTs', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('notifications', (t) =>
  t.field({
    type: [NotificationRef],
    description: 'Managers and admins: Slack notifications, newest first; `status: PARKED` lists the ones that could not be delivered.',
    args: {
      status: t.arg({ type: NotificationStatusEnum, required: false }),
      first: t.arg.int({ required: false, defaultValue: 50 }),
    },
    resolve: (_root, args, ctx) => {
      const status = outboxStatuses.find((candidate) => candidate.toUpperCase() === args.status) ?? null;
      return listNotifications(ctx.db, { status, first: args.first ?? 50, actor: ctx.actor });
    },
  }),
);

builder.mutationField('requeueNotification', (t) =>
  t.field({
    type: NotificationRef,
    description: 'Managers and admins: delivers a parked notification again, after fixing what parked it (e.g. inviting the bot to the channel).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => requeueNotification(ctx.db, { id: Number(args.id), now: new Date(), actor: ctx.actor }),
  }),
);
