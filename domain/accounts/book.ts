// A person's book: the accounts they own (as CSM or AE) with what waits on them, for App Home and /lifeline.
import { and, asc, eq, gte, inArray, lte, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { type Account, type AccountHealth, type Handoff, accountHealth, accounts, handoffs } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { type DigestItem, listDigestItems } from '../digest.ts';
import { ForbiddenError } from '../errors.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, lastContractEndInWindow } from '../renewals/window.ts';
import { isoDay } from '../dates.ts';

export interface BookAccount {
  account: Account;
  /** The score as the Home tab shows it beside the account, without its words. */
  health: Pick<AccountHealth, 'accountId' | 'score' | 'status' | 'scoreDayAgo' | 'scoreWeekAgo' | 'computedAt'> | null;
}

export interface Book {
  accounts: BookAccount[];
  /** Handoffs where the next step is this person's. */
  handoffsWaiting: (Handoff & { accountName: string })[];
  renewals: Account[];
  atRisk: DigestItem[];
}

/** A book is the reader's own: the accounts they own, as a person who may read accounts. */
function bookOwnerId(reader: Actor): string {
  requireAccess(reader, 'read_accounts');
  if (!reader.userId) throw new ForbiddenError('A book belongs to a person, and this reader is not linked to a Lifeline user.');
  return reader.userId;
}

/**
 * Accounts the reader owns (as CSM or AE) whose contract ends within the window, soonest first. `days` is the
 * renewal window (LIFELINE_RENEWAL_WINDOW_DAYS); the default window when omitted.
 */
export async function listUpcomingRenewals(db: Db, params: { reader: Actor; now: Date; days?: number }): Promise<Account[]> {
  const userId = bookOwnerId(params.reader);
  const today = isoDay(params.now);
  const until = lastContractEndInWindow(today, params.days ?? DEFAULT_RENEWAL_WINDOW_DAYS);
  return db
    .select()
    .from(accounts)
    .where(
      and(
        or(eq(accounts.csmId, userId), eq(accounts.aeId, userId)),
        gte(accounts.contractEnd, today),
        lte(accounts.contractEnd, until),
      ),
    )
    .orderBy(asc(accounts.contractEnd), asc(accounts.name));
}

/**
 * The reader's own book, for App Home: their accounts with health, what waits on them, renewals within the renewal
 * window (`renewalWindowDays`, the configured one; the default when omitted), at-risk items.
 */
export async function getBook(db: Db, params: { reader: Actor; now: Date; renewalWindowDays?: number }): Promise<Book> {
  const userId = bookOwnerId(params.reader);
  const renewalWindowDays = params.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  const [owned, waiting, renewals, atRisk] = await Promise.all([
    db
      .select({ account: accounts, health: accountHealth })
      .from(accounts)
      .leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id))
      .where(or(eq(accounts.csmId, userId), eq(accounts.aeId, userId)))
      .orderBy(asc(accounts.name)),
    db
      .select({ handoff: handoffs, accountName: accounts.name })
      .from(handoffs)
      .innerJoin(accounts, eq(accounts.id, handoffs.accountId))
      .where(
        or(
          and(eq(handoffs.aeId, userId), eq(handoffs.status, 'pending')),
          and(eq(handoffs.csmId, userId), inArray(handoffs.status, ['confirmed', 'accepted'])),
        ),
      )
      .orderBy(asc(handoffs.slaDueAt)),
    listUpcomingRenewals(db, { reader: params.reader, now: params.now, days: renewalWindowDays }),
    listDigestItems(db, { csmId: userId, now: params.now, reader: params.reader }),
  ]);
  return {
    accounts: owned,
    handoffsWaiting: waiting.map((row) => ({ ...row.handoff, accountName: row.accountName })),
    renewals,
    atRisk,
  };
}
