import { type RenewalCall, type RenewalOutcome, renewalCallKinds, renewalOutcomeKinds } from '../../db/schema.ts';
import { callRenewal } from '../../domain/renewals/calls.ts';
import {
  type ForecastAccuracyRow,
  type ForecastByCall,
  type ForecastByHealth,
  type ForecastGroup,
  type RenewalForecast,
  forecastGroupings,
  getRenewalForecast,
} from '../../domain/renewals/forecast.ts';
import { type RenewalOutcomeResult, correctRenewalOutcome, recordRenewalOutcome } from '../../domain/renewals/outcomes.ts';
import { builder } from '../builder.ts';
import { ChurnReasonRef } from './churn-reason.ts';
import { RenewalRef } from './renewal.ts';
import { listChurnReasons } from '../../domain/churn-reasons.ts';

const RenewalCallEnum = builder.enumType('RenewalCall', {
  description: "The owner's forecast of an open renewal: commit (will renew), likely, at_risk, churning.",
  values: renewalCallKinds,
});
const RenewalOutcomeKindEnum = builder.enumType('RenewalOutcomeKind', {
  description: 'renewed (flat or with uplift), downsell (renewed for less ARR), churned.',
  values: renewalOutcomeKinds,
});
const ForecastGroupingEnum = builder.enumType('RenewalForecastGrouping', { values: forecastGroupings });

const RenewalCallRef = builder.objectRef<RenewalCall>('RenewalForecastCall').implement({
  description: 'One forecast call on a renewal. Calls are kept; the latest is the current one.',
  fields: (t) => ({
    id: t.exposeID('id'),
    call: t.expose('call', { type: RenewalCallEnum }),
    note: t.exposeString('note', { nullable: true }),
    calledByLabel: t.exposeString('calledByLabel'),
    calledAt: t.expose('calledAt', { type: 'DateTime' }),
  }),
});

const RenewalOutcomeRef = builder.objectRef<RenewalOutcome>('RenewalOutcome').implement({
  description: 'How a renewal ended, as recorded; a correction replaces it and keeps it in the history (supersededAt set).',
  fields: (t) => ({
    id: t.exposeID('id'),
    outcome: t.expose('outcome', { type: RenewalOutcomeKindEnum }),
    previousContractEnd: t.expose('previousContractEnd', { type: 'Date', description: 'The contract end that was up for renewal.' }),
    previousArrCents: t.exposeFloat('previousArrCents', { description: 'The ARR that was up for renewal.' }),
    newContractEnd: t.expose('newContractEnd', { type: 'Date', nullable: true }),
    newArrCents: t.exposeFloat('newArrCents', { description: 'ARR after the renewal; 0 for a churn.' }),
    mrrDeltaCents: t.exposeFloat('mrrDeltaCents', {
      description: 'The MRR movement written to the revenue ledger as `renewal:<renewalId>`: (newArr − previousArr) ÷ 12 rounded to the cent, or minus the whole MRR for a churn; 0 writes nothing.',
    }),
    churnReason: t.field({
      type: ChurnReasonRef,
      nullable: true,
      resolve: async (outcome, _args, ctx) =>
        outcome.churnReasonKey ? ((await listChurnReasons(ctx.db, { reader: ctx.actor, includeRetired: true })).find((reason) => reason.key === outcome.churnReasonKey) ?? null) : null,
    }),
    note: t.exposeString('note', { nullable: true }),
    recordedByLabel: t.exposeString('recordedByLabel'),
    recordedAt: t.expose('recordedAt', { type: 'DateTime' }),
    supersededAt: t.expose('supersededAt', { type: 'DateTime', nullable: true, description: 'When a correction replaced it; null for the current outcome.' }),
  }),
});

builder.objectFields(RenewalRef, (t) => ({
  calls: t.field({
    type: [RenewalCallRef],
    description: 'Every forecast call, oldest first.',
    complexity: 5,
    resolve: (renewal, _args, ctx) => ctx.loaders.renewalCalls.load(renewal.id),
  }),
  currentCall: t.field({
    type: RenewalCallRef,
    nullable: true,
    description: 'The latest forecast call; null before the first.',
    complexity: 5,
    resolve: async (renewal, _args, ctx) => (await ctx.loaders.renewalCalls.load(renewal.id)).at(-1) ?? null,
  }),
  recordedOutcome: t.field({
    type: RenewalOutcomeRef,
    nullable: true,
    description: 'The current outcome (recordRenewalOutcome, or its correction); null while the renewal is open.',
    complexity: 5,
    resolve: async (renewal, _args, ctx) =>
      (await ctx.loaders.renewalOutcomes.load(renewal.id)).find((outcome) => outcome.supersededAt === null) ?? null,
  }),
  outcomeHistory: t.field({
    type: [RenewalOutcomeRef],
    description: 'Every outcome recorded, corrections included, oldest first.',
    complexity: 5,
    resolve: (renewal, _args, ctx) => ctx.loaders.renewalOutcomes.load(renewal.id),
  }),
}));

const RenewalOutcomeInput = builder.inputType('RenewalOutcomeInput', {
  fields: (t) => ({
    renewalId: t.id({ required: true }),
    outcome: t.field({ type: RenewalOutcomeKindEnum, required: true }),
    newContractEnd: t.field({ type: 'Date', required: false, description: 'Required for renewed and downsell: after the contract end being renewed.' }),
    newArrCents: t.float({ required: false, description: 'Required for renewed (at least the ARR up) and downsell (below it); whole cents.' }),
    churnReasonKey: t.string({ required: false, description: 'Required for churned; optional for downsell; refused for renewed. See `churnReasons`.' }),
    note: t.string({ required: false }),
  }),
});

const RenewalOutcomePayload = builder.objectRef<RenewalOutcomeResult>('RenewalOutcomePayload').implement({
  fields: (t) => ({
    renewal: t.field({ type: RenewalRef, resolve: (payload) => payload.renewal }),
    outcome: t.field({ type: RenewalOutcomeRef, resolve: (payload) => payload.outcome }),
    replayed: t.exposeBoolean('replayed', { description: 'True when this exact outcome was already recorded: nothing was written again.' }),
  }),
});

const CallRenewalInput = builder.inputType('CallRenewalInput', {
  fields: (t) => ({
    renewalId: t.id({ required: true }),
    call: t.field({ type: RenewalCallEnum, required: true }),
    note: t.string({ required: false }),
  }),
});

const outcomeParams = (input: typeof RenewalOutcomeInput.$inferInput) => ({
  renewalId: String(input.renewalId),
  outcome: input.outcome,
  newContractEnd: input.newContractEnd ?? null,
  newArrCents: input.newArrCents ?? null,
  churnReasonKey: input.churnReasonKey ?? null,
  note: input.note ?? null,
});

builder.mutationFields((t) => ({
  recordRenewalOutcome: t.field({
    type: RenewalOutcomePayload,
    description:
      "Records how a renewal ended (the account's CSM or AE, managers, admins). renewed/downsell set the new contract end and ARR and write the ARR change ÷ 12 to the revenue ledger as an expansion or contraction effective on the renewal's contract end; churned writes the churn of the account's MRR and moves the account to Churned with the churn reason. Sending the same outcome again records nothing (replayed: true); a different one is refused with BAD_USER_INPUT: ask a manager to correctRenewalOutcome. FORBIDDEN names who may.",
    args: { input: t.arg({ type: RenewalOutcomeInput, required: true }) },
    resolve: (_root, { input }, ctx) => recordRenewalOutcome(ctx.db, { ...outcomeParams(input), actor: ctx.actor, source: 'api', windowDays: ctx.renewalWindowDays }),
  }),
  correctRenewalOutcome: t.field({
    type: RenewalOutcomePayload,
    description:
      "Replaces a renewal's recorded outcome (managers and admins). The ledger row the outcome wrote is amended in place (removed when the corrected outcome moves no MRR), so NRR and GRR count only the corrected outcome; the account's contract, ARR and stage follow it (a churn corrected to a renewal moves the account back to the stage it left). The replaced outcome stays in outcomeHistory.",
    args: { input: t.arg({ type: RenewalOutcomeInput, required: true }) },
    resolve: (_root, { input }, ctx) => correctRenewalOutcome(ctx.db, { ...outcomeParams(input), actor: ctx.actor, source: 'api', windowDays: ctx.renewalWindowDays }),
  }),
  callRenewal: t.field({
    type: RenewalRef,
    description:
      "Calls an open renewal's forecast: commit, likely, at_risk or churning, with an optional note (the account's CSM or AE, managers, admins). Every call is kept; repeating the latest call adds nothing. BAD_USER_INPUT on a closed renewal.",
    args: { input: t.arg({ type: CallRenewalInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      (await callRenewal(ctx.db, { renewalId: String(input.renewalId), call: input.call, note: input.note ?? null, actor: ctx.actor })).renewal,
  }),
}));

const ForecastByCallRef = builder.objectRef<ForecastByCall>('RenewalForecastByCall').implement({
  fields: (t) => ({
    call: t.expose('call', { type: RenewalCallEnum, nullable: true, description: 'Null: no call yet.' }),
    renewals: t.exposeInt('renewals'),
    arrCents: t.exposeFloat('arrCents'),
  }),
});
const ForecastByHealthRef = builder.objectRef<ForecastByHealth>('RenewalForecastByHealth').implement({
  fields: (t) => ({
    status: t.exposeString('status', { description: "The account's current health: healthy, at_risk, critical, insufficient_data or not_computed." }),
    renewals: t.exposeInt('renewals'),
    arrCents: t.exposeFloat('arrCents'),
  }),
});
const ForecastAccuracyRef = builder.objectRef<ForecastAccuracyRow>('RenewalForecastAccuracy').implement({
  description: 'Closed renewals of the period by the call they had when their outcome was first recorded, and what happened.',
  fields: (t) => ({
    call: t.expose('call', { type: RenewalCallEnum, nullable: true, description: 'Null: closed without a call.' }),
    renewals: t.exposeInt('renewals'),
    arrUpCents: t.exposeFloat('arrUpCents'),
    renewed: t.exposeInt('renewed'),
    downsold: t.exposeInt('downsold'),
    churned: t.exposeInt('churned'),
    retainedArrCents: t.exposeFloat('retainedArrCents', { description: 'Σ min(new ARR, ARR up); a churn keeps 0.' }),
    newArrCents: t.exposeFloat('newArrCents', { description: 'Σ new ARR, uplift included.' }),
  }),
});
const ForecastGroupRef = builder.objectRef<ForecastGroup>('RenewalForecastGroup').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: '`all`, a segment, a CSM user id, or `unassigned`.' }),
    label: t.exposeString('label'),
    renewals: t.exposeInt('renewals', { description: 'Renewals whose contract end is in the period: open ones, and closed ones with a recorded outcome.' }),
    arrUpCents: t.exposeFloat('arrUpCents', { description: "ARR up for renewal: the account's ARR for an open renewal, the ARR recorded as up for a closed one." }),
    openArrCents: t.exposeFloat('openArrCents'),
    closedArrCents: t.exposeFloat('closedArrCents'),
    byCall: t.field({ type: [ForecastByCallRef], complexity: 0, description: 'ARR up by current call (for closed renewals, the call before the outcome).', resolve: (group) => group.byCall }),
    byHealth: t.field({ type: [ForecastByHealthRef], complexity: 0, resolve: (group) => group.byHealth }),
    noCallArrCents: t.exposeFloat('noCallArrCents', { description: 'ARR of open renewals with no call yet.' }),
    expectedGrr: t.exposeFloat('expectedGrr', {
      nullable: true,
      description:
        'Expected GRR if commits hold = (Σ over closed renewals of min(new ARR, ARR up), a churn counting 0, + Σ ARR up of open renewals called commit) ÷ arrUpCents. Open renewals called likely, at_risk or churning, or not called, count as lost; expansion never counts. Null when nothing is up.',
    }),
    accuracy: t.field({ type: [ForecastAccuracyRef], complexity: 0, resolve: (group) => group.accuracy }),
  }),
});
const ForecastRef = builder.objectRef<RenewalForecast>('RenewalForecast').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    groupBy: t.expose('groupBy', { type: ForecastGroupingEnum, nullable: true }),
    groups: t.field({ type: [ForecastGroupRef], complexity: 0, resolve: (forecast) => forecast.groups }),
  }),
});

builder.queryField('renewalForecast', (t) =>
  t.field({
    type: ForecastRef,
    description: 'Renewals whose contract ends in the period (both days inclusive): ARR up by call and health, expected GRR if commits hold, ARR not called, and forecast accuracy of closed ones. Managers and admins.',
    args: {
      from: t.arg({ type: 'Date', required: true }),
      to: t.arg({ type: 'Date', required: true }),
      groupBy: t.arg({ type: ForecastGroupingEnum, required: false }),
    },
    complexity: 30,
    resolve: (_root, args, ctx) => getRenewalForecast(ctx.db, { from: args.from, to: args.to, groupBy: args.groupBy ?? null, actor: ctx.actor }),
  }),
);
