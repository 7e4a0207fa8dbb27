import { Column, type Placeholder, type SQL, type Table, and, asc, count, desc, eq, fillPlaceholders, getTableColumns, ilike, inArray, or, sql } from 'drizzle-orm';
import { type PgColumn, alias } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { type Db, type Tx, queryRows, queryValues } from '../db/client.ts';
import {
  type Account,
  type HealthSummary,
  healthSummaryColumns,
  type HealthStatus,
  type Renewal,
  renewals,
  accountHealth,
  type LifecycleStage,
  type Segment,
  type StageTransition,
  type TransitionSource,
  type User,
  accounts,
  lifecycleStages,
  segments,
  stageTransitions,
  users,
} from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { readableOwnerId, requireAccess, requireReadAccount } from './access.ts';
import { InvalidInputError } from './errors.ts';
import { upsertCrmAccounts } from './crm-accounts.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, MAX_RENEWAL_WINDOW_DAYS, openDueRenewals } from './renewals/window.ts';
import { isUuid, parseInput, requireStorableText } from './validation.ts';
import { isoDay } from './dates.ts';

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
 * depends only on which filters are set, so it is built once per shape (see pageStatement).
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
    const escaped = needle.replace(/[\\%_]/g, (char) => `\\${char}`);
    where(ilike(accounts.name, param('search')), { search: `%${escaped}%` });
  }
  return { conditions, values };
}

/**
 * The columns of one joined table in the page statement, and how to turn them back into a row. The page reads
 * plain columns by position and converts each value with its own column's driver mapping, exactly as drizzle
 * would: profiled (bench/dashboard-profile.ts), drizzle's per-field result mapping and a JSON object per joined
 * table cost more CPU, in Node and in PostgreSQL, than the rest of a dashboard request. The columns come from the
 * schema, so a column added there appears here by itself; test/api-accounts.test.ts compares the rows with a
 * plain drizzle select.
 */
interface PagePart<Row> {
  /** Selected columns (of the table or its alias), keyed uniquely within the page. */
  fields: Record<string, PgColumn>;
  decode: (values: readonly unknown[], offset: number) => Row | null;
  width: number;
}

/**
 * `columns` are the table's columns to read (all of them, or a read model such as healthSummaryColumns); `source`
 * is the table itself or the alias the page statement joins it as.
 */
/** The row a set of columns reads as, as drizzle types a select of them. */
type RowOf<Columns extends Record<string, Column>> = {
  [Key in keyof Columns]: Columns[Key]['_']['notNull'] extends true ? Columns[Key]['_']['data'] : Columns[Key]['_']['data'] | null;
};

function pagePart<Columns extends Record<string, Column>>(name: string, columns: Columns, source: Table, keyColumn: keyof Columns & string): PagePart<RowOf<Columns>> {
  const entries = Object.entries(columns);
  const keyIndex = entries.findIndex(([key]) => key === keyColumn);
  // Text, uuid and enum columns keep drizzle's identity mapping: their values are used as they arrive.
  const converters = entries.map(([, column]) =>
    column.mapFromDriverValue === Column.prototype.mapFromDriverValue ? null : (value: unknown) => column.mapFromDriverValue(value),
  );
  return {
    fields: Object.fromEntries(entries.map(([key]) => [`${name}.${key}`, Reflect.get(source, key) as PgColumn])),
    width: entries.length,
    decode: (values, offset) => {
      // A left join that found nothing has a null key.
      if (values[offset + keyIndex] === null) return null;
      const row: Record<string, unknown> = {};
      for (let index = 0; index < entries.length; index += 1) {
        const value = values[offset + index] ?? null;
        const convert = converters[index];
        row[(entries[index] as [string, Column])[0]] = value === null || !convert ? value : convert(value);
      }
      return row as RowOf<Columns>;
    },
  };
}

type PartRows<Parts extends Record<string, PagePart<unknown>>> = { [Key in keyof Parts]: ReturnType<Parts[Key]['decode']> };

/** The select list of several parts, in the order of `parts`: decodeParts reads them back in the same order. */
function partFields(parts: Record<string, PagePart<unknown>>): Record<string, PgColumn> {
  return Object.assign({}, ...Object.values(parts).map((part) => part.fields));
}

/** One statement row (plain values by position) as the rows of its parts; `rest` is what follows them. */
function decodeParts<Parts extends Record<string, PagePart<unknown>>>(parts: Parts, values: readonly unknown[]): { rows: PartRows<Parts>; rest: readonly unknown[] } {
  const rows: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, part] of Object.entries(parts)) {
    rows[name] = part.decode(values, offset);
    offset += part.width;
  }
  return { rows: rows as PartRows<Parts>, rest: values.slice(offset) };
}

const csmUser = alias(users, 'csm_user');
const aeUser = alias(users, 'ae_user');
/** The lateral subquery of each account's latest renewal (pageStatement), and its columns as the page reads them. */
const LATEST_RENEWAL = 'latest_renewal';
const latestRenewal = alias(renewals, LATEST_RENEWAL);
const pageParts = {
  account: pagePart('account', getTableColumns(accounts), accounts, 'id'),
  stage: pagePart('stage', getTableColumns(lifecycleStages), lifecycleStages, 'key'),
  health: pagePart('health', healthSummaryColumns, accountHealth, 'accountId'),
  csm: pagePart('csm', getTableColumns(users), csmUser, 'id'),
  ae: pagePart('ae', getTableColumns(users), aeUser, 'id'),
  renewal: pagePart('renewal', getTableColumns(renewals), latestRenewal, 'id'),
};

/**
 * A LIMIT written into the statement text instead of sent as a parameter. PostgreSQL plans `limit $1` for an
 * unknown count (a tenth of the table), so that generic plan always looks worse than a custom one and a prepared
 * page query would be planned again on every execution; with the count in the text, each page size is planned
 * once per connection (EXPLAIN ANALYZE on 100k accounts: planning took longer than running the page).
 * Drizzle's `limit()` writes an SQL object verbatim; its type admits only a number or a placeholder.
 * SECURITY: only a whole number within the page bounds becomes SQL text.
 */
function inlineLimit(rows: number): Placeholder {
  if (!Number.isInteger(rows) || rows < 0 || rows > MAX_PAGE_SIZE + 1) throw new Error(`Page limit ${rows} is out of bounds`);
  return sql.raw(String(rows)) as unknown as Placeholder;
}

/** Accounts joined with their stage, latest health and owners: what the page and the card both read beside one. */
function selectWithRelations(db: Db, fields: Record<string, PgColumn | SQL.Aliased>) {
  return db
    .select(fields)
    .from(accounts)
    .innerJoin(lifecycleStages, eq(lifecycleStages.key, accounts.stageKey))
    .leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id))
    .leftJoin(csmUser, eq(csmUser.id, accounts.csmId))
    .leftJoin(aeUser, eq(aeUser.id, accounts.aeId));
}

/** Statement text and parameters (placeholders) of each listing shape seen: order, filters set, cursor, page size. */
const pageStatements = new Map<string, { text: string; params: unknown[] }>();
const MAX_PAGE_STATEMENTS = 256;

function pageStatement(db: Db, order: AccountOrder, conditions: SQL[], values: ConditionValues, limit: number): { text: string; params: unknown[] } {
  const shape = `${order}|${Object.keys(values).join(',')}|${limit}`;
  const known = pageStatements.get(shape);
  if (known) return known;
  const sortKey = sortKeys[order];
  // The latest renewal of each account, found by a lateral lookup in the renewals index.
  const renewal = db.select().from(renewals).where(eq(renewals.accountId, accounts.id)).orderBy(desc(renewals.contractEnd)).limit(1).as(LATEST_RENEWAL);
  const query = selectWithRelations(db, { ...partFields(pageParts), sortKey: sql<string | number>`${sortKey}`.as('sort_key') })
    .leftJoinLateral(renewal, sql`true`)
    .where(and(...conditions))
    .orderBy(sortKey, asc(accounts.id))
    .limit(inlineLimit(limit))
    .toSQL();
  const statement = { text: query.sql, params: query.params };
  if (pageStatements.size >= MAX_PAGE_STATEMENTS) pageStatements.delete(pageStatements.keys().next().value ?? '');
  pageStatements.set(shape, statement);
  return statement;
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
  // One statement for the page and what a dashboard shows beside each account (stage, health, owners, renewal):
  // primary-key lookups per returned row, so the cost stays flat in the size of the book. Built once per shape
  // and prepared per connection, with the page size in the text (inlineLimit), as PostGraphile does.
  const statement = pageStatement(db, order, conditions, values, params.first + 1);
  const rows = await queryValues(db, statement.text, fillPlaceholders(statement.params, values));
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

/**
 * One account, or undefined when there is none or the reader may not read it: an account executive asking for
 * someone else's account gets the same answer as for a missing one. Refused outright for a reader who reads no
 * accounts (an integration token).
 */
export async function getAccount(db: Db | Tx, params: { id: string; reader: Actor }): Promise<Account | undefined> {
  const readableAeId = readableOwnerId(params.reader);
  if (!isUuid(params.id)) return undefined;
  const [account] = await db
    .select()
    .from(accounts)
    .where(and(eq(accounts.id, params.id), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
  return account;
}

/** The accounts of these ids that the reader may read, in one statement (for loaders); the others are left out. */
export async function getAccountsByIds(db: Db, params: { ids: readonly string[]; reader: Actor }): Promise<Account[]> {
  const readableAeId = readableOwnerId(params.reader);
  const valid = params.ids.filter(isUuid);
  if (valid.length === 0) return [];
  return db
    .select()
    .from(accounts)
    .where(and(inArray(accounts.id, valid), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
}

export interface SearchAccountsParams {
  query: string;
  limit?: number;
  /** Who is searching: an account executive finds only the accounts they sold. */
  reader: Actor;
}

/** Accounts whose name matches, best first: exact, then prefix, then anywhere in the name. */
export async function searchAccountsByName(db: Db, params: SearchAccountsParams): Promise<Account[]> {
  const needle = requireStorableText(params.query, 'query').trim();
  if (needle === '') return [];
  const aeId = readableOwnerId(params.reader);
  const escaped = needle.replace(/[\\%_]/g, (char) => `\\${char}`);
  return db
    .select()
    .from(accounts)
    .where(and(ilike(accounts.name, `%${escaped}%`), aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(
      sql`case when lower(${accounts.name}) = lower(${needle}) then 0 when lower(${accounts.name}) like lower(${`${escaped}%`}) then 1 else 2 end`,
      asc(accounts.name),
    )
    .limit(params.limit ?? 10);
}

export interface CreateAccountParams {
  name: string;
  segment: Segment;
  stageKey: string;
  domain?: string | null;
  externalId?: string | null;
  arrCents?: number;
  csmId?: string | null;
  aeId?: string | null;
  contractStart?: string | null;
  contractEnd?: string | null;
  /** When the account entered its first stage (defaults to now); used by imports and the demo book. */
  enteredAt?: Date;
  actor: Actor;
  source: TransitionSource;
}

/** Creates an account and records its first stage as the initial transition of its history. */
export async function createAccount(db: Db, params: CreateAccountParams): Promise<Account> {
  const enteredAt = params.enteredAt ?? new Date();
  return db.transaction(async (tx) => {
    const [account] = await tx
      .insert(accounts)
      .values({
        name: params.name,
        segment: params.segment,
        stageKey: params.stageKey,
        domain: params.domain ?? null,
        externalId: params.externalId ?? null,
        arrCents: params.arrCents ?? 0,
        csmId: params.csmId ?? null,
        aeId: params.aeId ?? null,
        contractStart: params.contractStart ?? null,
        contractEnd: params.contractEnd ?? null,
        stageEnteredAt: enteredAt,
        createdAt: enteredAt,
        updatedAt: enteredAt,
        version: 1,
      })
      .returning();
    if (!account) throw new Error('Account insert returned no row');
    await tx.insert(stageTransitions).values({
      accountId: account.id,
      fromStage: null,
      toStage: account.stageKey,
      direction: 'initial',
      actorId: params.actor.userId,
      actorLabel: params.actor.label,
      source: params.source,
      reason: 'Account created',
      accountVersion: 1,
      occurredAt: enteredAt,
    });
    return account;
  });
}

export interface AccountOverview {
  account: Account;
  stage: LifecycleStage;
  csm: User | null;
  ae: User | null;
  /** The latest health score, null until one is computed. */
  health: HealthSummary | null;
  lastTransition: StageTransition | null;
}

const LATEST_TRANSITION = 'latest_transition';
const overviewParts = {
  account: pagePart('account', getTableColumns(accounts), accounts, 'id'),
  stage: pagePart('stage', getTableColumns(lifecycleStages), lifecycleStages, 'key'),
  csm: pagePart('csm', getTableColumns(users), csmUser, 'id'),
  ae: pagePart('ae', getTableColumns(users), aeUser, 'id'),
  health: pagePart('health', healthSummaryColumns, accountHealth, 'accountId'),
  lastTransition: pagePart('lastTransition', getTableColumns(stageTransitions), alias(stageTransitions, LATEST_TRANSITION), 'id'),
};
let overviewStatement: { text: string; params: unknown[] } | undefined;

/**
 * An account with what a person needs to see beside it: stage, owners, health, the latest move; one statement,
 * as a card is drawn after every click. Refused when the reader may not read the account (an AE reads only the
 * accounts they sold), whatever button carried its id.
 */
export async function getAccountOverview(db: Db, params: { accountId: string; reader: Actor }): Promise<AccountOverview | undefined> {
  if (!isUuid(params.accountId)) return undefined;
  if (!overviewStatement) {
    const latest = db
      .select()
      .from(stageTransitions)
      .where(eq(stageTransitions.accountId, accounts.id))
      .orderBy(desc(stageTransitions.accountVersion))
      .limit(1)
      .as(LATEST_TRANSITION);
    const query = selectWithRelations(db, partFields(overviewParts))
      .leftJoinLateral(latest, sql`true`)
      .where(eq(accounts.id, sql.placeholder('accountId')))
      .toSQL();
    overviewStatement = { text: query.sql, params: query.params };
  }
  const [values] = await queryValues(db, overviewStatement.text, fillPlaceholders(overviewStatement.params, { accountId: params.accountId }));
  if (!values) return undefined;
  const { account, stage, csm, ae, health, lastTransition } = decodeParts(overviewParts, values).rows;
  if (!account || !stage) throw new Error(`The overview of account ${params.accountId} came back without its account or stage`);
  requireReadAccount(params.reader, account);
  return { account, stage, csm, ae, health, lastTransition };
}

const upsertAccountSchema = z.object({
  externalId: z.string().trim().min(1, 'the CRM account id is required').max(200),
  name: z.string().trim().min(1, 'the account name is required').max(200),
  domain: z.string().trim().max(253).nullish(),
  segment: z.enum(segments, `use one of ${segments.join(', ')}`),
  arrCents: z.number().int('ARR is whole cents').min(0, 'ARR cannot be negative').max(Number.MAX_SAFE_INTEGER),
  csmId: z.uuid('must be a Lifeline user id').nullish(),
  aeId: z.uuid('must be a Lifeline user id').nullish(),
  contractStart: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
  contractEnd: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
  /** Only for accounts seen for the first time; an existing account moves stage only through moveAccountStage. */
  stageKey: z.string().trim().min(1).nullish(),
});

export type UpsertAccountInput = z.input<typeof upsertAccountSchema>;
export const MAX_UPSERT_ACCOUNTS = 10_000;

export interface UpsertAccountsParams {
  accounts: UpsertAccountInput[];
  actor: Actor;
  /** Days before contract end that the renewal window opens (the configured window); DEFAULT_RENEWAL_WINDOW_DAYS otherwise. */
  renewalWindowDays?: number;
  now?: Date;
}

export interface UpsertAccountsResult {
  created: number;
  updated: number;
  /** Lifeline id of each CRM id, in input order (a CRM id sent twice appears once, with its last values). */
  accounts: { externalId: string; id: string; created: boolean }[];
}

/**
 * Bulk create-or-update by CRM id, set-based: one statement upserts every account, records the initial stage of
 * the new ones and their renewals. Existing accounts keep their stage (moves are events, not overwrites) and keep
 * owners and dates the CRM did not send.
 */
export async function upsertAccounts(db: Db, params: UpsertAccountsParams): Promise<UpsertAccountsResult> {
  requireAccess(params.actor, 'ingest');
  if (params.accounts.length > MAX_UPSERT_ACCOUNTS) {
    throw new InvalidInputError(`Send at most ${MAX_UPSERT_ACCOUNTS} accounts per call; split the load into several calls.`, 'accounts');
  }
  const parsed = params.accounts.map((row, index) => parseInput(upsertAccountSchema, row, `accounts[${index}]`));
  const latest = new Map(parsed.map((row, index) => [row.externalId, { row, index }]));
  const rows = [...latest.values()];
  if (rows.length === 0) return { created: 0, updated: 0, accounts: [] };
  const windowDays = params.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  if (!Number.isInteger(windowDays) || windowDays < 0 || windowDays > MAX_RENEWAL_WINDOW_DAYS) {
    throw new Error(`The renewal window must be a whole number of days from 0 to ${MAX_RENEWAL_WINDOW_DAYS}, not ${windowDays}`);
  }

  return db.transaction(async (tx) => {
    const stageKeys = new Set((await tx.select({ key: lifecycleStages.key }).from(lifecycleStages)).map((stage) => stage.key));
    const userIds = [...new Set(rows.flatMap(({ row }) => [row.csmId, row.aeId].filter((id): id is string => Boolean(id))))];
    const knownUsers = new Set(
      userIds.length > 0 ? (await tx.select({ id: users.id }).from(users).where(inArray(users.id, userIds))).map((user) => user.id) : [],
    );
    for (const { row, index } of rows) {
      if (row.stageKey && !stageKeys.has(row.stageKey)) {
        throw new InvalidInputError(
          `accounts[${index}].stageKey: there is no stage "${row.stageKey}". Use one of: ${[...stageKeys].join(', ')}.`,
          `accounts[${index}].stageKey`,
        );
      }
      for (const field of ['csmId', 'aeId'] as const) {
        const id = row[field];
        if (id && !knownUsers.has(id)) {
          throw new InvalidInputError(`accounts[${index}].${field}: there is no Lifeline user with id ${id}. List people with the \`users\` query.`, `accounts[${index}].${field}`);
        }
      }
    }
    const result = await upsertCrmAccounts(tx, {
      accounts: rows.map(({ row }) => ({ ...row, stageKey: row.stageKey ?? 'pre_onboarding' })),
      entry: { actor: params.actor, source: 'import', reason: 'Imported from the CRM' },
    });
    await openDueRenewals(tx, { windowDays, now: params.now, accountIds: result.map((row) => row.id) });
    const byExternalId = new Map(result.map((row) => [row.externalId, row]));
    const summary = rows.map(({ row }) => {
      const written = byExternalId.get(row.externalId);
      if (!written) throw new Error(`Account ${row.externalId} was not written`);
      return { externalId: row.externalId, id: written.id, created: written.inserted };
    });
    const created = summary.filter((row) => row.created).length;
    return { created, updated: summary.length - created, accounts: summary };
  });
}
