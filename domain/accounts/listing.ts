// Listing accounts, as the reader may see them: the orders, the filters, the opaque cursors of keyset paging, the
// page with what a dashboard shows beside each account, and the count of a filtered listing.
// domain/accounts/ owns accounts: listing them, reading one or a few (reads.ts), creating one (create.ts), writing
// them from the CRM (crm-upsert.ts), and a person's book (book.ts).
import { type Query, type SQL, and, asc, count, desc, eq, getTableColumns, ilike, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { accountRelationParts, decodeParts, inlineLimit, partFields, rowPart, selectAccountsWithRelations, statementCache } from '../../db/account-rows.ts';
import type { Db } from '../../db/client.ts';
import {
  type Account,
  type HealthSummary,
  type HealthStatus,
  type Renewal,
  renewals,
  accountHealth,
  type LifecycleStage,
  type Segment,
  type User,
  accounts,
} from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { readableOwnerId } from '../access.ts';
import { InvalidInputError } from '../errors.ts';
import { MAX_RENEWAL_WINDOW_DAYS } from '../renewals/window.ts';
import { escapeLike, isUuid, requireStorableText } from '../validation.ts';
import { isoDay } from '../dates.ts';

export const accountOrders = ['name', 'health', 'health_drop', 'renewal_date', 'arr', 'time_in_stage'] as const;
export type AccountOrder = (typeof accountOrders)[number];

export interface AccountFilter {
  stage?: string | null;
  /** Accounts where this user is the CSM or the AE. */
  ownerId?: string | null;
  segment?: Segment | null;
  healthStatus?: HealthStatus | null;
  /** Accounts whose contract ends between today and this many days from today. */
  renewalWithinDays?: number | null;
  /** Part of the account name, case-insensitive. */
  search?: string | null;
}

export interface ListAccountsParams {
  filter?: AccountFilter;
  /** Who is listing: an account executive lists only the accounts they sold. */
  reader: Actor;
  first: number;
  after?: string | null;
  orderBy?: AccountOrder;
  /** "Today" for renewal windows; now by default. */
  now?: Date;
}

/** An account of a listing with what the listing joined beside it: its stage, latest health, owners and renewal. */
export interface AccountPageRow {
  account: Account;
  stage: LifecycleStage;
  health: HealthSummary | null;
  csm: User | null;
  ae: User | null;
  /** The renewal of the latest contract end. */
  renewal: Renewal | null;
  /** The account's key in the listing's order; accountCursor() turns it into a cursor when one is asked for. */
  sortKey: string | number;
}

export interface AccountPage {
  order: AccountOrder;
  rows: AccountPageRow[];
  hasNextPage: boolean;
}

/** Where the page after this row starts: pass it as `after`. */
export function accountCursor(order: AccountOrder, row: AccountPageRow): string {
  return encodeCursor(order, row.sortKey, row.account.id);
}

export const MAX_PAGE_SIZE = 100;

/**
 * Each ordering is one ascending sort key plus the id as a tie-breaker, so keyset paging works the same for all.
 * Descending orders negate a number; accounts without the value (no health yet, no contract end) come last.
 */
const sortKeys: Record<AccountOrder, SQL> = {
  name: sql`${accounts.name}`,
  health: sql`coalesce(${accountHealth.score}, 1000)::float8`,
  // Biggest drop over the last week first; no week-old score means no known drop.
  health_drop: sql`(-coalesce(${accountHealth.scoreWeekAgo} - ${accountHealth.score}, -1000))::float8`,
  renewal_date: sql`coalesce(${accounts.contractEnd} - date '2000-01-01', 1000000)::float8`,
  arr: sql`(-${accounts.arrCents})::float8`,
  // Longest in its stage first; milliseconds, so the key survives the JSON round trip of a cursor exactly.
  time_in_stage: sql`floor(extract(epoch from ${accounts.stageEnteredAt}) * 1000)::float8`,
};

// Cursors are opaque to clients: base64url of [ordering, sort key, id], so paging is stable under inserts.
function encodeCursor(order: AccountOrder, key: string | number, id: string): string {
  return Buffer.from(JSON.stringify([order, key, id])).toString('base64url');
}

function decodeCursor(cursor: string, order: AccountOrder): { key: string | number; id: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 3 &&
    typeof decoded[2] === 'string' &&
    isUuid(decoded[2]) &&
    (order === 'name' ? typeof decoded[1] === 'string' : typeof decoded[1] === 'number')
  ) {
    if (decoded[0] !== order) {
      throw new InvalidInputError(
        `The \`after\` cursor belongs to a listing ordered by ${String(decoded[0])}, not ${order}. Start again without \`after\` when you change the order.`,
        'after',
      );
    }
    return { key: decoded[1], id: decoded[2] };
  }
  throw new InvalidInputError('The `after` cursor is not one this API issued. Pass the `endCursor` of a previous page.', 'after');
}

/** The values a listing's conditions take, by placeholder name. Which names are present is the statement's shape. */
type ConditionValues = Record<string, string | number>;

/**
 * The filter as SQL conditions over placeholders, and the values to fill them with: a listing's statement text
 * depends only on which filters are set, so it is built once per shape (see pageStatements).
 */
function filterConditions(filter: AccountFilter | undefined, reader: Actor, now: Date): { conditions: SQL[]; values: ConditionValues } {
  // SECURITY: visibility comes from the reader, never from the filter a client sends.
  const readableAeId = readableOwnerId(reader);
  const conditions: SQL[] = [];
  const values: ConditionValues = {};
  const where = (condition: SQL | undefined, given: ConditionValues) => {
    if (condition) conditions.push(condition);
    Object.assign(values, given);
  };
  const param = (name: string) => sql.placeholder(name);
  if (filter?.stage) where(eq(accounts.stageKey, param('stage')), { stage: filter.stage });
  if (filter?.segment) where(eq(accounts.segment, param('segment')), { segment: filter.segment });
  if (filter?.ownerId) {
    if (!isUuid(filter.ownerId)) throw new InvalidInputError('filter.ownerId must be a user id from the `users` query.', 'filter.ownerId');
    where(or(eq(accounts.csmId, param('ownerId')), eq(accounts.aeId, param('ownerId'))), { ownerId: filter.ownerId });
  }
  if (readableAeId) where(eq(accounts.aeId, param('readableAeId')), { readableAeId });
  if (filter?.healthStatus) where(eq(accountHealth.status, param('healthStatus')), { healthStatus: filter.healthStatus });
  if (filter?.renewalWithinDays !== null && filter?.renewalWithinDays !== undefined) {
    const days = filter.renewalWithinDays;
    if (!Number.isInteger(days) || days < 0 || days > MAX_RENEWAL_WINDOW_DAYS) {
      throw new InvalidInputError(`filter.renewalWithinDays must be a whole number of days from 0 to ${MAX_RENEWAL_WINDOW_DAYS}.`, 'filter.renewalWithinDays');
    }
    where(sql`${accounts.contractEnd} between ${param('today')}::date and ${param('today')}::date + ${param('days')}::int`, {
      today: isoDay(now),
      days,
    });
  }
  const needle = filter?.search ? requireStorableText(filter.search, 'filter.search').trim() : undefined;
  if (needle) {
    const escaped = escapeLike(needle);
    where(ilike(accounts.name, param('search')), { search: `%${escaped}%` });
  }
  return { conditions, values };
}

/** The lateral subquery of each account's latest renewal (pageQuery), and its columns as the page reads them. */
const LATEST_RENEWAL = 'latest_renewal';
const pageParts = {
  ...accountRelationParts,
  renewal: rowPart('renewal', getTableColumns(renewals), alias(renewals, LATEST_RENEWAL), 'id'),
};

/** Statements of the listing shapes seen: order, filters set, cursor, page size. */
const pageStatements = statementCache(256);

/**
 * One statement for the page and what a dashboard shows beside each account (stage, health, owners, renewal):
 * primary-key lookups per returned row, so the cost stays flat in the size of the book. Built once per shape
 * and prepared per connection, with the page size in the text (inlineLimit), as PostGraphile does.
 */
function pageQuery(db: Db, order: AccountOrder, conditions: SQL[], limit: number): Query {
  const sortKey = sortKeys[order];
  // The latest renewal of each account, found by a lateral lookup in the renewals index.
  const renewal = db.select().from(renewals).where(eq(renewals.accountId, accounts.id)).orderBy(desc(renewals.contractEnd)).limit(1).as(LATEST_RENEWAL);
  return selectAccountsWithRelations(db, { ...partFields(pageParts), sortKey: sql<string | number>`${sortKey}`.as('sort_key') })
    .leftJoinLateral(renewal, sql`true`)
    .where(and(...conditions))
    .orderBy(sortKey, asc(accounts.id))
    .limit(inlineLimit(limit, MAX_PAGE_SIZE + 1))
    .toSQL();
}

export async function listAccounts(db: Db, params: ListAccountsParams): Promise<AccountPage> {
  if (!Number.isInteger(params.first) || params.first < 0 || params.first > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}; page through larger sets with \`after\`.`, 'first');
  }
  const order = params.orderBy ?? 'name';
  const { conditions, values } = filterConditions(params.filter, params.reader, params.now ?? new Date());
  if (params.after) {
    const cursor = decodeCursor(params.after, order);
    const sortKey = sortKeys[order];
    conditions.push(
      typeof cursor.key === 'string'
        ? sql`(${sortKey}, ${accounts.id}) > (${sql.placeholder('afterKey')}, ${sql.placeholder('afterId')}::uuid)`
        : sql`(${sortKey}, ${accounts.id}) > (${sql.placeholder('afterKey')}::float8, ${sql.placeholder('afterId')}::uuid)`,
    );
    Object.assign(values, { afterKey: cursor.key, afterId: cursor.id });
  }
  const limit = params.first + 1;
  const shape = `${order}|${Object.keys(values).join(',')}|${limit}`;
  const rows = await pageStatements.run(db, shape, () => pageQuery(db, order, conditions, limit), values);
  const page: AccountPageRow[] = [];
  for (const values of rows.slice(0, params.first)) {
    const { rows: parts, rest } = decodeParts(pageParts, values);
    const { account, stage, health, csm, ae, renewal } = parts;
    if (!account || !stage) throw new Error('The page statement returned a row without its account or stage');
    page.push({ account, stage, health, csm, ae, renewal, sortKey: order === 'name' ? String(rest[0]) : Number(rest[0]) });
  }
  return { order, rows: page, hasNextPage: rows.length > params.first };
}

export interface CountAccountsParams {
  filter?: AccountFilter;
  /** Who is counting: an account executive counts only the accounts they sold. */
  reader: Actor;
  now?: Date;
}

export async function countAccounts(db: Db, params: CountAccountsParams): Promise<number> {
  const { conditions, values } = filterConditions(params.filter, params.reader, params.now ?? new Date());
  const [row] = await db
    .select({ total: count() })
    .from(accounts)
    .leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id))
    .where(and(...conditions))
    .prepare('count_accounts')
    .execute(values);
  return row?.total ?? 0;
}
