import type { Handoff } from '../../db/schema.ts';
import { type ClosedWon, closedWonKinds, recordClosedWon } from '../../domain/handoffs/closed-won.ts';
import { HANDOFF_SLA_DAYS, acceptHandoff, completeHandoff, confirmHandoff, getHandoff, listHandoffs, scheduleKickoff } from '../../domain/handoffs/handoffs.ts';
import { builder } from '../builder.ts';
import { AccountRef } from './account.ts';
import { HandoffStatusEnum, SegmentEnum } from './enums.ts';
import { RevenueChangeRef } from './ingestion.ts';
import { UserRef } from './user.ts';

export const HandoffRef = builder.objectRef<Handoff>('Handoff').implement({
  description: `The sales-to-CS handoff created at closed-won. Kickoff should be scheduled within ${HANDOFF_SLA_DAYS} days (slaDueAt).`,
  fields: (t) => ({
    id: t.exposeID('id'),
    opportunityId: t.exposeString('opportunityId', { description: 'The CRM opportunity id.' }),
    account: t.field({
      type: AccountRef,
      resolve: async (handoff, _args, ctx) => {
        const account = await ctx.loaders.account.load(handoff.accountId);
        if (!account) throw new Error(`Account ${handoff.accountId} of handoff ${handoff.id} is missing`);
        return account;
      },
    }),
    ae: t.field({ type: UserRef, nullable: true, resolve: (handoff, _args, ctx) => (handoff.aeId ? ctx.loaders.user.load(handoff.aeId) : null) }),
    csm: t.field({ type: UserRef, nullable: true, resolve: (handoff, _args, ctx) => (handoff.csmId ? ctx.loaders.user.load(handoff.csmId) : null) }),
    status: t.expose('status', { type: HandoffStatusEnum }),
    closedWonAt: t.expose('closedWonAt', { type: 'DateTime' }),
    goals: t.exposeString('goals', { nullable: true }),
    promises: t.exposeString('promises', { nullable: true, description: 'What sales promised the customer.' }),
    stakeholders: t.exposeString('stakeholders', { nullable: true }),
    risks: t.exposeString('risks', { nullable: true }),
    notes: t.exposeString('notes', { nullable: true }),
    kickoffAt: t.expose('kickoffAt', { type: 'DateTime', nullable: true }),
    goLiveTarget: t.expose('goLiveTarget', { type: 'Date', nullable: true }),
    slaDueAt: t.expose('slaDueAt', { type: 'DateTime', description: 'Schedule the kickoff by this time: closed-won plus the handoff SLA.' }),
    confirmedAt: t.expose('confirmedAt', { type: 'DateTime', nullable: true }),
    confirmedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'Who confirmed the context: the AE, or a manager or admin acting for them.',
      resolve: (handoff, _args, ctx) => (handoff.confirmedBy ? ctx.loaders.user.load(handoff.confirmedBy) : null),
    }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    acceptedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'Who accepted the handoff: the CSM, or a manager or admin acting for them.',
      resolve: (handoff, _args, ctx) => (handoff.acceptedBy ? ctx.loaders.user.load(handoff.acceptedBy) : null),
    }),
    kickoffScheduledAt: t.expose('kickoffScheduledAt', { type: 'DateTime', nullable: true, description: 'When the kickoff was first put in the calendar.' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    version: t.exposeInt('version', { description: 'Bumped by every change of the handoff.' }),
  }),
});

builder.objectField(AccountRef, 'handoff', (t) =>
  t.field({
    type: HandoffRef,
    nullable: true,
    description: 'The latest handoff of the account, if it was closed-won through Lifeline.',
    resolve: (account, _args, ctx) => ctx.loaders.handoffByAccount.load(account.id),
  }),
);

builder.queryFields((t) => ({
  handoffs: t.field({
    type: [HandoffRef],
    description: 'Handoffs, the most urgent SLA first (at most 200). Account executives see their own.',
    args: { status: t.arg({ type: HandoffStatusEnum, required: false }) },
    complexity: { field: 5, multiplier: 20 },
    resolve: (_root, args, ctx) => listHandoffs(ctx.db, { status: args.status ?? null, reader: ctx.actor }),
  }),
  handoff: t.field({
    type: HandoffRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await getHandoff(ctx.db, { id: String(args.id), reader: ctx.actor })) ?? null,
  }),
}));

const HandoffContextInput = builder.inputType('HandoffContextInput', {
  description: 'The sales context handed to CS. Omitted fields are left as they are.',
  fields: (t) => ({
    goals: t.string({ required: false }),
    promises: t.string({ required: false }),
    stakeholders: t.string({ required: false }),
    risks: t.string({ required: false }),
    notes: t.string({ required: false }),
  }),
});

const ClosedWonAccountInput = builder.inputType('ClosedWonAccountInput', {
  fields: (t) => ({
    externalId: t.string({ required: true, description: 'The CRM account id: the account is created or updated by it.' }),
    name: t.string({ required: true }),
    domain: t.string({ required: false }),
    segment: t.field({ type: SegmentEnum, required: true }),
    arrCents: t.float({
      required: true,
      description:
        "The account's ARR with this deal, whole cents. For an existing customer the change from the MRR the ledger has is recorded as an expansion or contraction (0: the deal carries no ARR).",
    }),
    contractStart: t.field({ type: 'Date', required: false, description: "For an existing customer, the day the deal's MRR takes effect (the day it closed otherwise)." }),
    contractEnd: t.field({
      type: 'Date',
      required: false,
      description:
        'Also records the renewal; its window opens the configured number of days before (LIFELINE_RENEWAL_WINDOW_DAYS, 90 by default). For an existing customer, a later contract end than the current one is a renewal: the contract is extended and the next renewal opened.',
    }),
  }),
});

const RecordClosedWonInput = builder.inputType('RecordClosedWonInput', {
  fields: (t) => ({
    opportunityId: t.string({ required: true, description: 'Recording the same opportunity again changes nothing.' }),
    account: t.field({ type: ClosedWonAccountInput, required: true }),
    aeId: t.id({ required: false }),
    csmId: t.id({ required: false }),
    closedWonAt: t.field({ type: 'DateTime', required: true }),
    context: t.field({ type: HandoffContextInput, required: false }),
    goLiveTarget: t.field({ type: 'Date', required: false }),
  }),
});

const ClosedWonKindEnum = builder.enumType('ClosedWonKind', {
  description:
    "What a closed-won deal was. new_customer: a handoff was created and the account entered Onboarding. For a customer Lifeline already has, the account keeps its stage, name and owners and no handoff is made: renewal (the contract now ends later), expansion (more ARR), contraction (less ARR), reactivation (a churned customer is paying again; a person moves it out of Churned), amendment (none of these).",
  values: closedWonKinds,
});

const ClosedWonPayload = builder.objectRef<ClosedWon>('ClosedWonPayload').implement({
  fields: (t) => ({
    kind: t.expose('kind', { type: ClosedWonKindEnum }),
    handoff: t.field({
      type: HandoffRef,
      nullable: true,
      description: 'The handoff of a new customer; null for a deal of an existing customer.',
      resolve: (payload) => payload.handoff,
    }),
    account: t.field({ type: AccountRef, resolve: (payload) => payload.account }),
    revenueChange: t.field({
      type: RevenueChangeRef,
      nullable: true,
      description: "For an existing customer: the ledger entry of the MRR the deal moved (externalId `opportunity:<id>`), null when it moved none.",
      resolve: (payload) => payload.revenueChange,
    }),
    created: t.exposeBoolean('created', { description: 'False when this opportunity was already recorded (nothing changed).' }),
  }),
});

const optionalId = (value: string | number | null | undefined) => (value === null || value === undefined ? null : String(value));

builder.mutationFields((t) => ({
  recordClosedWon: t.field({
    type: ClosedWonPayload,
    description:
      "A deal closed-won (integration or admin). A new customer (an unknown CRM id, or an account still in Pre-onboarding): upserts the account by CRM id, creates the handoff, moves the account into Onboarding and posts the handoff to Slack. A customer Lifeline already has: keeps the account's stage, name and owners, creates no handoff, records the MRR change in the revenue ledger and extends the contract when the deal ends later (see `kind`). Idempotent on opportunityId.",
    args: { input: t.arg({ type: RecordClosedWonInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      recordClosedWon(ctx.db, {
        opportunityId: input.opportunityId,
        account: {
          externalId: input.account.externalId,
          name: input.account.name,
          domain: input.account.domain ?? null,
          segment: input.account.segment,
          arrCents: input.account.arrCents,
          contractStart: input.account.contractStart ?? null,
          contractEnd: input.account.contractEnd ?? null,
        },
        aeId: optionalId(input.aeId),
        csmId: optionalId(input.csmId),
        closedWonAt: input.closedWonAt,
        context: input.context ?? {},
        goLiveTarget: input.goLiveTarget ?? null,
        actor: ctx.actor,
        renewalWindowDays: ctx.renewalWindowDays,
      }),
  }),
  confirmHandoff: t.field({
    type: HandoffRef,
    description: "The account executive confirms the handoff's sales context, optionally editing it (pending → confirmed).",
    args: { handoffId: t.arg.id({ required: true }), context: t.arg({ type: HandoffContextInput, required: false }) },
    resolve: (_root, args, ctx) => confirmHandoff(ctx.db, { handoffId: String(args.handoffId), actor: ctx.actor, context: args.context ?? {} }),
  }),
  acceptHandoff: t.field({
    type: HandoffRef,
    description: 'The CSM accepts the handoff (confirmed → accepted). A CSM accepting a handoff without a CSM takes it.',
    args: { handoffId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => acceptHandoff(ctx.db, { handoffId: String(args.handoffId), actor: ctx.actor }),
  }),
  scheduleKickoff: t.field({
    type: HandoffRef,
    description: 'Sets the kickoff time (accepted → kickoff_scheduled); call again to reschedule.',
    args: { handoffId: t.arg.id({ required: true }), kickoffAt: t.arg({ type: 'DateTime', required: true }) },
    resolve: (_root, args, ctx) => scheduleKickoff(ctx.db, { handoffId: String(args.handoffId), actor: ctx.actor, kickoffAt: args.kickoffAt }),
  }),
  completeHandoff: t.field({
    type: HandoffRef,
    description: 'The kickoff was held (kickoff_scheduled → completed).',
    args: { handoffId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => completeHandoff(ctx.db, { handoffId: String(args.handoffId), actor: ctx.actor }),
  }),
}));
