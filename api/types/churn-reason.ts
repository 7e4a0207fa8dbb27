import type { ChurnReason } from '../../db/schema.ts';
import { defineChurnReason, listChurnReasons, updateChurnReason } from '../../domain/churn-reasons.ts';
import { builder } from '../builder.ts';
import { TransitionRef } from './transition.ts';

export const ChurnReasonRef = builder.objectRef<ChurnReason>('ChurnReason').implement({
  description: 'Why a customer left or shrank: one entry of the admin-edited list. Retired reasons keep naming the churns that gave them.',
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Stable identifier given as `churnReasonKey`, e.g. `budget`.' }),
    label: t.exposeString('label'),
    appliesToChurn: t.exposeBoolean('appliesToChurn', { description: 'May be given for a churn (a move to Churned, a churned renewal, a churn in the ledger).' }),
    appliesToContraction: t.exposeBoolean('appliesToContraction', { description: 'May be given for a contraction (a downsell, a contraction in the ledger).' }),
    position: t.exposeInt('position', { description: 'Order in lists.' }),
    retired: t.boolean({ description: 'Retired: no longer offered, kept for history.', resolve: (reason) => reason.retiredAt !== null }),
  }),
});

const ChurnReasonUseEnum = builder.enumType('ChurnReasonUse', { values: ['churn', 'contraction'] as const });

builder.queryField('churnReasons', (t) =>
  t.field({
    type: [ChurnReasonRef],
    description: 'The churn and contraction reasons, in order; retired ones only with `includeRetired`.',
    args: {
      includeRetired: t.arg.boolean({ required: false }),
      use: t.arg({ type: ChurnReasonUseEnum, required: false, description: 'Only the reasons that may be given for this.' }),
    },
    resolve: (_root, args, ctx) =>
      listChurnReasons(ctx.db, { reader: ctx.actor, includeRetired: args.includeRetired ?? false, ...(args.use ? { use: args.use } : {}) }),
  }),
);

const DefineChurnReasonInput = builder.inputType('DefineChurnReasonInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: '2 to 40 lowercase letters, digits or underscores; never changes.' }),
    label: t.string({ required: true }),
    appliesToChurn: t.boolean({ required: false, description: 'Default true.' }),
    appliesToContraction: t.boolean({ required: false, description: 'Default true.' }),
    position: t.int({ required: false, description: 'Order in lists; default 100.' }),
  }),
});

const UpdateChurnReasonInput = builder.inputType('UpdateChurnReasonInput', {
  fields: (t) => ({
    key: t.string({ required: true }),
    label: t.string({ required: false }),
    appliesToChurn: t.boolean({ required: false }),
    appliesToContraction: t.boolean({ required: false }),
    position: t.int({ required: false }),
    retired: t.boolean({ required: false, description: 'true retires the reason (it is never deleted); false brings it back.' }),
  }),
});

const given = <T>(value: T | null | undefined) => (value === null || value === undefined ? undefined : value);

builder.mutationFields((t) => ({
  defineChurnReason: t.field({
    type: ChurnReasonRef,
    description: 'Adds a churn or contraction reason (admins). BAD_USER_INPUT names the field to fix.',
    args: { input: t.arg({ type: DefineChurnReasonInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      defineChurnReason(ctx.db, {
        actor: ctx.actor,
        key: input.key,
        label: input.label,
        appliesToChurn: given(input.appliesToChurn),
        appliesToContraction: given(input.appliesToContraction),
        position: given(input.position),
      }),
  }),
  updateChurnReason: t.field({
    type: ChurnReasonRef,
    description: 'Edits a churn reason, or retires it with `retired: true` (admins). Reasons are never deleted: history names them.',
    args: { input: t.arg({ type: UpdateChurnReasonInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      updateChurnReason(ctx.db, {
        actor: ctx.actor,
        key: input.key,
        label: given(input.label),
        appliesToChurn: given(input.appliesToChurn),
        appliesToContraction: given(input.appliesToContraction),
        position: given(input.position),
        retired: given(input.retired),
      }),
  }),
}));

builder.objectFields(TransitionRef, (t) => ({
  churnReason: t.field({
    type: ChurnReasonRef,
    nullable: true,
    description: 'Why the customer left, on a move to Churned.',
    resolve: async (transition, _args, ctx) => {
      if (!transition.churnReasonKey) return null;
      const reasons = await listChurnReasons(ctx.db, { reader: ctx.actor, includeRetired: true });
      return reasons.find((reason) => reason.key === transition.churnReasonKey) ?? null;
    },
  }),
}));
