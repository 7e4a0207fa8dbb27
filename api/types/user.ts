import type { SlackEmailLookup, User } from '../../db/schema.ts';
import { can } from '../../domain/access.ts';
import { builder } from '../builder.ts';
import { SlackEmailLookupStatusEnum, UserRoleEnum } from './enums.ts';

export const UserRef = builder.objectRef<User>('User').implement({
  description: 'A person using Lifeline: CSM, account executive, manager, admin or viewer.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: UserRoleEnum }),
    slackUserId: t.exposeString('slackUserId', { nullable: true, description: 'The linked Slack user (U…), if any.' }),
  }),
});

builder.objectField(UserRef, 'manager', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'Whom this person reports to: escalations about their accounts (overdue handoffs, unacknowledged at-risk items) go there.',
    resolve: (user, _args, ctx) => (user.managerId ? ctx.loaders.user.load(user.managerId) : null),
  }),
);

const SlackEmailLookupRef = builder.objectRef<SlackEmailLookup>('SlackEmailLookup').implement({
  description: 'How Lifeline looked a person loaded without a Slack id up in Slack by their email, and what Slack answered.',
  fields: (t) => ({
    status: t.expose('status', { type: SlackEmailLookupStatusEnum }),
    attempts: t.exposeInt('attempts'),
    slackUserId: t.exposeString('slackUserId', { nullable: true, description: 'The Slack member Slack gave for the email, if any.' }),
    error: t.exposeString('lastError', { nullable: true, description: 'Why the person is not linked, when they are not.' }),
    checkedAt: t.expose('checkedAt', { type: 'DateTime', nullable: true, description: 'When Slack last answered.' }),
  }),
});

builder.objectField(UserRef, 'slackEmailLookup', (t) =>
  t.field({
    type: SlackEmailLookupRef,
    nullable: true,
    description: 'Admins only (null for others): the lookup of this person in Slack by email, queued when they were loaded without a Slack id.',
    resolve: (user, _args, ctx) => (can(ctx.actor, 'manage_people') ? ctx.loaders.slackEmailLookup.load(user.id) : null),
  }),
);
