import type { LifecycleStage } from '../../db/schema.ts';
import type { ListedStage } from '../../domain/accounts/listing.ts';
import { listStages } from '../../domain/lifecycle/stages.ts';
import { builder } from '../builder.ts';
import type { ApiContext } from '../context.ts';
import { type MaybePromise, columnOf, required } from '../partial-rows.ts';
import { UserRoleEnum } from './enums.ts';

/** A column of a stage a listing may have read in part (an account's stage), else of the whole stage. */
function stageColumn<Column extends keyof LifecycleStage>(ctx: ApiContext, stage: ListedStage, column: Column): MaybePromise<LifecycleStage[Column]> {
  return columnOf(stage, column, () => required(ctx.loaders.stage.load(stage.key), `Stage ${stage.key}`));
}

export const StageRef = builder.objectRef<ListedStage>('LifecycleStage').implement({
  description: 'A stage of the customer lifecycle, with who owns it and what it takes to enter and leave it.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Stable identifier used in filters and mutations, e.g. `onboarding`.' }),
    name: t.string({ resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'name') }),
    position: t.int({
      description: 'Order in the lifecycle; moving to a lower position is a backward move.',
      resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'position'),
    }),
    ownerRole: t.field({ type: UserRoleEnum, resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'ownerRole') }),
    entryCriteria: t.string({ resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'entryCriteria') }),
    exitCriteria: t.string({ resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'exitCriteria') }),
    slaDays: t.int({
      nullable: true,
      description: 'Days an account should stay at most; null means no limit.',
      resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'slaDays'),
    }),
    terminal: t.boolean({ description: 'No rule moves an account out of a terminal stage.', resolve: (stage, _args, ctx) => stageColumn(ctx, stage, 'terminal') }),
  }),
});

builder.queryField('stages', (t) =>
  t.field({
    type: [StageRef],
    description: 'The lifecycle, in order.',
    resolve: (_root, _args, ctx) => listStages(ctx.db, { reader: ctx.actor }),
  }),
);
