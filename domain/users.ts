import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { z } from 'zod';
import { type User, type UserRole, userRoles, users } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import { linkPersonToSlack, queueSlackEmailLookups } from './people-links.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError, SlackUserNotLinkedError } from './errors.ts';
import { isUuid, parseInput } from './validation.ts';

export async function findUserBySlackId(db: Db, slackUserId: string): Promise<User | undefined> {
  const [user] = await db.select().from(users).where(eq(users.slackUserId, slackUserId));
  return user;
}

/** The Lifeline user behind a Slack user id, or an error the bot shows to that person. */
export async function requireUserBySlackId(db: Db, slackUserId: string): Promise<User> {
  const user = await findUserBySlackId(db, slackUserId);
  if (!user) {
    throw new SlackUserNotLinkedError(
      'Your Slack account is not linked to Lifeline yet. Ask a Lifeline admin to link your Slack user to your Lifeline user.',
    );
  }
  return user;
}

export function getUsersByIds(db: Db, ids: readonly string[]): Promise<User[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.select().from(users).where(inArray(users.id, [...ids]));
}

export interface CreateUserParams {
  name: string;
  email: string;
  role: UserRole;
  slackUserId?: string | null;
}

export async function createUser(db: Db, params: CreateUserParams): Promise<User> {
  const [user] = await db
    .insert(users)
    .values({ name: params.name, email: params.email, role: params.role, slackUserId: params.slackUserId ?? null })
    .returning();
  if (!user) throw new Error('User insert returned no row');
  return user;
}

export interface ListUsersParams {
  role?: UserRole | null;
  /** Who is reading: people are read by people, not by integration tokens. */
  reader: Actor;
}

export async function listUsers(db: Db, params: ListUsersParams): Promise<User[]> {
  requireAccess(params.reader, 'read_people');
  return db
    .select()
    .from(users)
    .where(params.role ? eq(users.role, params.role) : undefined)
    .orderBy(asc(users.name), asc(users.id));
}

export interface LinkSlackUserParams {
  userId: string;
  /** A Slack member id (U… or W…), or null to unlink. */
  slackUserId: string | null;
  actor: Actor;
}

/** Links a Lifeline user to their Slack member id (admins), so the bot knows who is acting. */
export async function linkSlackUser(db: Db, params: LinkSlackUserParams): Promise<User> {
  requireAccess(params.actor, 'manage_people');
  const slackUserId = params.slackUserId?.trim() || null;
  if (slackUserId !== null && !/^[UW][A-Z0-9]{2,20}$/.test(slackUserId)) {
    throw new InvalidInputError(
      `"${slackUserId}" is not a Slack member id. Copy it from the person's Slack profile (⋮ → Copy member ID); it looks like U024BE7LH.`,
      'slackUserId',
    );
  }
  if (!isUuid(params.userId)) throw new NotFoundError(`No user with id ${params.userId}. List people with the \`users\` query.`, 'userId');
  // Linking goes through the one link rule: a Slack member already linked to someone else is refused.
  if (slackUserId) return (await linkPersonToSlack(db, { personId: params.userId, slackUserId, source: 'admin' })).user;
  const [user] = await db.update(users).set({ slackUserId }).where(eq(users.id, params.userId)).returning();
  if (!user) throw new NotFoundError(`No user with id ${params.userId}. List people with the \`users\` query.`, 'userId');
  return user;
}

/** Users by email, case-insensitive, for integrations that know people by email rather than by Lifeline id. */
export async function findUserIdsByEmail(db: Db, emails: readonly string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(emails.map((email) => email.trim().toLowerCase()).filter((email) => email !== ''))];
  if (wanted.length === 0) return new Map();
  const rows = await db.select({ id: users.id, email: users.email }).from(users).where(inArray(sql`lower(${users.email})`, wanted));
  return new Map(rows.map((row) => [row.email.toLowerCase(), row.id]));
}

export const MAX_UPSERT_PEOPLE = 2000;

export const personSchema = z.object({
  email: z.email('must be an email address').trim().max(320),
  name: z.string().trim().min(1, 'the name is required').max(200),
  role: z.enum(userRoles, `use one of ${userRoles.join(', ')}`),
  slackUserId: z
    .string()
    .trim()
    .regex(/^[UW][A-Z0-9]{2,20}$/, "must be a Slack member id such as U024BE7LH (the person's Slack profile → ⋮ → Copy member ID)")
    .nullish(),
  /** Whom they report to, by email: someone in the same call or already in Lifeline, a manager or an admin. */
  managerEmail: z.email('must be an email address').trim().nullish(),
});

export type PersonInput = z.input<typeof personSchema>;

export interface UpsertPeopleResult {
  created: number;
  updated: number;
  people: User[];
}

/**
 * Creates or updates people by email (case-insensitive), with their role, Slack link and manager: the way an
 * admin loads the team from an HR or identity system. Idempotent; a repeat of the same list changes nothing.
 * An omitted Slack id or manager keeps the current one. All or nothing. A person left without a Slack id is
 * queued to be looked up in Slack by email (`queueSlackEmailLookups`), so they link themselves without an admin.
 */
export async function upsertPeople(db: Db, params: { actor: Actor; people: PersonInput[] }): Promise<UpsertPeopleResult> {
  requireAccess(params.actor, 'manage_people');
  if (params.people.length > MAX_UPSERT_PEOPLE) {
    throw new InvalidInputError(`Send at most ${MAX_UPSERT_PEOPLE} people per call; split the list into several calls.`, 'people');
  }
  const people = params.people.map((person, index) => parseInput(personSchema, person, `people[${index}]`));
  const indexByEmail = new Map<string, number>();
  people.forEach((person, index) => {
    const email = person.email.toLowerCase();
    if (indexByEmail.has(email)) throw new InvalidInputError(`people[${index}].email: ${person.email} appears twice in this call.`, `people[${index}].email`);
    indexByEmail.set(email, index);
    if (person.managerEmail?.toLowerCase() === email) {
      throw new InvalidInputError(`people[${index}].managerEmail: ${person.name} cannot be their own manager.`, `people[${index}].managerEmail`);
    }
  });

  return db.transaction(async (tx) => {
    const emails = people.map((person) => person.email.toLowerCase());
    const managerEmails = people.flatMap((person) => (person.managerEmail ? [person.managerEmail.toLowerCase()] : []));
    const slackIds = people.flatMap((person) => (person.slackUserId ? [person.slackUserId] : []));
    const [existing, managers, slackHolders] = await Promise.all([
      tx.select({ email: users.email }).from(users).where(inArray(sql`lower(${users.email})`, emails)),
      managerEmails.length > 0 ? tx.select().from(users).where(inArray(sql`lower(${users.email})`, managerEmails)) : Promise.resolve([]),
      slackIds.length > 0 ? tx.select().from(users).where(inArray(users.slackUserId, slackIds)) : Promise.resolve([]),
    ]);

    // Each manager must be a manager or an admin, as they are after this call.
    const managerRole = new Map(managers.map((manager) => [manager.email.toLowerCase(), manager.role]));
    for (const person of people) managerRole.set(person.email.toLowerCase(), person.role);
    people.forEach((person, index) => {
      if (!person.managerEmail) return;
      const role = managerRole.get(person.managerEmail.toLowerCase());
      const field = `people[${index}].managerEmail`;
      if (!role) throw new InvalidInputError(`${field}: nobody in Lifeline or in this call has the email ${person.managerEmail}.`, field);
      if (role !== 'manager' && role !== 'admin') {
        throw new InvalidInputError(`${field}: ${person.managerEmail} is a ${role}; escalations go to a manager or an admin.`, field);
      }
    });
    const slackIdOwners = new Map<string, string>(slackHolders.map((holder) => [holder.slackUserId ?? '', holder.email.toLowerCase()]));
    people.forEach((person, index) => {
      if (!person.slackUserId) return;
      const owner = slackIdOwners.get(person.slackUserId);
      if (owner && owner !== person.email.toLowerCase()) {
        const field = `people[${index}].slackUserId`;
        throw new InvalidInputError(`${field}: Slack user ${person.slackUserId} is already linked to ${owner}. Unlink it there first.`, field);
      }
      slackIdOwners.set(person.slackUserId, person.email.toLowerCase());
    });

    const payload = JSON.stringify(
      people.map((person) => ({ e: person.email, n: person.name, r: person.role, s: person.slackUserId ?? null, m: person.managerEmail ?? null })),
    );
    await tx.execute(sql`
      insert into users (email, name, role, slack_user_id)
      select r.e, r.n, r.r::user_role, r.s from json_to_recordset(${payload}::json) as r(e text, n text, r text, s text, m text)
      on conflict (lower(email)) do update set
        name = excluded.name, role = excluded.role, slack_user_id = coalesce(excluded.slack_user_id, users.slack_user_id)`);
    // Managers are set once everyone exists, so a call may name a manager it creates itself.
    await tx.execute(sql`
      update users u set manager_id = m.id
      from json_to_recordset(${payload}::json) as r(e text, n text, r text, s text, m text)
      join users m on lower(m.email) = lower(r.m)
      where r.m is not null and lower(u.email) = lower(r.e)`);
    const saved = await tx.select().from(users).where(inArray(sql`lower(${users.email})`, emails));
    const byEmail = new Map(saved.map((user) => [user.email.toLowerCase(), user]));
    const ordered = emails.map((email) => byEmail.get(email)).filter((user): user is User => user !== undefined);
    // People given without a Slack id are looked up in Slack by email later, by the slack_links job: never here.
    await queueSlackEmailLookups(tx, { userIds: ordered.filter((user) => user.slackUserId === null).map((user) => user.id) });
    return { created: people.length - existing.length, updated: existing.length, people: ordered };
  });
}
