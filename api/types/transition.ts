import type { StageTransition } from '../../db/schema.ts';
import { builder } from '../builder.ts';
import { TransitionDirectionEnum, TransitionSourceEnum } from './enums.ts';
import { StageRef } from './stage.ts';
import { UserRef } from './user.ts';

export const TransitionRef = builder.objectRef<StageTransition>('StageTransition').implement({
  description: 'One recorded stage change of an account. History is append-only.',
  fields: (t) => ({
    id: t.id({ resolve: (transition) => String(transition.id) }),
    fromStage: t.field({
      type: StageRef,
      nullable: true,
      resolve: (transition, _args, ctx) => (transition.fromStage ? ctx.loaders.stage.load(transition.fromStage) : null),
    }),
    toStage: t.field({
      type: StageRef,
      resolve: async (transition, _args, ctx) => {
        const stage = await ctx.loaders.stage.load(transition.toStage);
        if (!stage) throw new Error(`Stage ${transition.toStage} of transition ${transition.id} is missing`);
        return stage;
      },
    }),
    direction: t.expose('direction', { type: TransitionDirectionEnum }),
    source: t.expose('source', { type: TransitionSourceEnum }),
    actor: t.field({
      type: UserRef,
      nullable: true,
      description: 'The person who moved it; null for rules, imports and integration tokens.',
      resolve: (transition, _args, ctx) => (transition.actorId ? ctx.loaders.user.load(transition.actorId) : null),
    }),
    actorLabel: t.exposeString('actorLabel', { description: 'Who or what moved it, as shown to people.' }),
    reason: t.exposeString('reason', { nullable: true }),
    accountVersion: t.exposeInt('accountVersion', { description: 'The account version this change produced.' }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});
