// Reading renewals, as the reader may see them: the ones coming up and each account's latest.
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { type Renewal, accounts, renewals } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import { isUuid } from '../validation.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError } from '../errors.ts';
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
