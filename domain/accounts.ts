import { type SQL, and, asc, count, desc, eq, gt, ilike, inArray, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import {
  type Account,
  type LifecycleStage,
  type Segment,
  type StageTransition,
  type TransitionSource,
  type User,
  accounts,
  lifecycleStages,
  stageTransitions,
  users,
} from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError } from './errors.ts';

export interface AccountFilter {
  stage?: string | null;
  /** Accounts where this user is the CSM or the AE. */
  ownerId?: string | null;
  segment?: Segment | null;
}

export interface ListAccountsParams {
  filter?: AccountFilter;
  first: number;
  after?: string | null;
}

export interface AccountPage {
  accounts: Account[];
  hasNextPage: boolean;
  /** Cursor of each returned account, in order. */
  cursors: string[];
}

export const MAX_PAGE_SIZE = 100;

// Cursors are opaque to clients: base64url of the sort key (name, id), so paging is stable under inserts.
function encodeCursor(account: Pick<Account, 'name' | 'id'>): string {
  return Buffer.from(JSON.stringify([account.name, account.id])).toString('base64url');
}

function decodeCursor(cursor: string): { name: string; id: string } {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2 && typeof decoded[0] === 'string' && typeof decoded[1] === 'string') {
      return { name: decoded[0], id: decoded[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidInputError('The `after` cursor is not one this API issued. Pass the `endCursor` of a previous page.', 'after');
}

function filterConditions(filter: AccountFilter | undefined): SQL[] {
  const conditions: SQL[] = [];
  if (filter?.stage) conditions.push(eq(accounts.stageKey, filter.stage));
  if (filter?.segment) conditions.push(eq(accounts.segment, filter.segment));
  if (filter?.ownerId) {
    const owner = or(eq(accounts.csmId, filter.ownerId), eq(accounts.aeId, filter.ownerId));
    if (owner) conditions.push(owner);
  }
  return conditions;
}

export async function listAccounts(db: Db, params: ListAccountsParams): Promise<AccountPage> {
  if (!Number.isInteger(params.first) || params.first < 0 || params.first > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`\`first\` must be between 0 and ${MAX_PAGE_SIZE}; page through larger sets with \`after\`.`, 'first');
  }
  const conditions = filterConditions(params.filter);
  if (params.after) {
    const cursor = decodeCursor(params.after);
    const afterCursor = or(gt(accounts.name, cursor.name), and(eq(accounts.name, cursor.name), gt(accounts.id, cursor.id)));
    if (afterCursor) conditions.push(afterCursor);
  }
  const rows = await db
    .select()
    .from(accounts)
    .where(and(...conditions))
    .orderBy(asc(accounts.name), asc(accounts.id))
    .limit(params.first + 1);
  const page = rows.slice(0, params.first);
  return { accounts: page, hasNextPage: rows.length > params.first, cursors: page.map(encodeCursor) };
}

export async function countAccounts(db: Db, filter: AccountFilter | undefined): Promise<number> {
  const [row] = await db
    .select({ total: count() })
    .from(accounts)
    .where(and(...filterConditions(filter)));
  return row?.total ?? 0;
}

export async function getAccount(db: Db | Tx, id: string): Promise<Account | undefined> {
  if (!isUuid(id)) return undefined;
  const [account] = await db.select().from(accounts).where(eq(accounts.id, id));
  return account;
}

export async function getAccountsByIds(db: Db, ids: readonly string[]): Promise<Account[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return db.select().from(accounts).where(inArray(accounts.id, valid));
}

/** Accounts whose name matches, best first: exact, then prefix, then anywhere in the name. */
export async function searchAccountsByName(db: Db, query: string, limit = 10): Promise<Account[]> {
  const needle = query.trim();
  if (needle === '') return [];
  const escaped = needle.replace(/[\\%_]/g, (char) => `\\${char}`);
  return db
    .select()
    .from(accounts)
    .where(ilike(accounts.name, `%${escaped}%`))
    .orderBy(
      sql`case when lower(${accounts.name}) = lower(${needle}) then 0 when lower(${accounts.name}) like lower(${`${escaped}%`}) then 1 else 2 end`,
      asc(accounts.name),
    )
    .limit(limit);
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

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

export interface AccountOverview {
  account: Account;
  stage: LifecycleStage;
  csm: User | null;
  ae: User | null;
  lastTransition: StageTransition | null;
}

/** An account with what a person needs to see beside it: stage, owners, the latest move. */
export async function getAccountOverview(db: Db, accountId: string): Promise<AccountOverview | undefined> {
  const account = await getAccount(db, accountId);
  if (!account) return undefined;
  const ownerIds = [account.csmId, account.aeId].filter((id): id is string => id !== null);
  const [stageRows, owners, lastTransitions] = await Promise.all([
    db.select().from(lifecycleStages).where(eq(lifecycleStages.key, account.stageKey)),
    ownerIds.length > 0 ? db.select().from(users).where(inArray(users.id, ownerIds)) : Promise.resolve([]),
    db
      .select()
      .from(stageTransitions)
      .where(eq(stageTransitions.accountId, account.id))
      .orderBy(desc(stageTransitions.accountVersion))
      .limit(1),
  ]);
  const stage = stageRows[0];
  if (!stage) throw new Error(`Stage ${account.stageKey} of account ${account.id} is missing`);
  return {
    account,
    stage,
    csm: owners.find((user) => user.id === account.csmId) ?? null,
    ae: owners.find((user) => user.id === account.aeId) ?? null,
    lastTransition: lastTransitions[0] ?? null,
  };
}
