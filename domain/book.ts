import { and, asc, eq, gte, inArray, lte, or } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type Account, type AccountHealth, type Handoff, accountHealth, accounts, handoffs } from '../db/schema.ts';
import { type DigestItem, listDigestItems } from './digest.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, lastContractEndInWindow } from './renewals.ts';
import { isoDay } from './dates.ts';

export interface BookAccount {
  account: Account;
  health: AccountHealth | null;
}

export interface Book {
  accounts: BookAccount[];
  /** Handoffs where the next step is this person's. */
  handoffsWaiting: (Handoff & { accountName: string })[];
  renewals: Account[];
  atRisk: DigestItem[];
}

/**
 * Accounts this person owns (as CSM or AE) whose contract ends within the window, soonest first. `days` is the
 * renewal window (LIFELINE_RENEWAL_WINDOW_DAYS); the default window when omitted.
 */
export function listUpcomingRenewals(db: Db, params: { userId: string; now: Date; days?: number }): Promise<Account[]> {
  const today = isoDay(params.now);
  const until = lastContractEndInWindow(today, params.days ?? DEFAULT_RENEWAL_WINDOW_DAYS);
  return db
    .select()
    .from(accounts)
    .where(
      and(
        or(eq(accounts.csmId, params.userId), eq(accounts.aeId, params.userId)),
        gte(accounts.contractEnd, today),
        lte(accounts.contractEnd, until),
      ),
    )
    .orderBy(asc(accounts.contractEnd), asc(accounts.name));
}

/**
 * One person's book, for App Home: their accounts with health, what waits on them, renewals within the renewal
 * window (`renewalWindowDays`, the configured one; the default when omitted), at-risk items.
 */
export async function getBook(db: Db, params: { userId: string; now: Date; renewalWindowDays?: number }): Promise<Book> {
  const renewalWindowDays = params.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  const [owned, waiting, renewals, atRisk] = await Promise.all([
    db
      .select({ account: accounts, health: accountHealth })
      .from(accounts)
      .leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id))
      .where(or(eq(accounts.csmId, params.userId), eq(accounts.aeId, params.userId)))
      .orderBy(asc(accounts.name)),
    db
      .select({ handoff: handoffs, accountName: accounts.name })
      .from(handoffs)
      .innerJoin(accounts, eq(accounts.id, handoffs.accountId))
      .where(
        or(
          and(eq(handoffs.aeId, params.userId), eq(handoffs.status, 'pending')),
          and(eq(handoffs.csmId, params.userId), inArray(handoffs.status, ['confirmed', 'accepted'])),
        ),
      )
      .orderBy(asc(handoffs.slaDueAt)),
    listUpcomingRenewals(db, { userId: params.userId, now: params.now, days: renewalWindowDays }),
    listDigestItems(db, { csmId: params.userId, now: params.now }),
  ]);
  return {
    accounts: owned,
    handoffsWaiting: waiting.map((row) => ({ ...row.handoff, accountName: row.accountName })),
    renewals,
    atRisk,
  };
}
