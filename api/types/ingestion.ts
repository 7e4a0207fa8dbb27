import type { RevenueChange, SurveyResponse, Ticket } from '../../db/schema.ts';
import { MAX_UPSERT_ACCOUNTS, type UpsertAccountsResult, upsertAccounts } from '../../domain/accounts/crm-upsert.ts';
import { recordRevenueChange } from '../../domain/revenue.ts';
import { MAX_TOUCH_ROWS, MAX_USAGE_ROWS, recordFirstValue, recordNps, recordTicket, recordTouches, recordUsage, resolveTicket } from '../../domain/signals.ts';
import { builder } from '../builder.ts';
import { RevenueChangeKindEnum, SegmentEnum, SurveyKindEnum, TicketSeverityEnum, TouchKindEnum } from './enums.ts';

// Ingestion mutations: integration tokens (CRM, product analytics, support desk) and admins. Each is idempotent
// on its natural key, so an integration can retry a call it is unsure about.

const optionalString = (value: string | number | null | undefined) => (value === null || value === undefined ? null : String(value));

/** The account a row or call names, by Lifeline id or by the CRM's external id, as the domain takes it. */
function accountRef(input: { accountId?: string | number | null; accountExternalId?: string | null }) {
  return { accountId: optionalString(input.accountId), accountExternalId: input.accountExternalId ?? null };
}

const UpsertAccountInput = builder.inputType('UpsertAccountInput', {
  fields: (t) => ({
    externalId: t.string({ required: true, description: 'The CRM account id; the key of the upsert.' }),
    name: t.string({ required: true }),
    domain: t.string({ required: false }),
    segment: t.field({ type: SegmentEnum, required: true }),
    arrCents: t.float({ required: true, description: 'Whole cents.' }),
    csmId: t.id({ required: false, description: 'Omitted: an existing account keeps its CSM.' }),
    aeId: t.id({ required: false }),
    contractStart: t.field({ type: 'Date', required: false }),
    contractEnd: t.field({ type: 'Date', required: false, description: 'Also records the renewal of this contract end; its window opens the configured number of days before (LIFELINE_RENEWAL_WINDOW_DAYS, 90 by default).' }),
    stageKey: t.string({ required: false, description: 'Stage of a new account (default pre_onboarding); ignored for existing accounts, which move only by moveAccountStage.' }),
  }),
});

const UpsertedAccountRef = builder
  .objectRef<UpsertAccountsResult['accounts'][number]>('UpsertedAccount')
  .implement({
    fields: (t) => ({
      externalId: t.exposeString('externalId'),
      id: t.exposeID('id'),
      created: t.exposeBoolean('created'),
    }),
  });

const UpsertAccountsPayload = builder.objectRef<UpsertAccountsResult>('UpsertAccountsPayload').implement({
  fields: (t) => ({
    created: t.exposeInt('created'),
    updated: t.exposeInt('updated'),
    accounts: t.field({ type: [UpsertedAccountRef], complexity: 0, resolve: (payload) => payload.accounts }),
  }),
});

const UsageDayInput = builder.inputType('UsageDayInput', {
  description: 'One account-day of product usage. Give accountId or accountExternalId.',
  fields: (t) => ({
    accountId: t.id({ required: false }),
    accountExternalId: t.string({ required: false }),
    day: t.field({ type: 'Date', required: true }),
    activeUsers: t.int({ required: true }),
    seats: t.int({ required: true }),
    keyEvents: t.int({ required: false }),
    advancedEvents: t.int({ required: false, description: 'Uses of advanced features.' }),
  }),
});

const RecordUsagePayload = builder.objectRef<{ written: number }>('RecordUsagePayload').implement({
  fields: (t) => ({ written: t.exposeInt('written', { description: 'Account-days written (a repeated account-day counts once).' }) }),
});

const TouchInput = builder.inputType('TouchInput', {
  description: 'One contact with a customer (a CRM activity). Give accountId or accountExternalId.',
  fields: (t) => ({
    accountId: t.id({ required: false }),
    accountExternalId: t.string({ required: false }),
    kind: t.field({ type: TouchKindEnum, required: true }),
    occurredAt: t.field({ type: 'DateTime', required: true }),
    userEmail: t.string({ required: false, description: 'Who was in contact; matched to a Lifeline person by email.' }),
    externalId: t.string({ required: false, description: 'The CRM activity id: sending it again updates the touch.' }),
  }),
});

const RecordTouchesPayload = builder.objectRef<{ written: number }>('RecordTouchesPayload').implement({
  fields: (t) => ({ written: t.exposeInt('written', { description: 'Touches written (a repeated externalId counts once).' }) }),
});

const TicketRef = builder.objectRef<Ticket>('Ticket').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    externalId: t.exposeString('externalId', { nullable: true }),
    accountId: t.exposeID('accountId'),
    severity: t.expose('severity', { type: TicketSeverityEnum }),
    subject: t.exposeString('subject'),
    openedAt: t.expose('openedAt', { type: 'DateTime' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const SurveyResponseRef = builder.objectRef<SurveyResponse>('SurveyResponse').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    accountId: t.exposeID('accountId'),
    kind: t.expose('kind', { type: SurveyKindEnum }),
    score: t.exposeInt('score'),
    comment: t.exposeString('comment', { nullable: true }),
    respondedAt: t.expose('respondedAt', { type: 'DateTime' }),
  }),
});

export const RevenueChangeRef = builder.objectRef<RevenueChange>('RevenueChange').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    accountId: t.exposeID('accountId'),
    kind: t.expose('kind', { type: RevenueChangeKindEnum }),
    mrrDeltaCents: t.exposeFloat('mrrDeltaCents', { description: 'Signed whole cents.' }),
    effectiveDate: t.expose('effectiveDate', { type: 'Date' }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: 'The billing system id (or `opportunity:<id>` for a closed-won deal, `renewal:<id>` for a renewal outcome).',
    }),
    churnReasonKey: t.exposeString('churnReasonKey', { nullable: true, description: 'Why the revenue was lost (churn and contraction).' }),
  }),
});

const FirstValueRef = builder.objectRef<{ accountId: string; reachedAt: Date }>('FirstValue').implement({
  fields: (t) => ({ accountId: t.exposeID('accountId'), reachedAt: t.expose('reachedAt', { type: 'DateTime' }) }),
});

builder.mutationFields((t) => ({
  upsertAccounts: t.field({
    type: UpsertAccountsPayload,
    description: `Creates or updates accounts by CRM id, set-based (up to ${MAX_UPSERT_ACCOUNTS} per call). Idempotent.`,
    args: { accounts: t.arg({ type: [UpsertAccountInput], required: true }) },
    resolve: (_root, args, ctx) =>
      upsertAccounts(ctx.db, {
        actor: ctx.actor,
        renewalWindowDays: ctx.renewalWindowDays,
        accounts: args.accounts.map((row) => ({
          externalId: row.externalId,
          name: row.name,
          domain: row.domain ?? null,
          segment: row.segment,
          arrCents: row.arrCents,
          csmId: optionalString(row.csmId),
          aeId: optionalString(row.aeId),
          contractStart: row.contractStart ?? null,
          contractEnd: row.contractEnd ?? null,
          stageKey: row.stageKey ?? null,
        })),
      }),
  }),
  recordUsage: t.field({
    type: RecordUsagePayload,
    description: `Daily product usage, set-based (up to ${MAX_USAGE_ROWS} account-days per call). Idempotent on account and day: re-sending a day replaces it. All or nothing: an unknown account rejects the whole call.`,
    args: { rows: t.arg({ type: [UsageDayInput], required: true }) },
    resolve: (_root, args, ctx) =>
      recordUsage(ctx.db, {
        actor: ctx.actor,
        rows: args.rows.map((row) => ({
          ...accountRef(row),
          day: row.day,
          activeUsers: row.activeUsers,
          seats: row.seats,
          keyEvents: row.keyEvents ?? 0,
          advancedEvents: row.advancedEvents ?? 0,
        })),
      }),
  }),
  recordTouches: t.field({
    type: RecordTouchesPayload,
    description: `Contacts between the team and customers (calls, meetings, emails, Slack), up to ${MAX_TOUCH_ROWS} per call: health's "days since last CSM touch". Idempotent on externalId. All or nothing: an unknown account rejects the whole call. The accounts' health is recomputed within seconds.`,
    args: { rows: t.arg({ type: [TouchInput], required: true }) },
    resolve: async (_root, args, ctx) => {
      const result = await recordTouches(ctx.db, {
        actor: ctx.actor,
        rows: args.rows.map((row) => ({
          ...accountRef(row),
          kind: row.kind,
          occurredAt: row.occurredAt,
          userEmail: row.userEmail ?? null,
          externalId: row.externalId ?? null,
        })),
      });
      ctx.signalsArrived(result.accountIds);
      return { written: result.written };
    },
  }),
  recordTicket: t.field({
    type: TicketRef,
    description: 'A support ticket opened. Idempotent on externalId (the help desk id) when given.',
    args: {
      accountId: t.arg.id({ required: false }),
      accountExternalId: t.arg.string({ required: false }),
      externalId: t.arg.string({ required: false }),
      severity: t.arg({ type: TicketSeverityEnum, required: true }),
      subject: t.arg.string({ required: true }),
      openedAt: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const recorded = await recordTicket(ctx.db, {
        actor: ctx.actor,
        ...accountRef(args),
        externalId: args.externalId ?? null,
        severity: args.severity,
        subject: args.subject,
        openedAt: args.openedAt,
      });
      ctx.signalsArrived([recorded.accountId]);
      return recorded;
    },
  }),
  resolveTicket: t.field({
    type: TicketRef,
    description: 'Marks a ticket resolved, by Lifeline ticketId or help desk externalId.',
    args: { ticketId: t.arg.id({ required: false }), externalId: t.arg.string({ required: false }), resolvedAt: t.arg({ type: 'DateTime', required: true }) },
    resolve: async (_root, args, ctx) => {
      const recorded = await resolveTicket(ctx.db, { actor: ctx.actor, ticketId: optionalString(args.ticketId), externalId: args.externalId ?? null, resolvedAt: args.resolvedAt });
      ctx.signalsArrived([recorded.accountId]);
      return recorded;
    },
  }),
  recordNps: t.field({
    type: SurveyResponseRef,
    description: 'An NPS (0-10) or CSAT (1-5) response. Idempotent on externalId when given.',
    args: {
      accountId: t.arg.id({ required: false }),
      accountExternalId: t.arg.string({ required: false }),
      externalId: t.arg.string({ required: false }),
      kind: t.arg({ type: SurveyKindEnum, defaultValue: 'nps' }),
      score: t.arg.int({ required: true }),
      respondentEmail: t.arg.string({ required: false }),
      respondentRole: t.arg.string({ required: false }),
      comment: t.arg.string({ required: false }),
      respondedAt: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const recorded = await recordNps(ctx.db, {
        actor: ctx.actor,
        ...accountRef(args),
        externalId: args.externalId ?? null,
        kind: args.kind ?? 'nps',
        score: args.score,
        respondentEmail: args.respondentEmail ?? null,
        respondentRole: args.respondentRole ?? null,
        comment: args.comment ?? null,
        respondedAt: args.respondedAt,
      });
      ctx.signalsArrived([recorded.accountId]);
      return recorded;
    },
  }),
  recordRevenueChange: t.field({
    type: RevenueChangeRef,
    description:
      "An MRR movement (new, expansion, contraction, churn, reactivation) with its signed delta and effective date. Idempotent on externalId when given (sending it again with other values corrects it). The account's MRR at a date is the sum of its ledger up to that date, and the kind must fit it: new and reactivation start from no MRR (new the first time, reactivation after a churn), expansion and contraction change existing MRR without reaching zero, churn takes it to exactly zero. A movement that would make the account's ledger impossible, at its date or at any later entry, is refused with BAD_USER_INPUT naming the kind to use.",
    args: {
      accountId: t.arg.id({ required: false }),
      accountExternalId: t.arg.string({ required: false }),
      externalId: t.arg.string({ required: false }),
      kind: t.arg({ type: RevenueChangeKindEnum, required: true }),
      mrrDeltaCents: t.arg.float({ required: true }),
      effectiveDate: t.arg({ type: 'Date', required: true }),
      note: t.arg.string({ required: false }),
      churnReasonKey: t.arg.string({
        required: false,
        description: 'Why the revenue was lost, for a churn or a contraction only: the key of a churn reason (the `churnReasons` query) that applies to that kind; `note` holds any text.',
      }),
    },
    resolve: (_root, args, ctx) =>
      recordRevenueChange(ctx.db, {
        actor: ctx.actor,
        ...accountRef(args),
        externalId: args.externalId ?? null,
        kind: args.kind,
        mrrDeltaCents: args.mrrDeltaCents,
        effectiveDate: args.effectiveDate,
        note: args.note ?? null,
        churnReasonKey: args.churnReasonKey ?? null,
      }),
  }),
  recordFirstValue: t.field({
    type: FirstValueRef,
    description: 'The customer reached first value. Set once; a repeat keeps the first time.',
    args: {
      accountId: t.arg.id({ required: false }),
      accountExternalId: t.arg.string({ required: false }),
      reachedAt: t.arg({ type: 'DateTime', required: true }),
      description: t.arg.string({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const recorded = await recordFirstValue(ctx.db, {
        actor: ctx.actor,
        ...accountRef(args),
        reachedAt: args.reachedAt,
        description: args.description ?? null,
      });
      ctx.signalsArrived([recorded.accountId]);
      return recorded;
    },
  }),
}));
