/**
 * People on the customer's side at a glance, as an account card shows them: the champions and executive sponsors
 * still there (how many, and the first few by name), the champions who left lately, and the CSM's latest sentiment.
 * Read for a reader who may read the account; a few rows whatever the number of contacts.
 */
import { and, asc, count, eq, isNull } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { type Contact, type CsmSentiment, contacts } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { type ChampionDeparture, recentChampionDepartures } from './relationship.ts';
import { listSentimentHistory } from './sentiment.ts';

/** How many of each key role a glance names; the rest are counted. */
export const NAMED_PER_ROLE = 3;

export interface KeyPeople {
  /** The first NAMED_PER_ROLE by name. */
  named: Pick<Contact, 'id' | 'name' | 'email'>[];
  total: number;
}

export interface AccountPeople {
  champions: KeyPeople;
  sponsors: KeyPeople;
  departures: ChampionDeparture[];
  sentiment: CsmSentiment | null;
}

async function keyPeople(db: Db | Tx, accountId: string, role: 'champion' | 'executive_sponsor'): Promise<KeyPeople> {
  const where = and(eq(contacts.accountId, accountId), eq(contacts.role, role), isNull(contacts.leftAt));
  const [named, [counted]] = await Promise.all([
    db.select({ id: contacts.id, name: contacts.name, email: contacts.email }).from(contacts).where(where).orderBy(asc(contacts.name), asc(contacts.id)).limit(NAMED_PER_ROLE),
    db.select({ total: count() }).from(contacts).where(where),
  ]);
  return { named, total: counted?.total ?? named.length };
}

/** The account's key people and sentiment for `reader`; refused as the account's sentiment history is. */
export async function getAccountPeople(db: Db | Tx, params: { reader: Actor; accountId: string; now: Date }): Promise<AccountPeople> {
  // The sentiment read checks the reader first: nothing else is read for someone who may not read the account.
  const [sentiment] = await listSentimentHistory(db, { reader: params.reader, accountId: params.accountId, limit: 1 });
  const [champions, sponsors, departures] = await Promise.all([
    keyPeople(db, params.accountId, 'champion'),
    keyPeople(db, params.accountId, 'executive_sponsor'),
    recentChampionDepartures(db, { accountIds: [params.accountId], now: params.now }),
  ]);
  return { champions, sponsors, departures, sentiment: sentiment ?? null };
}

