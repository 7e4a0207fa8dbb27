import type { Renewal } from '../../db/schema.ts';
import type { ListedRenewal } from '../../domain/accounts/listing.ts';
import type { SignalsSummary } from '../../domain/signals.ts';
import { listRenewals } from '../../domain/renewals/queries.ts';
import { daysBetween, isoDay, startOfDay } from '../../domain/dates.ts';
import { builder } from '../builder.ts';
import type { ApiContext } from '../context.ts';
import { type MaybePromise, columnOf, required } from '../partial-rows.ts';
import { AccountRef } from './account.ts';
import { RenewalStatusEnum } from './enums.ts';

/** A column of a renewal a listing may have read in part (an account's latest), else of the whole renewal. */
function renewalColumn<Column extends keyof Renewal>(ctx: ApiContext, renewal: ListedRenewal, column: Column): MaybePromise<Renewal[Column]> {
  return columnOf(renewal, column, () => required(ctx.loaders.renewal.load(renewal.id), `Renewal ${renewal.id}`));
}

export const RenewalRef = builder.objectRef<ListedRenewal>('Renewal').implement({
  description: 'A contract end and its renewal window.',
  fields: (t) => ({
    id: t.exposeID('id'),
    account: t.field({
      type: AccountRef,
      resolve: async (renewal, _args, ctx) => {
        const accountId = await renewalColumn(ctx, renewal, 'accountId');
        const account = await ctx.loaders.account.load(accountId);
        if (!account) throw new Error(`Account ${accountId} of renewal ${renewal.id} is missing`);
        return account;
      },
    }),
    contractEnd: t.field({ type: 'Date', resolve: (renewal, _args, ctx) => renewalColumn(ctx, renewal, 'contractEnd') }),
    windowOpensOn: t.field({
      type: 'Date',
      description: 'Contract end minus the renewal window (LIFELINE_RENEWAL_WINDOW_DAYS, 90 days by default).',
      resolve: (renewal, _args, ctx) => renewalColumn(ctx, renewal, 'windowOpensOn'),
    }),
    status: t.field({ type: RenewalStatusEnum, resolve: (renewal, _args, ctx) => renewalColumn(ctx, renewal, 'status') }),
    outcome: t.string({ nullable: true, resolve: (renewal, _args, ctx) => renewalColumn(ctx, renewal, 'outcome') }),
    daysUntilContractEnd: t.int({
      resolve: async (renewal, _args, ctx) => daysBetween(startOfDay(isoDay(new Date())), startOfDay(await renewalColumn(ctx, renewal, 'contractEnd'))),
    }),
  }),
});

const SignalsSummaryRef = builder.objectRef<SignalsSummary>('SignalsSummary').implement({
  description: 'What the customer signals say, in one place. CSM sentiment is shown beside the health score, never mixed into it.',
  fields: (t) => ({
    avgActiveUsers30d: t.exposeFloat('avgActiveUsers30d', { nullable: true, description: 'Average daily active users over the last 30 days.' }),
    seats: t.exposeInt('seats', { nullable: true, description: 'Most seats seen in the last 30 days.' }),
    keyEvents30d: t.exposeInt('keyEvents30d'),
    advancedEvents30d: t.exposeInt('advancedEvents30d', { description: 'Uses of advanced features over the last 30 days.' }),
    openTickets: t.exposeInt('openTickets'),
    urgentOpenTickets: t.exposeInt('urgentOpenTickets'),
    lastNpsScore: t.exposeInt('lastNpsScore', { nullable: true }),
    lastNpsAt: t.expose('lastNpsAt', { type: 'DateTime', nullable: true }),
    firstValueAt: t.expose('firstValueAt', { type: 'DateTime', nullable: true, description: 'When the customer first reached value.' }),
    lastTouchAt: t.expose('lastTouchAt', { type: 'DateTime', nullable: true, description: 'The latest call, meeting, email or Slack contact with the customer (recordTouches).' }),
    csmSentiment: t.exposeString('csmSentiment', { nullable: true, description: "The CSM's latest read: positive, neutral or negative." }),
  }),
});

builder.objectFields(AccountRef, (t) => ({
  renewal: t.field({
    type: RenewalRef,
    nullable: true,
    description: 'The renewal of the latest contract end.',
    resolve: (account, _args, ctx) => {
      const listed = ctx.loaders.listed.get(account)?.renewal;
      return listed !== undefined ? listed : ctx.loaders.renewalByAccount.load(account.id);
    },
  }),
  signals: t.field({
    type: SignalsSummaryRef,
    description: 'Usage, support, NPS and first value at a glance.',
    complexity: 5,
    resolve: async (account, _args, ctx) => {
      const summary = await ctx.loaders.signals.load(account.id);
      if (!summary) throw new Error(`Signals of account ${account.id} could not be summarised`);
      return summary;
    },
  }),
}));

builder.queryField('renewals', (t) =>
  t.field({
    type: [RenewalRef],
    description:
      'Renewals whose contract ends within the next `withinDays` days (default: the renewal window, LIFELINE_RENEWAL_WINDOW_DAYS, 90 unless configured), soonest first (at most 500). Account executives see their own.',
    args: { withinDays: t.arg.int({ required: false }) },
    complexity: { field: 5, multiplier: 20 },
    resolve: (_root, args, ctx) =>
      listRenewals(ctx.db, { withinDays: args.withinDays ?? ctx.renewalWindowDays, reader: ctx.actor }),
  }),
);
