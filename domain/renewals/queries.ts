// Reading renewals, as the reader may see them: the ones coming up, each account's latest, and one with its calls.
import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { type Account, type Renewal, type RenewalCall, type RenewalOutcome, accounts, renewalCalls, renewalOutcomes, renewals } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import { isUuid } from '../validation.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { requireRenewalRights } from './rights.ts';
import { isoDay } from '../dates.ts';
import { MAX_RENEWAL_WINDOW_DAYS } from './window.ts';

export interface ListRenewalsParams {
  withinDays: number;
  /** Who is reading: an account executive lists only renewals of accounts they sold. */
  reader: Actor;
  now?: Date;
}

/**
 * Renewals coming up, soonest first. Reading only: opening windows and recording outcomes belong to window.ts
 * and the daily pass (checkpoints.ts).
 */
export async function listRenewals(db: Db, params: ListRenewalsParams): Promise<Renewal[]> {
  const readableAeId = readableOwnerId(params.reader);
  if (!Number.isInteger(params.withinDays) || params.withinDays < 0 || params.withinDays > MAX_RENEWAL_WINDOW_DAYS) {
    throw new InvalidInputError(`withinDays must be a whole number of days from 0 to ${MAX_RENEWAL_WINDOW_DAYS}.`, 'withinDays');
  }
  const today = isoDay(params.now ?? new Date());
  return db
    .select({ renewal: renewals })
    .from(renewals)
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(
      and(
        sql`${renewals.contractEnd} between ${today}::date and ${today}::date + ${params.withinDays}::int`,
        readableAeId ? eq(accounts.aeId, readableAeId) : undefined,
      ),
    )
    .orderBy(asc(renewals.contractEnd), asc(renewals.id))
    .limit(500)
    .then((rows) => rows.map((row) => row.renewal));
}

/** The latest renewal (latest contract end) of each account the reader may read, in one statement (for loaders). */
export async function getLatestRenewalsByAccountIds(db: Db, params: { accountIds: readonly string[]; reader: Actor }): Promise<Renewal[]> {
  const readableAeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .selectDistinctOn([renewals.accountId], { renewal: renewals })
    .from(renewals)
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(and(inArray(renewals.accountId, ids), readableAeId ? eq(accounts.aeId, readableAeId) : undefined))
    .orderBy(renewals.accountId, desc(renewals.contractEnd));
  return rows.map((row) => row.renewal);
}

/** The renewals of these ids whose account the reader may read, in one statement (for loaders); the others are left out. */
export async function getRenewalsByIds(db: Db, params: { ids: readonly string[]; reader: Actor }): Promise<Renewal[]> {
  const readableAeId = readableOwnerId(params.reader);
  const ids = params.ids.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .select({ renewal: renewals })
    .from(renewals)
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(and(inArray(renewals.id, ids), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
  return rows.map((row) => row.renewal);
}

/** A renewal as a person acting on it sees it: its account, every forecast call (oldest first), its current outcome. */
export interface RenewalDesk {
  renewal: Renewal;
  account: Account;
  calls: RenewalCall[];
  outcome: RenewalOutcome | null;
}

/**
 * One renewal with its calls and current outcome, for a surface that shows or acts on it (the renewal messages in
 * Slack). An account executive reads only renewals of accounts they sold; with `toAct`, the reader must also be
 * someone who may call the renewal and record its outcome (the account's CSM or AE, managers, admins).
 */
export async function getRenewalDesk(db: Db, params: { renewalId: string; reader: Actor; toAct?: string }): Promise<RenewalDesk> {
  const aeId = readableOwnerId(params.reader);
  const [row] = isUuid(params.renewalId)
    ? await db
        .select({ renewal: renewals, account: accounts })
        .from(renewals)
        .innerJoin(accounts, eq(accounts.id, renewals.accountId))
        .where(and(eq(renewals.id, params.renewalId), aeId ? eq(accounts.aeId, aeId) : undefined))
    : [];
  if (!row) throw new NotFoundError('That renewal no longer exists, or you cannot see it. `/lifeline renewals` lists yours.', 'renewalId');
  if (params.toAct) requireRenewalRights(params.reader, row.account, params.toAct);
  const [calls, outcomes] = await Promise.all([
    db.select().from(renewalCalls).where(eq(renewalCalls.renewalId, row.renewal.id)).orderBy(asc(renewalCalls.calledAt), asc(renewalCalls.id)),
    db.select().from(renewalOutcomes).where(and(eq(renewalOutcomes.renewalId, row.renewal.id), isNull(renewalOutcomes.supersededAt))),
  ]);
  return { ...row, calls, outcome: outcomes[0] ?? null };
}
