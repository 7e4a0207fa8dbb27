import type { LifecycleStage } from '../../db/schema.ts';
import { listStages } from '../../domain/lifecycle/stages.ts';
import { builder } from '../builder.ts';
import { UserRoleEnum } from './enums.ts';

export const StageRef = builder.objectRef<LifecycleStage>('LifecycleStage').implement({
  description: 'A stage of the customer lifecycle, with who owns it and what it takes to enter and leave it.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Stable identifier used in filters and mutations, e.g. `onboarding`.' }),
    name: t.exposeString('name'),
    position: t.exposeInt('position', { description: 'Order in the lifecycle; moving to a lower position is a backward move.' }),
    ownerRole: t.expose('ownerRole', { type: UserRoleEnum }),
    entryCriteria: t.exposeString('entryCriteria'),
    exitCriteria: t.exposeString('exitCriteria'),
    slaDays: t.exposeInt('slaDays', { nullable: true, description: 'Days an account should stay at most; null means no limit.' }),
    terminal: t.exposeBoolean('terminal', { description: 'No rule moves an account out of a terminal stage.' }),
  }),
});

builder.queryField('stages', (t) =>
  t.field({
    type: [StageRef],
    description: 'The lifecycle, in order.',
    resolve: (_root, _args, ctx) => listStages(ctx.db, { reader: ctx.actor }),
  }),
);
