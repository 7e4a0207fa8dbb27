/**
 * People on the customer's side: an account's contacts (champion, executive sponsor, admin, user), loaded in batches
 * by account and email, read as the reader may read accounts, and marked as left. A champion marked as left is a
 * signal: a `champion_left` rule firing, once per contact, with its alert and task (domain/rules.ts). This file also
 * links NPS/CSAT answers to contacts, by account and email, when they are read.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { type Contact, type ContactRole, type SurveyResponse, accounts, contactRoles, contacts, surveyResponses } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { type Firing, recordEventFirings } from '../rules.ts';
import { isUuid, parseInput } from '../validation.ts';
import { accountToChange, readableAccount, requirePeopleRights } from './rights.ts';

export type { Contact, ContactRole };

export const MAX_UPSERT_CONTACTS = 1000;

/** Champions first, then sponsors, admins and users: the order every list shows people in. */
const roleOrder = sql`array_position(array['champion', 'executive_sponsor', 'admin', 'user']::contact_role[], ${contacts.role})`;

const contactSchema = z.object({
  accountId: z.string().refine(isUuid, 'must be an account id (a UUID)'),
  name: z.string().trim().min(1, 'the name is required').max(200, 'at most 200 characters'),
  email: z.email('must be an email address').trim().max(320),
  role: z.enum(contactRoles, `use one of ${contactRoles.join(', ')}`).default('user'),
});

export type ContactInput = z.input<typeof contactSchema>;

export interface UpsertContactsResult {
  created: number;
  updated: number;
  unchanged: number;
  /** The contacts sent, as they are now, in the order sent. */
  contacts: Contact[];
}

/**
 * Creates or updates contacts by account and email (case-insensitive), with their name and role: the way a CRM sync
 * or a person loads an account's people. Idempotent: sending the same list again changes nothing (not even
 * `updatedAt`). Whether a contact left is not part of it: a sync that still lists someone who left does not bring
 * them back. All or nothing; the actor must be allowed to change the people of every account named.
 */
export async function upsertContacts(db: Db, params: { actor: Actor; contacts: ContactInput[]; now?: Date }): Promise<UpsertContactsResult> {
  if (params.contacts.length > MAX_UPSERT_CONTACTS) {
    throw new InvalidInputError(`Send at most ${MAX_UPSERT_CONTACTS} contacts per call; split the list into several calls.`, 'contacts');
  }
  const rows = params.contacts.map((contact, index) => parseInput(contactSchema, contact, `contacts[${index}]`));
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    const key = `${row.accountId.toLowerCase()} ${row.email.toLowerCase()}`;
    if (seen.has(key)) throw new InvalidInputError(`contacts[${index}].email: ${row.email} appears twice for the same account in this call.`, `contacts[${index}].email`);
    seen.add(key);
  });
  if (rows.length === 0) return { created: 0, updated: 0, unchanged: 0, contacts: [] };
  const now = params.now ?? new Date();

  return db.transaction(async (tx) => {
    const accountIds = [...new Set(rows.map((row) => row.accountId.toLowerCase()))];
    for (const accountId of accountIds) {
      const index = rows.findIndex((row) => row.accountId.toLowerCase() === accountId);
      const account = await accountToChange(tx, { accountId, field: `contacts[${index}].accountId` });
      await requirePeopleRights(tx, { actor: params.actor, account, action: `change ${account.name}'s contacts` });
    }
    const payload = JSON.stringify(rows.map((row, index) => ({ i: index, a: row.accountId, n: row.name, e: row.email, r: row.role })));
    const written = await queryRows<{ inserted: boolean }>(
      tx,
      sql`
      insert into contacts (account_id, name, email, role, created_at, updated_at)
      select r.a::uuid, r.n, r.e, r.r::contact_role, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
      from json_to_recordset(${payload}::json) as r(i int, a text, n text, e text, r text)
      order by r.i
      on conflict (account_id, lower(email)) do update set
        name = excluded.name, email = excluded.email, role = excluded.role, updated_at = excluded.updated_at
        where (contacts.name, contacts.email, contacts.role) is distinct from (excluded.name, excluded.email, excluded.role)
      returning (xmax = 0) as inserted`,
    );
    const created = written.filter((row) => row.inserted).length;
    const saved = await queryRows<{ id: string; i: number }>(
      tx,
      sql`
      select c.id, r.i from json_to_recordset(${payload}::json) as r(i int, a text, n text, e text, r text)
      join contacts c on c.account_id = r.a::uuid and lower(c.email) = lower(r.e)
      order by r.i`,
    );
    const byId = new Map((await tx.select().from(contacts).where(inArray(contacts.id, saved.map((row) => row.id)))).map((contact) => [contact.id, contact]));
    return {
      created,
      updated: written.length - created,
      unchanged: rows.length - written.length,
      contacts: saved.map((row) => byId.get(row.id)).filter((contact): contact is Contact => contact !== undefined),
    };
  });
}

/**
 * An account's contacts, champions first, for everyone who reads the account; null when there is no such account
 * the reader may read (an account executive's are the accounts they sold).
 */
export async function listContacts(db: Db | Tx, params: { reader: Actor; accountId: string; includeLeft?: boolean }): Promise<Contact[] | null> {
  try {
    await readableAccount(db, { accountId: params.accountId, reader: params.reader });
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
  return db
    .select()
    .from(contacts)
    .where(and(eq(contacts.accountId, params.accountId), params.includeLeft === false ? sql`${contacts.leftAt} is null` : undefined))
    .orderBy(roleOrder, asc(contacts.name), asc(contacts.id));
}

/** The contacts of many accounts (for loaders), champions first; accounts the reader may not read are left out. */
export async function listContactsByAccountIds(db: Db, params: { reader: Actor; accountIds: readonly string[] }): Promise<Contact[]> {
  const aeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  return db
    .select({ contact: contacts })
    .from(contacts)
    .innerJoin(accounts, eq(accounts.id, contacts.accountId))
    .where(and(inArray(contacts.accountId, ids), aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(asc(contacts.accountId), roleOrder, asc(contacts.name), asc(contacts.id))
    .then((rows) => rows.map((row) => row.contact));
}

/** One contact, or undefined when there is none the reader may see. */
export async function getContact(db: Db | Tx, params: { reader: Actor; id: string }): Promise<Contact | undefined> {
  const aeId = readableOwnerId(params.reader);
  if (!isUuid(params.id)) return undefined;
  const [row] = await db
    .select({ contact: contacts })
    .from(contacts)
    .innerJoin(accounts, eq(accounts.id, contacts.accountId))
    .where(and(eq(contacts.id, params.id), aeId ? eq(accounts.aeId, aeId) : undefined));
  return row?.contact;
}

export interface MarkContactLeftResult {
  contact: Contact;
  /** The champion_left firing this call recorded; null for another role, or when the contact had already left. */
  firing: Firing | null;
}

/**
 * Records that a contact left the customer, when (`leftAt`, not in the future; now by default) and who said so.
 * Marking someone who already left changes nothing. A champion leaving is a signal: a `champion_left` rule firing,
 * once per contact (its occasion), which alerts the CSM and gives them the task its trigger asks for, committed with
 * the change. An account in a final stage (churned) fires nothing.
 */
export async function markContactLeft(db: Db, params: { actor: Actor; contactId: string; leftAt?: Date | null; now?: Date }): Promise<MarkContactLeftResult> {
  const now = params.now ?? new Date();
  const leftAt = params.leftAt ?? now;
  if (leftAt.getTime() > now.getTime()) throw new InvalidInputError('`leftAt` is in the future: say when the contact left, today or earlier.', 'leftAt');
  return db.transaction(async (tx) => {
    const found = await getContact(tx, { reader: params.actor, id: params.contactId });
    if (!found) throw new NotFoundError('There is no such contact you can see. Check the contact id (an account’s `contacts` lists them).', 'contactId');
    const account = await accountToChange(tx, { accountId: found.accountId });
    await requirePeopleRights(tx, { actor: params.actor, account, action: `mark ${account.name}'s contacts as left` });
    const [marked] = await tx
      .update(contacts)
      .set({ leftAt, leftMarkedBy: params.actor.userId, leftMarkedByLabel: params.actor.label, updatedAt: now })
      .where(and(eq(contacts.id, found.id), sql`${contacts.leftAt} is null`))
      .returning();
    // Already left (or marked by someone else a moment ago): nothing more happens.
    if (!marked) return { contact: (await getContact(tx, { reader: params.actor, id: found.id })) ?? found, firing: null };
    if (marked.role !== 'champion') return { contact: marked, firing: null };
    const [firing] = await recordEventFirings(
      tx,
      now,
      sql`
      select 'champion_left', c.account_id, c.id::text,
             format('champion %s (%s) left on %s', c.name, c.email, to_char(c.left_at at time zone 'UTC', 'YYYY-MM-DD')),
             jsonb_build_object('contactId', c.id)
      from contacts c
      join accounts a on a.id = c.account_id
      join lifecycle_stages s on s.key = a.stage_key and not s.terminal
      where c.id = ${marked.id} and c.role = 'champion'`,
    );
    return { contact: marked, firing: firing ?? null };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// NPS/CSAT answers and contacts: linked when read, by account and email (case-insensitive). A stored link would have
// to be written again whenever either side arrives later (answers are often imported before the contacts are), and
// the unique (account, lower(email)) index already makes the join one index lookup.

/** The key an answer and a contact are matched on. */
export function contactKey(accountId: string, email: string): string {
  return `${accountId}|${email.trim().toLowerCase()}`;
}

/** The contacts of these (account, email) keys that the reader may see, keyed by `contactKey`. */
export async function findContactsByEmail(db: Db, params: { reader: Actor; keys: readonly { accountId: string; email: string }[] }): Promise<Map<string, Contact>> {
  const aeId = readableOwnerId(params.reader);
  const wanted = params.keys.filter((key) => isUuid(key.accountId) && key.email.trim() !== '');
  if (wanted.length === 0) return new Map();
  const payload = JSON.stringify(wanted.map((key) => ({ a: key.accountId, e: key.email.trim().toLowerCase() })));
  const rows = await db
    .select({ contact: contacts })
    .from(contacts)
    .innerJoin(accounts, eq(accounts.id, contacts.accountId))
    .where(
      and(
        sql`(${contacts.accountId}, lower(${contacts.email})) in (select r.a::uuid, r.e from json_to_recordset(${payload}::json) as r(a text, e text))`,
        aeId ? eq(accounts.aeId, aeId) : undefined,
      ),
    );
  return new Map(rows.map((row) => [contactKey(row.contact.accountId, row.contact.email), row.contact]));
}

/** What a contact answered (NPS and CSAT), newest first, as the reader may see it. */
export async function listContactAnswers(db: Db, params: { reader: Actor; contactId: string; limit?: number }): Promise<SurveyResponse[]> {
  const contact = await getContact(db, { reader: params.reader, id: params.contactId });
  if (!contact) return [];
  return db
    .select()
    .from(surveyResponses)
    .where(and(eq(surveyResponses.accountId, contact.accountId), sql`lower(${surveyResponses.respondentEmail}) = lower(${contact.email})`))
    .orderBy(sql`${surveyResponses.respondedAt} desc`)
    .limit(Math.min(Math.max(params.limit ?? 20, 1), 100));
}
