import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type User, type UserRole, users } from '../db/schema.ts';
import { SlackUserNotLinkedError } from './errors.ts';

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
