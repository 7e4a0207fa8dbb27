import type { User } from '../../db/schema.ts';
import { builder } from '../builder.ts';
import { UserRoleEnum } from './enums.ts';

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
