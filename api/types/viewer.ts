import type { Actor } from '../../domain/actors.ts';
import { builder } from '../builder.ts';
import { TokenRoleEnum } from './enums.ts';
import { UserRef } from './user.ts';

const ViewerRef = builder.objectRef<Actor>('Viewer').implement({
  description: 'Who the bearer token acts as.',
  fields: (t) => ({
    label: t.exposeString('label'),
    role: t.expose('role', { type: TokenRoleEnum }),
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (actor, _args, ctx) => (actor.userId ? ctx.loaders.user.load(actor.userId) : null),
    }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: ViewerRef, resolve: (_root, _args, ctx) => ctx.actor }));
