/**
 * People on the customer's side, as health explains a score: the relationship facts said beside the score's own
 * reasons ("champion left 12 days ago"). They are facts kept on the contacts (who left, when), put into words when
 * read, so the days count on without a recompute. They are not part of the score: no health component owns the
 * relationship, and a score that jumped the day someone clicked "left" would hide what usage and support say.
 */
import { type SQL, type SQLWrapper, and, desc, gt, inArray, isNotNull, lte, eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { contacts } from '../../db/schema.ts';
import { DAY_MS, daysBetween } from '../dates.ts';
import { isUuid } from '../validation.ts';

/** How long a champion's leaving is said beside the score. */
export const CHAMPION_LEFT_REASON_DAYS = 90;

export interface ChampionDeparture {
  accountId: string;
  contactId: string;
  name: string;
  leftAt: Date;
}

/** Where the departures said at `now` begin: CHAMPION_LEFT_REASON_DAYS before it. */
export function championDeparturesSince(now: Date): Date {
  return new Date(now.getTime() - CHAMPION_LEFT_REASON_DAYS * DAY_MS);
}

/**
 * The contacts whose leaving is said beside a score at `now`: champions who left after `since` and by `now`
 * (championDeparturesSince). Values, or placeholders for a statement built once and run with them.
 */
export function recentChampionDeparture(window: { now: Date | SQLWrapper; since: Date | SQLWrapper }): SQL {
  return and(eq(contacts.role, 'champion'), isNotNull(contacts.leftAt), lte(contacts.leftAt, window.now), gt(contacts.leftAt, window.since)) as SQL;
}

/**
 * Champions who left in the last CHAMPION_LEFT_REASON_DAYS, newest first, for these accounts. Not checked against a
 * reader: callers pass accounts their reader already read (a score, a card).
 */
export async function recentChampionDepartures(db: Db | Tx, params: { accountIds: readonly string[]; now: Date }): Promise<ChampionDeparture[]> {
  const ids = [...new Set(params.accountIds.filter(isUuid))];
  if (ids.length === 0) return [];
  const rows = await db
    .select({ accountId: contacts.accountId, contactId: contacts.id, name: contacts.name, leftAt: contacts.leftAt })
    .from(contacts)
    .where(and(inArray(contacts.accountId, ids), recentChampionDeparture({ now: params.now, since: championDeparturesSince(params.now) })))
    .orderBy(desc(contacts.leftAt));
  return rows.flatMap((row) => (row.leftAt ? [{ ...row, leftAt: row.leftAt }] : []));
}

/** "today", "1 day ago", "12 days ago". */
export function daysAgo(then: Date, now: Date): string {
  const days = Math.max(daysBetween(then, now), 0);
  if (days === 0) return 'today';
  return `${days} ${days === 1 ? 'day' : 'days'} ago`;
}

/** The words of a departure, as health reasons say them. */
export function championLeftReason(departure: Pick<ChampionDeparture, 'leftAt' | 'name'>, now: Date): string {
  return `champion left ${daysAgo(departure.leftAt, now)} (${departure.name})`;
}

/** The relationship reasons of each account, to say after the score's own reasons: one per champion who left. */
export async function relationshipReasons(db: Db | Tx, params: { accountIds: readonly string[]; now: Date }): Promise<Map<string, string[]>> {
  const byAccount = new Map<string, string[]>();
  for (const departure of await recentChampionDepartures(db, params)) {
    byAccount.set(departure.accountId, [...(byAccount.get(departure.accountId) ?? []), championLeftReason(departure, params.now)]);
  }
  return byAccount;
}

/** A score's reasons followed by the account's relationship reasons. */
export function withRelationshipReasons(reasons: readonly string[], relationship: readonly string[] | undefined): string[] {
  return relationship && relationship.length > 0 ? [...reasons, ...relationship] : [...reasons];
}
