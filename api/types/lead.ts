import { type Lead, leadStatuses, leadUrgencies } from '../../db/schema.ts';
import {
  type LeadMetrics,
  MAX_LEAD_PAGE,
  acceptLead,
  declineLead,
  leadCursor,
  leadMetrics,
  listLeads,
  markLeadLost,
  qualifyLead,
} from '../../domain/leads.ts';
import { builder } from '../builder.ts';
import { AccountRef, PageInfoRef } from './account.ts';
import { UserRef } from './user.ts';

const LeadStatusEnum = builder.enumType('LeadStatus', {
  description: 'qualified (by the CSM) → accepted or declined (by the AE) → won (a closed-won deal of the account) or lost (marked by the AE).',
  values: leadStatuses,
});
const LeadUrgencyEnum = builder.enumType('LeadUrgency', { values: leadUrgencies });

export const LeadRef = builder.objectRef<Lead>('Lead').implement({
  description: 'An expansion lead qualified by customer success and handed to the account executive.',
  fields: (t) => ({
    id: t.exposeID('id'),
    account: t.field({
      type: AccountRef,
      resolve: async (lead, _args, ctx) => {
        const account = await ctx.loaders.account.load(lead.accountId);
        if (!account) throw new Error(`Account ${lead.accountId} of lead ${lead.id} is missing`);
        return account;
      },
    }),
    firingId: t.string({
      nullable: true,
      description: 'The expansion signal (rule firing) it was qualified from; null when qualified by hand.',
      resolve: (lead) => (lead.firingId === null ? null : String(lead.firingId)),
    }),
    signalAt: t.expose('signalAt', { type: 'DateTime', description: 'When the signal fired, or when the lead was qualified by hand.' }),
    wants: t.exposeString('wants', { description: 'What the customer wants, in the CSM’s words.' }),
    estimatedMrrCents: t.exposeFloat('estimatedMrrCents'),
    urgency: t.expose('urgency', { type: LeadUrgencyEnum }),
    status: t.expose('status', { type: LeadStatusEnum }),
    createdByLabel: t.exposeString('createdByLabel', { description: 'Who qualified it.' }),
    ae: t.field({ type: UserRef, nullable: true, resolve: (lead, _args, ctx) => (lead.aeId ? ctx.loaders.user.load(lead.aeId) : null) }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    declinedAt: t.expose('declinedAt', { type: 'DateTime', nullable: true }),
    declineReason: t.exposeString('declineReason', { nullable: true }),
    wonAt: t.expose('wonAt', { type: 'DateTime', nullable: true }),
    wonOpportunityId: t.exposeString('wonOpportunityId', { nullable: true, description: 'The CRM opportunity of the closed-won deal that closed it.' }),
    wonMrrCents: t.exposeFloat('wonMrrCents', { nullable: true, description: 'The MRR that deal added (its ledger movement; 0 when it added none).' }),
    lostAt: t.expose('lostAt', { type: 'DateTime', nullable: true }),
    lostReason: t.exposeString('lostReason', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    version: t.exposeInt('version'),
  }),
});

const LeadEdgeRef = builder.objectRef<Lead>('LeadEdge').implement({
  fields: (t) => ({
    node: t.field({ type: LeadRef, resolve: (lead) => lead }),
    cursor: t.string({ resolve: (lead) => leadCursor(lead) }),
  }),
});

const LeadConnectionRef = builder.objectRef<{ items: Lead[]; hasNextPage: boolean }>('LeadConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [LeadEdgeRef], complexity: { field: 0, multiplier: 1 }, resolve: (connection) => connection.items }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (connection) => {
        const last = connection.items.at(-1);
        return { hasNextPage: connection.hasNextPage, endCursor: last ? leadCursor(last) : null };
      },
    }),
  }),
});

const LeadMetricsRef = builder.objectRef<LeadMetrics>('LeadMetrics').implement({
  description: 'Expansion leads sourced by customer success over a period (UTC days, both ends included).',
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    created: t.exposeInt('created', { description: 'Leads qualified in the period.' }),
    accepted: t.exposeInt('accepted', { description: 'Leads accepted by their AE in the period.' }),
    won: t.exposeInt('won', { description: 'Leads closed won in the period.' }),
    expansionMrrCents: t.exposeFloat('expansionMrrCents', { description: 'Expansion MRR sourced by CS: Σ the MRR the deals closing those won leads added.' }),
    medianDaysSignalToWon: t.exposeFloat('medianDaysSignalToWon', {
      nullable: true,
      description: 'Median days from the signal (or the hand qualification) to the closed-won, over the leads won in the period; null when none was.',
    }),
  }),
});

builder.queryFields((t) => ({
  leads: t.field({
    type: LeadConnectionRef,
    description: `Expansion leads, newest first, a page at a time (at most ${MAX_LEAD_PAGE}); Relay-style cursors. Account executives see the leads handed to them and those of the accounts they sold.`,
    args: {
      status: t.arg({ type: LeadStatusEnum, required: false }),
      accountId: t.arg.id({ required: false }),
      first: t.arg.int({ defaultValue: 25 }),
      after: t.arg.string({ required: false }),
    },
    complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 25, 1), MAX_LEAD_PAGE) }),
    resolve: (_root, args, ctx) =>
      listLeads(ctx.db, {
        reader: ctx.actor,
        status: args.status ?? null,
        accountId: args.accountId ? String(args.accountId) : null,
        first: args.first ?? 25,
        after: args.after ?? null,
      }),
  }),
  leadMetrics: t.field({
    type: LeadMetricsRef,
    description: 'Leads created, accepted and won, expansion MRR sourced by CS and median days from signal to closed-won (managers and admins).',
    args: { from: t.arg({ type: 'Date', required: true }), to: t.arg({ type: 'Date', required: true }) },
    complexity: 20,
    resolve: (_root, args, ctx) => leadMetrics(ctx.db, { from: args.from, to: args.to, reader: ctx.actor }),
  }),
}));

const QualifyLeadInput = builder.inputType('QualifyLeadInput', {
  fields: (t) => ({
    accountId: t.id({ required: false, description: 'The account, for a lead qualified by hand.' }),
    firingId: t.id({ required: false, description: 'The expansion signal (rule firing id) it comes from: one lead per signal.' }),
    wants: t.string({ required: true }),
    estimatedMrrCents: t.float({ required: true, description: 'Whole cents a month.' }),
    urgency: t.field({ type: LeadUrgencyEnum, required: true }),
  }),
});

const QualifyLeadPayload = builder.objectRef<{ lead: Lead; created: boolean }>('QualifyLeadPayload').implement({
  fields: (t) => ({
    lead: t.field({ type: LeadRef, resolve: (payload) => payload.lead }),
    created: t.exposeBoolean('created', { description: 'False when the signal already had its lead: that lead is returned and nothing changed.' }),
  }),
});

function firingIdOf(raw: string | number | null | undefined): number | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const id = Number(raw);
  return Number.isSafeInteger(id) ? id : Number.NaN;
}

builder.mutationFields((t) => ({
  qualifyLead: t.field({
    type: QualifyLeadPayload,
    description:
      "Qualifies an expansion lead and hands it to the account's AE (the account's CSM, their manager, admins), from an expansion signal (firingId) or by hand (accountId). Idempotent per signal.",
    args: { input: t.arg({ type: QualifyLeadInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      qualifyLead(ctx.db, {
        accountId: input.accountId ? String(input.accountId) : null,
        firingId: firingIdOf(input.firingId),
        wants: input.wants,
        estimatedMrrCents: input.estimatedMrrCents,
        urgency: input.urgency,
        actor: ctx.actor,
      }),
  }),
  acceptLead: t.field({
    type: LeadRef,
    description: "The account's AE (or a manager, an admin) accepts a qualified lead.",
    args: { leadId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => acceptLead(ctx.db, { leadId: String(args.leadId), actor: ctx.actor }),
  }),
  declineLead: t.field({
    type: LeadRef,
    description: "The account's AE (or a manager, an admin) declines a qualified lead, saying why; the CSM hears back.",
    args: { leadId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => declineLead(ctx.db, { leadId: String(args.leadId), reason: args.reason, actor: ctx.actor }),
  }),
  markLeadLost: t.field({
    type: LeadRef,
    description: "The account's AE (or a manager, an admin) marks an accepted lead lost, saying why.",
    args: { leadId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => markLeadLost(ctx.db, { leadId: String(args.leadId), reason: args.reason, actor: ctx.actor }),
  }),
}));
