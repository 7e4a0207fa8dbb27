import type { Account, LifecycleStage } from '../../db/schema.ts';
import type { ApiContext } from '../context.ts';
import {
  type AccountFilter,
  type AccountOrder,
  type AccountPageRow,
  type ListedAccount,
  type ListingSelection,
  MAX_PAGE_SIZE,
  accountCursor,
  countAccounts,
  fullListingSelection,
  listAccounts,
} from '../../domain/accounts/listing.ts';
import { type BreakdownCell, getAccountBreakdown } from '../../domain/accounts/breakdown.ts';
import { getAccount } from '../../domain/accounts/reads.ts';
import { listTransitions, moveAccountStage } from '../../domain/lifecycle/moves.ts';
import { builder } from '../builder.ts';
import { AccountOrderEnum, HealthStatusEnum, SegmentEnum } from './enums.ts';
import { StageRef } from './stage.ts';
import { TransitionRef } from './transition.ts';
import { UserRef } from './user.ts';
import { accountFieldColumns, healthFieldColumns, renewalFieldColumns, stageFieldColumns, userFieldColumns } from '../field-columns.ts';
import { DAY_MS } from '../../domain/dates.ts';
import { type Selected, selectedAt, selectedFields } from '../selection.ts';
import { type FieldColumns, type MaybePromise, columnOf, required, selectedColumns, wholeRow } from '../partial-rows.ts';

/** A column of an account a listing may have read in part (ListedAccount), else of the whole account. */
function accountColumn<Column extends keyof Account>(ctx: ApiContext, account: ListedAccount, column: Column): MaybePromise<Account[Column]> {
  return columnOf(account, column, () => required(ctx.loaders.account.load(account.id), `Account ${account.id}`));
}

function then<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

async function loadStage(ctx: ApiContext, stageKey: string): Promise<LifecycleStage> {
  return required(ctx.loaders.stage.load(stageKey), `Stage ${stageKey}`);
}

export const AccountRef = builder.objectRef<ListedAccount>('Account').implement({
  description: 'A customer account and where it stands in the lifecycle.',
  fields: (t) => ({
    id: t.exposeID('id'),
    externalId: t.string({ nullable: true, description: 'The CRM id of the account.', resolve: (account, _args, ctx) => accountColumn(ctx, account, 'externalId') }),
    name: t.string({ resolve: (account, _args, ctx) => accountColumn(ctx, account, 'name') }),
    domain: t.string({ nullable: true, resolve: (account, _args, ctx) => accountColumn(ctx, account, 'domain') }),
    segment: t.field({ type: SegmentEnum, resolve: (account, _args, ctx) => accountColumn(ctx, account, 'segment') }),
    arrCents: t.float({
      description: 'Annual recurring revenue in cents: an integer, typed Float because GraphQL Int is 32-bit.',
      resolve: (account, _args, ctx) => accountColumn(ctx, account, 'arrCents'),
    }),
    stage: t.field({
      type: StageRef,
      resolve: (account, _args, ctx) => ctx.loaders.listed.get(account)?.stage ?? then(accountColumn(ctx, account, 'stageKey'), (key) => loadStage(ctx, key)),
    }),
    stageEnteredAt: t.field({ type: 'DateTime', resolve: (account, _args, ctx) => accountColumn(ctx, account, 'stageEnteredAt') }),
    daysInStage: t.int({
      description: 'Whole days since the account entered its current stage (time in stage).',
      resolve: (account, _args, ctx) => then(accountColumn(ctx, account, 'stageEnteredAt'), (enteredAt) => Math.floor((Date.now() - enteredAt.getTime()) / DAY_MS)),
    }),
    csm: t.field({
      type: UserRef,
      nullable: true,
      resolve: (account, _args, ctx) => {
        // Null from a listing that joined the owners: the account has none.
        const listed = ctx.loaders.listed.get(account)?.csm;
        return listed !== undefined ? listed : then(accountColumn(ctx, account, 'csmId'), (id) => (id ? ctx.loaders.user.load(id) : null));
      },
    }),
    ae: t.field({
      type: UserRef,
      nullable: true,
      description: 'The account executive who sold the deal.',
      resolve: (account, _args, ctx) => {
        const listed = ctx.loaders.listed.get(account)?.ae;
        return listed !== undefined ? listed : then(accountColumn(ctx, account, 'aeId'), (id) => (id ? ctx.loaders.user.load(id) : null));
      },
    }),
    contractStart: t.field({ type: 'Date', nullable: true, resolve: (account, _args, ctx) => accountColumn(ctx, account, 'contractStart') }),
    contractEnd: t.field({ type: 'Date', nullable: true, resolve: (account, _args, ctx) => accountColumn(ctx, account, 'contractEnd') }),
    renewalDate: t.field({
      type: 'Date',
      nullable: true,
      description: 'The date the contract renews or ends (its end date).',
      resolve: (account, _args, ctx) => accountColumn(ctx, account, 'contractEnd'),
    }),
    version: t.int({
      description: 'Changes with every stage move; pass it as `expectedVersion` so a stale view cannot overwrite a newer move.',
      resolve: (account, _args, ctx) => accountColumn(ctx, account, 'version'),
    }),
    transitions: t.field({
      type: [TransitionRef],
      description: 'Stage history, newest first.',
      args: { first: t.arg.int({ defaultValue: 20 }) },
      complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 20, 0), 100) }),
      resolve: (account, args, ctx) =>
        listTransitions(ctx.db, { accountId: account.id, reader: ctx.actor, limit: Math.min(Math.max(args.first ?? 20, 0), 100) }),
    }),
  }),
});

export const PageInfoRef = builder
  .objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo')
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` to get the next page.' }),
    }),
  });

/** A listed account; its cursor is encoded only when asked for. */
type AccountEdge = { node: ListedAccount; order: AccountOrder; row: AccountPageRow };

const AccountEdgeRef = builder.objectRef<AccountEdge>('AccountEdge').implement({
  fields: (t) => ({
    node: t.field({ type: AccountRef, resolve: (edge) => edge.node }),
    cursor: t.string({ resolve: (edge) => accountCursor(edge.order, edge.row) }),
  }),
});

interface AccountConnection {
  edges: AccountEdge[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  filter: AccountFilter;
  /** Counted with the page when the query asked for both; otherwise totalCount counts on its own. */
  totalCount: number | undefined;
}

const AccountConnectionRef = builder.objectRef<AccountConnection>('AccountConnection').implement({
  fields: (t) => ({
    // The page size is already counted by `accounts(first:)`; edges must not multiply it again.
    edges: t.field({ type: [AccountEdgeRef], complexity: { field: 0, multiplier: 1 }, resolve: (connection) => connection.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (connection) => connection.pageInfo }),
    totalCount: t.int({
      description: 'Accounts matching the filter, across all pages.',
      resolve: (connection, _args, ctx) => connection.totalCount ?? countAccounts(ctx.db, { filter: connection.filter, reader: ctx.actor }),
    }),
  }),
});

const AccountFilterInput = builder.inputType('AccountFilter', {
  description: 'All given conditions must hold.',
  fields: (t) => ({
    stage: t.string({ required: false, description: 'A stage key, e.g. `onboarding`.' }),
    ownerId: t.id({ required: false, description: 'Accounts where this user is the CSM or the account executive.' }),
    segment: t.field({ type: SegmentEnum, required: false }),
    healthStatus: t.field({ type: HealthStatusEnum, required: false, description: 'Accounts whose latest health has this status.' }),
    renewalWithinDays: t.int({ required: false, description: 'Accounts whose contract ends between today and this many days from now.' }),
    search: t.string({ required: false, description: 'Part of the account name, case-insensitive.' }),
  }),
});

/** What a listing reads of each account and beside it: the columns of what the query selects under `edges { node }`. */
function listingSelection(connection: Selected): ListingSelection {
  const node = selectedAt(connection, 'edges', 'node');
  const joined = <Row>(field: string, columns: FieldColumns<Row>): false | (keyof Row)[] => {
    const under = node.get(field);
    return under ? selectedColumns(under, columns) : false;
  };
  return {
    account: selectedColumns(node, accountFieldColumns),
    stage: joined('stage', stageFieldColumns),
    csm: joined('csm', userFieldColumns),
    ae: joined('ae', userFieldColumns),
    renewal: joined('renewal', renewalFieldColumns),
    health: joined('health', healthFieldColumns),
  };
}


builder.queryFields((t) => ({
  accounts: t.field({
    type: AccountConnectionRef,
    description: `Accounts, a page at a time (at most ${MAX_PAGE_SIZE} per page), filtered and ordered; Relay-style cursors. Account executives see only the accounts they sold.`,
    args: {
      filter: t.arg({ type: AccountFilterInput, required: false }),
      first: t.arg.int({ defaultValue: 25 }),
      after: t.arg.string({ required: false }),
      orderBy: t.arg({ type: AccountOrderEnum, defaultValue: 'name' }),
    },
    complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 25, 1), MAX_PAGE_SIZE) }),
    resolve: async (_root, args, ctx, info) => {
      const filter: AccountFilter = {
        stage: args.filter?.stage ?? null,
        ownerId: args.filter?.ownerId ? String(args.filter.ownerId) : null,
        segment: args.filter?.segment ?? null,
        healthStatus: args.filter?.healthStatus ?? null,
        renewalWithinDays: args.filter?.renewalWithinDays ?? null,
        search: args.filter?.search ?? null,
      };
      const selected = selectedFields(info);
      const page = await listAccounts(ctx.db, {
        filter,
        reader: ctx.actor,
        first: args.first ?? 25,
        after: args.after ?? null,
        orderBy: args.orderBy ?? 'name',
        select: listingSelection(selected),
        // The count rides in the page's statement when the query shows the page too; asked alone, it is counted
        // on its own (countAccounts), from the smallest table, and the page's statement stays as it is.
        count: selected.has('totalCount') && (selected.has('edges') || selected.has('pageInfo')),
      });
      const last = page.rows.at(-1);
      for (const row of page.rows) {
        ctx.loaders.listed.set(row.account, row);
        // Only a whole account answers later loads of it in this request.
        if (wholeRow(row.account, fullListingSelection.account)) ctx.loaders.account.prime(row.account.id, row.account);
        // Read with the page when its health reasons are shown: no second statement for the page's contacts.
        if (row.relationshipReasons) {
          ctx.loaders.relationshipReasons.prime(row.account.id, row.relationshipReasons);
          if (row.health) ctx.loaders.listedRelationshipReasons.set(row.health, row.relationshipReasons);
        }
      }
      return {
        edges: page.rows.map((row) => ({ node: row.account, order: page.order, row })),
        // The cursor is encoded only when the query asks for it, as each edge's is.
        pageInfo: {
          hasNextPage: page.hasNextPage,
          get endCursor() {
            return last ? accountCursor(page.order, last) : null;
          },
        },
        filter,
        totalCount: page.totalCount,
      };
    },
  }),
  account: t.field({
    type: AccountRef,
    nullable: true,
    description: 'One account by id; null when there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await getAccount(ctx.db, { id: String(args.id), reader: ctx.actor })) ?? null,
  }),
}));

const MoveAccountStageInput = builder.inputType('MoveAccountStageInput', {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    toStage: t.string({ required: true, description: 'The key of the stage to move to.' }),
    expectedVersion: t.int({ required: true, description: 'The `version` of the account you are looking at.' }),
    reason: t.string({
      required: false,
      description:
        'Why: recorded in the history and posted in the account\'s Slack thread. Required when moving backward or to a terminal stage other than Churned (BAD_USER_INPUT on `reason` without it); optional text beside the churn reason for a move to Churned.',
    }),
    churnReasonKey: t.string({
      required: false,
      description:
        'Why the customer left, as the key of a churn reason (the `churnReasons` query lists them). Required for a move to Churned (BAD_USER_INPUT on `churnReasonKey` without it, naming the keys to use); refused on any other move.',
    }),
  }),
});

const MoveAccountStagePayload = builder
  .objectRef<{ account: Account; transition: import('../../db/schema.ts').StageTransition }>('MoveAccountStagePayload')
  .implement({
    fields: (t) => ({
      account: t.field({ type: AccountRef, resolve: (payload) => payload.account }),
      transition: t.field({ type: TransitionRef, resolve: (payload) => payload.transition }),
    }),
  });

builder.mutationField('moveAccountStage', (t) =>
  t.field({
    type: MoveAccountStagePayload,
    description:
      'Moves an account to another stage and records the transition, with an audit note in Slack. Admins and managers may make any move; ' +
      "an account's CSM one step forward, back to any earlier stage, or to Churned; its account executive only from Pre-onboarding one step forward. " +
      'Moving backward needs a `reason`; moving to Churned needs a `churnReasonKey`. Fails with FORBIDDEN (naming the moves you may make), and with STALE_VERSION when the account moved since you read it.',
    args: { input: t.arg({ type: MoveAccountStageInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      moveAccountStage(ctx.db, {
        accountId: String(input.accountId),
        toStage: input.toStage,
        expectedVersion: input.expectedVersion,
        reason: input.reason ?? null,
        churnReasonKey: input.churnReasonKey ?? null,
        actor: ctx.actor,
        source: 'api',
      }),
  }),
);

const BreakdownCellRef = builder.objectRef<BreakdownCell>('AccountBreakdownCell').implement({
  description: 'The accounts of one stage with one health status.',
  fields: (t) => ({
    stage: t.field({ type: StageRef, resolve: (cell) => cell.stage }),
    status: t.expose('status', { type: HealthStatusEnum, nullable: true, description: 'Null: health not computed yet.' }),
    accounts: t.exposeInt('accounts'),
    arrCents: t.exposeFloat('arrCents', { description: 'Σ arrCents of those accounts.' }),
  }),
});

builder.queryField('accountBreakdown', (t) =>
  t.field({
    type: [BreakdownCellRef],
    description:
      'How many accounts, and how much ARR, sit in each stage with each health status (stages in lifecycle order; only cells that hold accounts). `ownerId` narrows it to the accounts where that person is the CSM or the account executive. Account executives count only the accounts they sold.',
    args: { ownerId: t.arg.id({ required: false }) },
    complexity: { field: 10, multiplier: 1 },
    resolve: (_root, args, ctx) => getAccountBreakdown(ctx.db, { reader: ctx.actor, ownerId: args.ownerId ? String(args.ownerId) : null }),
  }),
);
