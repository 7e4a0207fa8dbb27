import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type User, type UserRole, users } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import { isUuid } from './accounts.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError, SlackUserNotLinkedError } from './errors.ts';

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
}

export function listUsers(db: Db, params: ListUsersParams = {}): Promise<User[]> {
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
  return db.transaction(async (tx) => {
    if (slackUserId) {
      const [holder] = await tx.select().from(users).where(eq(users.slackUserId, slackUserId));
      if (holder && holder.id !== params.userId) {
        throw new InvalidInputError(`Slack user ${slackUserId} is already linked to ${holder.name}. Unlink it there first.`, 'slackUserId');
      }
    }
    const [user] = await tx.update(users).set({ slackUserId }).where(eq(users.id, params.userId)).returning();
    if (!user) throw new NotFoundError(`No user with id ${params.userId}. List people with the \`users\` query.`, 'userId');
    return user;
  });
}

/** Users by email, case-insensitive, for integrations that know people by email rather than by Lifeline id. */
export async function findUserIdsByEmail(db: Db, emails: readonly string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(emails.map((email) => email.trim().toLowerCase()).filter((email) => email !== ''))];
  if (wanted.length === 0) return new Map();
  const rows = await db.select({ id: users.id, email: users.email }).from(users).where(inArray(sql`lower(${users.email})`, wanted));
  return new Map(rows.map((row) => [row.email.toLowerCase(), row.id]));
}
