import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type Renewal, accounts, renewals } from '../db/schema.ts';
import { InvalidInputError } from './errors.ts';

export interface ListRenewalsParams {
  withinDays: number;
  /** Only renewals of accounts this AE sold. */
  aeId?: string | null;
  now?: Date;
}

/**
 * Renewals coming up, soonest first. Reading only: opening windows and recording outcomes belong to
 * domain/renewals.ts and its job.
 */
export function listRenewals(db: Db, params: ListRenewalsParams): Promise<Renewal[]> {
  if (!Number.isInteger(params.withinDays) || params.withinDays < 0 || params.withinDays > 3660) {
    throw new InvalidInputError('withinDays must be a whole number of days from 0 to 3660.', 'withinDays');
  }
  const today = (params.now ?? new Date()).toISOString().slice(0, 10);
  return db
    .select({ renewal: renewals })
    .from(renewals)
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(
      and(
        sql`${renewals.contractEnd} between ${today}::date and ${today}::date + ${params.withinDays}::int`,
        params.aeId ? eq(accounts.aeId, params.aeId) : undefined,
      ),
    )
    .orderBy(asc(renewals.contractEnd), asc(renewals.id))
    .limit(500)
    .then((rows) => rows.map((row) => row.renewal));
}
