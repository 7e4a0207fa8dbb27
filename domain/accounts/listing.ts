// Listing accounts, as the reader may see them: the orders, the filters, the opaque cursors of keyset paging, the
// page with what a dashboard shows beside each account, and the count of a filtered listing.
// domain/accounts/ owns accounts: listing them, reading one or a few (reads.ts), creating one (create.ts), writing
// them from the CRM (crm-upsert.ts), and a person's book (book.ts).
import { type Query, type SQL, and, asc, desc, eq, fillPlaceholders, getTableColumns, getTableName, ilike, or, sql } from 'drizzle-orm';
import { type PgColumn, alias } from 'drizzle-orm/pg-core';
import { type PartialRow, type RowPart, aeUser, csmUser, inlineLimit, partFields, partialRowPart, pickColumns, statementCache } from '../../db/account-rows.ts';
import { type Db, queryValues } from '../../db/client.ts';
import {
  type Account,
  type HealthSummary,
  type StoredHealthSummary,
  type HealthStatus,
  type Renewal,
  HEALTH_KEY_MISSING,
  accountListingKeys,
  healthListingKeys,
  healthSummaryColumns,
  lifecycleStages,
  renewals,
  accountHealth,
  type LifecycleStage,
  type Segment,
  type User,
  accounts,
  contacts,
  users,
} from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { readableOwnerId } from '../access.ts';
import { InvalidInputError } from '../errors.ts';
import { MAX_RENEWAL_WINDOW_DAYS } from '../renewals/window.ts';
import { escapeLike, isUuid, requireStorableText } from '../validation.ts';
import { isoDay } from '../dates.ts';
import { championDeparturesSince, championLeftReason, recentChampionDeparture } from '../people/relationship.ts';
import { healthComponents, healthReasons } from '../health/words.ts';

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
  /** What to read beside each account; everything by default. */
  select?: ListingSelection;
  /**
   * Also count the accounts the filter matches across all pages (AccountPage.totalCount), in the page's own
   * statement: a second statement costs the request another round trip, and Node its sending and decoding.
   */
  count?: boolean;
}

/**
 * What a listing reads of each account and beside it, column by column. A page reads only what its reader shows:
 * the GraphQL API passes what the query selects; without it, everything is read. Each row always carries its key
 * (the account's id, the stage's key, a user's or a renewal's id, the health's account id); a table given `false`
 * is not joined. Decoding the columns a page does not show cost more CPU than the rest of a dashboard request.
 */
export interface ListingSelection {
  account: readonly (keyof Account)[];
  stage: false | readonly (keyof LifecycleStage)[];
  csm: false | readonly (keyof User)[];
  ae: false | readonly (keyof User)[];
  /** The renewal of the latest contract end. */
  renewal: false | readonly (keyof Renewal)[];
  /** The latest health; with `reasons`, what the account's people say beside them (relationshipReasons) too. */
  health: false | readonly (keyof HealthSummary)[];
}

const columnNames = <Row>(columns: { [Column in keyof Row]: unknown }) => Object.keys(columns) as (keyof Row)[];
const stageColumns: { [Column in keyof LifecycleStage]: PgColumn } = getTableColumns(lifecycleStages);
const userColumns: { [Column in keyof User]: PgColumn } = getTableColumns(users);
const renewalColumns: { [Column in keyof Renewal]: PgColumn } = getTableColumns(renewals);
const accountColumns: { [Column in keyof Account]: PgColumn } = getTableColumns(accounts);
/** The health columns a listing may be asked for: the stored ones, with the reasons and components said in words. */
const healthReadColumns: readonly (keyof HealthSummary)[] = ['score', 'status', 'scoreDayAgo', 'scoreWeekAgo', 'reasons', 'computedAt', 'modelVersion', 'note', 'components'];

/**
 * The stored columns a selection of health reads: the reasons and the components are said from the facts and the
 * words they cannot hold (health/words.ts), or read as stored for a score kept before its facts were.
 */
function storedHealthColumns(selected: readonly (keyof HealthSummary)[]): (keyof StoredHealthSummary)[] {
  return selected.flatMap((column): (keyof StoredHealthSummary)[] => {
    if (column === 'reasons') return ['facts', 'stageName', 'npsWorstSaid', 'reasons'];
    if (column === 'components') return ['facts', 'stageName', 'components'];
    return [column];
  });
}

/** A health part whose rows come out with their reasons and components (those selected) in words. */
function saidHealthPart(selected: readonly (keyof HealthSummary)[]): RowPart<ListedHealth> {
  const part = partialRowPart<StoredHealthSummary, 'accountId'>('health', healthSummaryColumns, accountHealth, 'accountId', storedHealthColumns(selected));
  const reasons = selected.includes('reasons');
  const components = selected.includes('components');
  // The columns shown as read; the sources of the words are not shown. Copied by name rather than by a rest
  // pattern and spreads, which cost each row of a page more than the rest of its health.
  const shown = Object.keys(part.fields)
    .map((field) => field.slice('health.'.length) as keyof StoredHealthSummary & keyof HealthSummary)
    .filter((column) => !wordSources.has(column));
  return {
    ...part,
    decode: (values, offset) => {
      const stored = part.decode(values, offset);
      if (!stored) return null;
      const row: Partial<Record<keyof HealthSummary, unknown>> = {};
      for (const column of shown) row[column] = stored[column];
      const source = {
        facts: stored.facts ?? null,
        stageName: stored.stageName ?? null,
        npsWorstSaid: stored.npsWorstSaid ?? null,
        reasons: stored.reasons ?? null,
        components: stored.components ?? null,
      };
      if (reasons) row.reasons = healthReasons(source);
      if (components) row.components = healthComponents(source);
      // The shown columns as read (each converted by its column), and the words said from their sources.
      return row as ListedHealth;
    },
  };
}

/** Stored columns a health is said from (healthReasons, healthComponents), not shown as read. */
const wordSources: ReadonlySet<string> = new Set<keyof StoredHealthSummary>(['facts', 'stageName', 'npsWorstSaid', 'reasons', 'components']);

export const fullListingSelection: ListingSelection = {
  account: columnNames<Account>(accountColumns),
  stage: columnNames<LifecycleStage>(stageColumns),
  csm: columnNames<User>(userColumns),
  ae: columnNames<User>(userColumns),
  renewal: columnNames<Renewal>(renewalColumns),
  health: healthReadColumns,
};

/** Rows as a listing reads them: the key, and the other columns its selection asked for (PartialRow). */
export type ListedAccount = PartialRow<Account, 'id'>;
export type ListedStage = PartialRow<LifecycleStage, 'key'>;
export type ListedUser = PartialRow<User, 'id'>;
export type ListedRenewal = PartialRow<Renewal, 'id'>;
export type ListedHealth = PartialRow<HealthSummary, 'accountId'>;

/**
 * An account of a listing with what the listing joined beside it: its stage, latest health, owners and renewal.
 * Undefined: not read (not in the listing's selection); null: the account has none.
 */
export interface AccountPageRow {
  account: ListedAccount;
  stage: ListedStage | undefined;
  health: ListedHealth | null | undefined;
  csm: ListedUser | null | undefined;
  ae: ListedUser | null | undefined;
  /** The renewal of the latest contract end. */
  renewal: ListedRenewal | null | undefined;
  /** What the account's people say beside the health reasons ("champion left 12 days ago"), read with them. */
  relationshipReasons: string[] | undefined;
  /** The account's key in the listing's order; accountCursor() turns it into a cursor when one is asked for. */
  sortKey: string | number;
}

export interface AccountPage {
  order: AccountOrder;
  rows: AccountPageRow[];
  hasNextPage: boolean;
  /** How many accounts match the filter across all pages, when the listing was asked to `count`. */
  totalCount?: number;
}

/** Where the page after this row starts: pass it as `after`. */
export function accountCursor(order: AccountOrder, row: AccountPageRow): string {
  return encodeCursor(order, row.sortKey, row.account.id);
}

export const MAX_PAGE_SIZE = 100;

/**
 * Each ordering is one ascending sort key plus the id as a tie-breaker, so keyset paging works the same for all.
 * Descending orders negate a number; accounts without the value (no health yet, no contract end) come last.
 * Every key is exactly the expression of an index (db/schema: accountListingKeys, healthListingKeys) on the table
 * that drives the order's statement, so a page is read in index order and stops after `first` rows instead of
 * sorting every matching account.
 */
interface OrderSpec {
  key: SQL;
  /** account_health drives the health orders (its own indexes), accounts every other. */
  drivenBy: 'accounts' | 'health';
}

const orderSpecs: Record<AccountOrder, OrderSpec> = {
  name: { key: sql`${accounts.name}`, drivenBy: 'accounts' },
  health: { key: healthListingKeys.health(accountHealth.score), drivenBy: 'health' },
  health_drop: { key: healthListingKeys.healthDrop(accountHealth.scoreWeekAgo, accountHealth.score), drivenBy: 'health' },
  renewal_date: { key: accountListingKeys.renewalDate(accounts.contractEnd), drivenBy: 'accounts' },
  arr: { key: accountListingKeys.arr(accounts.arrCents), drivenBy: 'accounts' },
  time_in_stage: { key: accountListingKeys.timeInStage(accounts.stageEnteredAt), drivenBy: 'accounts' },
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

interface ListingConditions {
  /** Conditions on the account's own columns. */
  accounts: SQL[];
  /** Conditions on its latest health: an account without a health row matches none. */
  health: SQL[];
  values: ConditionValues;
  /** Values written into the statement text: part of its shape. */
  inlined: string[];
}

/**
 * The filter as SQL conditions over placeholders, and the values to fill them with: a listing's statement text
 * depends only on which filters are set, so it is built once per shape (see pageStatements).
 */
function filterConditions(filter: AccountFilter | undefined, reader: Actor, now: Date, order?: AccountOrder): ListingConditions {
  // SECURITY: visibility comes from the reader, never from the filter a client sends.
  const readableAeId = readableOwnerId(reader);
  const conditions: ListingConditions = { accounts: [], health: [], values: {}, inlined: [] };
  const where = (condition: SQL | undefined, given: ConditionValues, on: 'accounts' | 'health' = 'accounts') => {
    if (condition) conditions[on].push(condition);
    Object.assign(conditions.values, given);
  };
  const param = (name: string) => sql.placeholder(name);
  if (filter?.stage) where(eq(accounts.stageKey, param('stage')), { stage: filter.stage });
  if (filter?.segment) where(eq(accounts.segment, param('segment')), { segment: filter.segment });
  if (filter?.ownerId) {
    if (!isUuid(filter.ownerId)) throw new InvalidInputError('filter.ownerId must be a user id from the `users` query.', 'filter.ownerId');
    where(or(eq(accounts.csmId, param('ownerId')), eq(accounts.aeId, param('ownerId'))), { ownerId: filter.ownerId });
  }
  if (readableAeId) where(eq(accounts.aeId, param('readableAeId')), { readableAeId });
  if (filter?.healthStatus) where(eq(accountHealth.status, param('healthStatus')), { healthStatus: filter.healthStatus }, 'health');
  if (filter?.renewalWithinDays !== null && filter?.renewalWithinDays !== undefined) {
    const days = filter.renewalWithinDays;
    if (!Number.isInteger(days) || days < 0 || days > MAX_RENEWAL_WINDOW_DAYS) {
      throw new InvalidInputError(`filter.renewalWithinDays must be a whole number of days from 0 to ${MAX_RENEWAL_WINDOW_DAYS}.`, 'filter.renewalWithinDays');
    }
    // The window is written into the statement text, not sent as parameters: PostgreSQL plans a range between
    // parameters for a handful of rows, and its generic plan of a prepared page then sorts the window instead of
    // reading the order's index. A shape per day and window size; both are checked values, never client text.
    const today = isoDay(now);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) throw new Error(`Not a day: ${today}`);
    const from = sql.raw(`date '${today}'`);
    const to = sql.raw(`(date '${today}' + ${days})`);
    conditions.inlined.push(`renewal:${today}+${days}`);
    // Ordered by renewal date, the same window on the order's key, so its index reads only the window. (No
    // contract end has the key 1000000, which no window of a few years reaches.) Both conditions together would
    // make PostgreSQL count the window twice, guess a handful of rows and sort them instead.
    const window =
      order === 'renewal_date'
        ? sql`${orderSpecs.renewal_date.key} between ${accountListingKeys.renewalDate(from)} and ${accountListingKeys.renewalDate(to)}`
        : sql`${accounts.contractEnd} between ${from} and ${to}`;
    where(window, {});
  }
  const needle = filter?.search ? requireStorableText(filter.search, 'filter.search').trim() : undefined;
  if (needle) {
    const escaped = escapeLike(needle);
    where(ilike(accounts.name, param('search')), { search: `%${escaped}%` });
  }
  return conditions;
}

/** The lateral subquery of each account's latest renewal (partQuery), and its columns as the page reads them. */
const LATEST_RENEWAL = 'latest_renewal';
const latestRenewal = alias(renewals, LATEST_RENEWAL);
/** The health columns the order keys and the health filter read (orderSpecs, filterConditions). */
const healthKeyColumns: readonly (keyof HealthSummary)[] = ['score', 'status', 'scoreWeekAgo'];

/** The columns a page reads for a selection, and how a statement row turns back into a page row. */
interface PageLayout {
  fields: Record<string, PgColumn | SQL | SQL.Aliased>;
  /** The health columns the page reads: those selected, and those the order keys and the filter read. */
  healthColumns: Record<string, PgColumn>;
  /** The renewal columns the page reads: the lateral subquery of the latest renewal selects only these. */
  renewalColumns: Record<string, PgColumn>;
  decode: (values: readonly unknown[], now: Date) => AccountPageRow;
}

/**
 * The champions who left lately, said beside the health reasons (domain/people/relationship.ts), read for each
 * account of a page that shows the reasons: a lateral lookup in the contacts index, as a JSON list.
 */
const DEPARTURES = 'champion_departures';
const departuresWindow = { now: sql.placeholder('departuresNow'), since: sql.placeholder('departuresSince') };

function departuresOf(value: unknown, now: Date): string[] {
  const list: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!Array.isArray(list)) throw new Error('The page statement returned champion departures that are not a list');
  // Newest first, as relationshipReasons says them; sorted here, a few at most, so the plan has no Sort.
  return list
    .map((departure: { name: string; leftAt: string }) => ({ name: departure.name, leftAt: new Date(departure.leftAt) }))
    .sort((a, b) => b.leftAt.getTime() - a.leftAt.getTime())
    .map((departure) => championLeftReason(departure, now));
}

/**
 * The row of a part at a position of a statement row, moving the position past its columns. A function of its own
 * rather than a closure made for each row: tsx names every function it makes (esbuild's __name, a property
 * definition), which profiled at a few percent of a dashboard request's CPU when made for each of its rows.
 */
function readPart<Row>(part: RowPart<Row>, at: { values: readonly unknown[]; offset: number }): Row | null {
  const row = part.decode(at.values, at.offset);
  at.offset += part.width;
  return row;
}

/** Whether a listing with this selection reads the champions who left beside the health reasons. */
const readsDepartures = (selection: ListingSelection) => selection.health !== false && selection.health.includes('reasons');

function pageLayout(selection: ListingSelection, order: AccountOrder): PageLayout {
  const sortKey = orderSpecs[order].key;
  const account = partialRowPart<Account, 'id'>('account', accountColumns, accounts, 'id', selection.account);
  const stage = selection.stage && partialRowPart<LifecycleStage, 'key'>('stage', stageColumns, lifecycleStages, 'key', selection.stage);
  const health = selection.health && saidHealthPart(selection.health);
  const csm = selection.csm && partialRowPart<User, 'id'>('csm', userColumns, csmUser, 'id', selection.csm);
  const ae = selection.ae && partialRowPart<User, 'id'>('ae', userColumns, aeUser, 'id', selection.ae);
  const renewal = selection.renewal && partialRowPart<Renewal, 'id'>('renewal', renewalColumns, latestRenewal, 'id', selection.renewal);
  const departures = readsDepartures(selection);
  const parts: RowPart<unknown>[] = [account];
  if (stage) parts.push(stage);
  if (health) parts.push(health);
  if (csm) parts.push(csm);
  if (ae) parts.push(ae);
  if (renewal) parts.push(renewal);
  return {
    healthColumns: pickColumns(healthSummaryColumns, ['accountId', ...healthKeyColumns, ...storedHealthColumns(selection.health || [])]),
    renewalColumns: pickColumns(renewalColumns, ['id', ...(selection.renewal || [])]),
    fields: {
      ...partFields(Object.fromEntries(parts.map((part, index) => [index, part]))),
      ...(departures ? { departures: sql.raw(`"${DEPARTURES}"."list"`) } : {}),
      sortKey: sql<string | number>`${sortKey}`.as('sort_key'),
    },
    decode(values, now) {
      const at = { values, offset: 0 };
      const listed = readPart(account, at);
      const listedStage = stage ? readPart(stage, at) : undefined;
      if (!listed || listedStage === null) throw new Error('The page statement returned a row without its account or stage');
      return {
        account: listed,
        stage: listedStage,
        health: health ? readPart(health, at) : undefined,
        csm: csm ? readPart(csm, at) : undefined,
        ae: ae ? readPart(ae, at) : undefined,
        renewal: renewal ? readPart(renewal, at) : undefined,
        relationshipReasons: departures ? departuresOf(values[at.offset++], now) : undefined,
        sortKey: order === 'name' ? String(values[at.offset]) : Number(values[at.offset]),
      };
    },
  };
}

/** Layouts by order and selection shape, built once each; as many as the statements kept (pageStatements). */
const pageLayouts = new Map<string, PageLayout>();
const MAX_SHAPES = 256;

function cachedPageLayout(order: AccountOrder, shape: string, selection: ListingSelection): PageLayout {
  const key = `${order}|${shape}`;
  let layout = pageLayouts.get(key);
  if (!layout) {
    layout = pageLayout(selection, order);
    if (pageLayouts.size >= MAX_SHAPES) pageLayouts.delete(pageLayouts.keys().next().value ?? '');
    pageLayouts.set(key, layout);
  }
  return layout;
}

/** Each table's columns as bits by position: the same columns asked in any order give the same shape. */
function columnBits<Row>(columns: { [Column in keyof Row]: unknown }): Map<keyof Row, number> {
  return new Map(columnNames<Row>(columns).map((column, index) => [column, 2 ** index]));
}
const shapeBits = {
  account: columnBits<Account>(accountColumns),
  stage: columnBits<LifecycleStage>(stageColumns),
  user: columnBits<User>(userColumns),
  renewal: columnBits<Renewal>(renewalColumns),
  health: new Map(healthReadColumns.map((column, index) => [column, 2 ** index])),
};

function columnsShape<Row>(bits: Map<keyof Row, number>, columns: false | readonly (keyof Row)[]): string {
  if (columns === false) return '-';
  let sum = 0;
  for (const column of new Set(columns)) sum += bits.get(column) ?? 0;
  return sum.toString(36);
}

function selectionShape(selection: ListingSelection): string {
  return [
    columnsShape(shapeBits.account, selection.account),
    columnsShape(shapeBits.stage, selection.stage),
    columnsShape(shapeBits.user, selection.csm),
    columnsShape(shapeBits.user, selection.ae),
    columnsShape(shapeBits.renewal, selection.renewal),
    columnsShape(shapeBits.health, selection.health),
  ].join('.');
}

/** Statements of the listing shapes seen: order, filters set, cursor, page size, selection. */
const pageStatements = statementCache(256);

/** One part of a page statement: the table that drives it, how it joins health, its conditions and its order. */
interface PagePart {
  drivenBy: 'accounts' | 'health';
  /**
   * How an accounts-driven part joins the latest health; a health-driven one is driven by it. `lateral`: looked up
   * for each account in the order of the accounts key, never joined as a set and sorted (see the part of accounts
   * without the value, in listingStatement).
   */
  health: 'none' | 'left' | 'inner' | 'lateral';
  where: SQL[];
  orderBy: SQL[];
}

/**
 * The statement of one part: the page's accounts read in the driving index's order, and what the selection asks
 * for beside each by primary-key lookups, so the cost stays flat in the size of the book.
 */
function partQuery(db: Db, layout: PageLayout, selection: ListingSelection, part: PagePart, limit: number, total: SQL.Aliased<number> | undefined) {
  // The count, when asked for, is the last column of every row (listAccounts reads it from any one).
  const fields = total ? { ...layout.fields, total } : layout.fields;
  const base =
    part.drivenBy === 'health'
      ? db.select(fields).from(accountHealth).innerJoin(accounts, eq(accounts.id, accountHealth.accountId)).$dynamic()
      : db.select(fields).from(accounts).$dynamic();
  let query = base;
  if (part.drivenBy === 'accounts' && part.health === 'left') query = query.leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id));
  if (part.drivenBy === 'accounts' && part.health === 'inner') query = query.innerJoin(accountHealth, eq(accountHealth.accountId, accounts.id));
  if (part.drivenBy === 'accounts' && part.health === 'lateral') {
    // Named as the table, so the page's columns and keys read it as they read the table. OFFSET 0 keeps PostgreSQL
    // from flattening it into a join it could hash and then sort.
    const health = db.select(layout.healthColumns).from(accountHealth).where(eq(accountHealth.accountId, accounts.id)).offset(inlineLimit(0, 0)).as(getTableName(accountHealth));
    query = query.leftJoinLateral(health, sql`true`);
  }
  if (selection.stage) query = query.innerJoin(lifecycleStages, eq(lifecycleStages.key, accounts.stageKey));
  if (selection.csm) query = query.leftJoin(csmUser, eq(csmUser.id, accounts.csmId));
  if (selection.ae) query = query.leftJoin(aeUser, eq(aeUser.id, accounts.aeId));
  if (selection.renewal) {
    // The latest renewal of each account, found by a lateral lookup in the renewals index.
    const renewal = db.select(layout.renewalColumns).from(renewals).where(eq(renewals.accountId, accounts.id)).orderBy(desc(renewals.contractEnd)).limit(1).as(LATEST_RENEWAL);
    query = query.leftJoinLateral(renewal, sql`true`);
  }
  if (readsDepartures(selection)) {
    const departures = db
      .select({ list: sql`coalesce(json_agg(json_build_object('name', ${contacts.name}, 'leftAt', ${contacts.leftAt})), '[]'::json)`.as('list') })
      .from(contacts)
      .where(and(eq(contacts.accountId, accounts.id), recentChampionDeparture(departuresWindow)))
      .as(DEPARTURES);
    query = query.leftJoinLateral(departures, sql`true`);
  }
  return query
    .where(and(...part.where))
    .orderBy(...part.orderBy)
    .limit(inlineLimit(limit, MAX_PAGE_SIZE + 1));
}

/** A listing as one statement of one shape: its text is built once per shape (build), then filled with values. */
interface ListingStatement {
  shape: string;
  build: () => Query;
  values: ConditionValues;
  layout: PageLayout;
  order: AccountOrder;
  first: number;
  /** Whether each row ends with the count of the accounts the filter matches. */
  counts: boolean;
  /** The moment the page is read at: the relationship reasons count days to it. */
  now: Date;
}

const afterPlaceholders = { key: sql.placeholder('afterKey'), id: sql.placeholder('afterId') };
/** A health key at or above this is an account without the value; scores are 0-100, so every such key equals it. */
const MISSING = sql.raw(String(HEALTH_KEY_MISSING));

function listingStatement(db: Db, params: ListAccountsParams): ListingStatement {
  if (!Number.isInteger(params.first) || params.first < 0 || params.first > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}; page through larger sets with \`after\`.`, 'first');
  }
  const order = params.orderBy ?? 'name';
  const { key, drivenBy } = orderSpecs[order];
  const selection = params.select ?? fullListingSelection;
  const now = params.now ?? new Date();
  const conditions = filterConditions(params.filter, params.reader, now, order);
  const values: ConditionValues = { ...conditions.values };
  if (readsDepartures(selection)) {
    Object.assign(values, { departuresNow: now.toISOString(), departuresSince: championDeparturesSince(now).toISOString() });
  }
  const cursor = params.after ? decodeCursor(params.after, order) : undefined;
  if (cursor) Object.assign(values, { afterKey: cursor.key, afterId: cursor.id });
  const after = (id: PgColumn) =>
    typeof cursor?.key === 'string'
      ? sql`(${key}, ${id}) > (${afterPlaceholders.key}, ${afterPlaceholders.id}::uuid)`
      : sql`(${key}, ${id}) > (${afterPlaceholders.key}::float8, ${afterPlaceholders.id}::uuid)`;
  const limit = params.first + 1;
  const selectionKey = selectionShape(selection);
  const layout = cachedPageLayout(order, selectionKey, selection);

  // Past the valued accounts of a health order, the page reads only those without the value (see pageParts).
  const tail = drivenBy === 'health' && conditions.health.length === 0 && typeof cursor?.key === 'number' && cursor.key >= HEALTH_KEY_MISSING;
  // The statement's parts, built with its text only when its shape is first seen: the SQL objects of every
  // condition cost each request CPU for a text that is already kept.
  const pageParts = (): PagePart[] => {
    const filtered = [...conditions.accounts, ...conditions.health];
    if (drivenBy === 'accounts') {
      const health = conditions.health.length > 0 ? 'inner' : selection.health ? 'left' : 'none';
      return [{ drivenBy, health, where: [...filtered, ...(cursor ? [after(accounts.id)] : [])], orderBy: [key, asc(accounts.id)] }];
    }
    if (conditions.health.length > 0) {
      // A health filter matches only accounts with a health row: account_health alone, in its (status, key) index.
      return [{ drivenBy, health: 'inner', where: [...filtered, ...(cursor ? [after(accountHealth.accountId)] : [])], orderBy: [key, asc(accountHealth.accountId)] }];
    }
    // Accounts without the value, those without a health row among them, share the last key: they follow the
    // valued ones (read from account_health's index) by id (read from the accounts key). The second part runs
    // only when the first leaves the page short (UNION ALL is read in order, and the LIMIT stops it early).
    const missing: PagePart = { drivenBy: 'accounts', health: 'lateral', where: [...filtered, sql`${key} >= ${MISSING}`], orderBy: [asc(accounts.id)] };
    if (tail) {
      missing.where.push(sql`${accounts.id} > ${afterPlaceholders.id}::uuid`);
      return [missing];
    }
    return [{ drivenBy, health: 'inner', where: [...filtered, sql`${key} < ${MISSING}`, ...(cursor ? [after(accountHealth.accountId)] : [])], orderBy: [key, asc(accountHealth.accountId)] }, missing];
  };
  const counts = params.count === true;
  const shape = `${order}|${Object.keys(values).join(',')}|${conditions.inlined.join(',')}|${limit}|${selectionKey}|${tail ? 'tail' : ''}|${counts ? 'count' : ''}`;
  const build = () => {
    // The count is the one countAccounts runs, an uncorrelated subquery PostgreSQL runs once beside the page (an
    // InitPlan): it names its tables as the page does, and inside it they are its own. Its conditions are the
    // filter's without the order, over the same placeholders, so the page's values fill them. In a health order
    // without a health filter each part carries it; the second runs (and counts again) only on the one page that
    // crosses from the valued accounts to those without the value.
    const total = counts ? sql<number>`${countQuery(db, filterConditions(params.filter, params.reader, now))}`.as('total') : undefined;
    const [first, second] = pageParts().map((part) => partQuery(db, layout, selection, part, limit, total));
    if (!first) throw new Error('A listing has at least one part');
    return second ? first.unionAll(second).limit(inlineLimit(limit, MAX_PAGE_SIZE + 1)).toSQL() : first.toSQL();
  };
  return { shape, build, values, layout, order, first: params.first, counts, now };
}

export async function listAccounts(db: Db, params: ListAccountsParams): Promise<AccountPage> {
  const statement = listingStatement(db, params);
  const rows = await pageStatements.run(db, statement.shape, statement.build, statement.values);
  const page: AccountPageRow[] = [];
  for (const values of rows.slice(0, statement.first)) {
    page.push(statement.layout.decode(values, statement.now));
  }
  const listed: AccountPage = { order: statement.order, rows: page, hasNextPage: rows.length > statement.first };
  if (statement.counts) {
    // Every row carries the count; a page past the end has no row to carry it, so it is counted on its own.
    const [row] = rows;
    listed.totalCount = row ? Number(row.at(-1)) : await countAccounts(db, { reader: params.reader, ...(params.filter ? { filter: params.filter } : {}), now: statement.now });
  }
  return listed;
}

/**
 * The plan PostgreSQL makes for the statement listAccounts runs with these parameters, as EXPLAIN (FORMAT JSON)
 * gives it: for checking that each order and filter is read from an index rather than sorted.
 */
export async function explainAccountListing(db: Db, params: ListAccountsParams): Promise<unknown> {
  const query = accountListingQuery(db, params);
  const [[plan] = []] = await queryValues(db, `explain (format json) ${query.sql}`, query.params);
  return typeof plan === 'string' ? JSON.parse(plan) : plan;
}

/** The statement listAccounts runs with these parameters and the values of its $n parameters, for EXPLAIN. */
export function accountListingQuery(db: Db, params: ListAccountsParams): { sql: string; params: unknown[] } {
  const statement = listingStatement(db, params);
  const query = statement.build();
  return { sql: query.sql, params: fillPlaceholders(query.params, statement.values) };
}

export interface CountAccountsParams {
  filter?: AccountFilter;
  /** Who is counting: an account executive counts only the accounts they sold. */
  reader: Actor;
  now?: Date;
}

/** How many accounts a listing with this filter holds (countQuery says from which table). */
export async function countAccounts(db: Db, params: CountAccountsParams): Promise<number> {
  const conditions = filterConditions(params.filter, params.reader, params.now ?? new Date());
  // Built once per shape (the filters set), as a page is: building the statement cost more CPU than running it.
  const shape = `${Object.keys(conditions.values).join(',')}|${conditions.inlined.join(',')}|${conditions.accounts.length}|${conditions.health.length}`;
  const [[total] = []] = await countStatements.run(db, shape, () => countQuery(db, conditions).toSQL(), conditions.values);
  return Number(total ?? 0);
}

/**
 * The count of the accounts matching these conditions, read from the smallest table that answers: account_health
 * alone for a health filter only (every health row has its account), accounts alone without a health filter. Run
 * alone (countAccounts) or beside a page (listAccounts with `count`).
 */
function countQuery(db: Db, conditions: ListingConditions) {
  const total = { total: sql<number>`count(*)::int` };
  return conditions.health.length === 0
    ? db.select(total).from(accounts).where(and(...conditions.accounts))
    : conditions.accounts.length === 0
      ? db.select(total).from(accountHealth).where(and(...conditions.health))
      : db.select(total).from(accountHealth).innerJoin(accounts, eq(accounts.id, accountHealth.accountId)).where(and(...conditions.accounts, ...conditions.health));
}

/** Count statements of the filter shapes seen. */
const countStatements = statementCache(64);
