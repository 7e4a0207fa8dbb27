// Reading accounts by id or by name, each checked against the reader: one account, a few for a loader, a name
// search, and the overview a card draws (the account with its stage, owners, health and latest move).
import { type Query, and, asc, desc, eq, getTableColumns, ilike, inArray, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { accountRelationParts, decodeParts, partFields, rowPart, selectAccountsWithRelations, statementCache } from '../../db/account-rows.ts';
import type { Db, Tx } from '../../db/client.ts';
import { type Account, type HealthSummary, type LifecycleStage, type StageTransition, type User, accounts, stageTransitions } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { readableOwnerId, requireReadAccount } from '../access.ts';
import { escapeLike, isUuid, requireStorableText } from '../validation.ts';
import { healthSummaryOf } from '../health/queries.ts';

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
  const escaped = escapeLike(needle);
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
  ...accountRelationParts,
  lastTransition: rowPart('lastTransition', getTableColumns(stageTransitions), alias(stageTransitions, LATEST_TRANSITION), 'id'),
};
const overviewStatements = statementCache(1);

/** The account of the `accountId` placeholder, with its relations and its latest transition. */
function overviewQuery(db: Db): Query {
  const latest = db
    .select()
    .from(stageTransitions)
    .where(eq(stageTransitions.accountId, accounts.id))
    .orderBy(desc(stageTransitions.accountVersion))
    .limit(1)
    .as(LATEST_TRANSITION);
  return selectAccountsWithRelations(db, partFields(overviewParts))
    .leftJoinLateral(latest, sql`true`)
    .where(eq(accounts.id, sql.placeholder('accountId')))
    .toSQL();
}

/**
 * An account with what a person needs to see beside it: stage, owners, health, the latest move; one statement,
 * as a card is drawn after every click. Refused when the reader may not read the account (an AE reads only the
 * accounts they sold), whatever button carried its id.
 */
export async function getAccountOverview(db: Db, params: { accountId: string; reader: Actor }): Promise<AccountOverview | undefined> {
  if (!isUuid(params.accountId)) return undefined;
  const [values] = await overviewStatements.run(db, 'overview', () => overviewQuery(db), { accountId: params.accountId });
  if (!values) return undefined;
  const { account, stage, csm, ae, health, lastTransition } = decodeParts(overviewParts, values).rows;
  if (!account || !stage) throw new Error(`The overview of account ${params.accountId} came back without its account or stage`);
  requireReadAccount(params.reader, account);
  return { account, stage, csm, ae, health: health ? healthSummaryOf(health) : null, lastTransition };
}
