import type { SlackEmailLookup, User } from '../../db/schema.ts';
import type { ListedUser } from '../../domain/accounts/listing.ts';
import { can } from '../../domain/access.ts';
import { builder } from '../builder.ts';
import type { ApiContext } from '../context.ts';
import { type MaybePromise, columnOf, required } from '../partial-rows.ts';
import { SlackEmailLookupStatusEnum, UserRoleEnum } from './enums.ts';

/** A column of a user a listing may have read in part (an account's owner), else of the whole user. */
function userColumn<Column extends keyof User>(ctx: ApiContext, user: ListedUser, column: Column): MaybePromise<User[Column]> {
  return columnOf(user, column, () => required(ctx.loaders.user.load(user.id), `User ${user.id}`));
}

export const UserRef = builder.objectRef<ListedUser>('User').implement({
  description: 'A person using Lifeline: CSM, account executive, manager, admin or viewer.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.string({ resolve: (user, _args, ctx) => userColumn(ctx, user, 'name') }),
    email: t.string({ resolve: (user, _args, ctx) => userColumn(ctx, user, 'email') }),
    role: t.field({ type: UserRoleEnum, resolve: (user, _args, ctx) => userColumn(ctx, user, 'role') }),
    slackUserId: t.string({ nullable: true, description: 'The linked Slack user (U…), if any.', resolve: (user, _args, ctx) => userColumn(ctx, user, 'slackUserId') }),
  }),
});

builder.objectField(UserRef, 'manager', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'Whom this person reports to: escalations about their accounts (overdue handoffs, unacknowledged at-risk items) go there.',
    resolve: async (user, _args, ctx) => {
      const managerId = await userColumn(ctx, user, 'managerId');
      return managerId ? ctx.loaders.user.load(managerId) : null;
    },
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
