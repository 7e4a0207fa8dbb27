import type { TokenRole, User } from '../db/schema.ts';

/** Who is acting: a person (through Slack or a personal token) or a machine (an integration token, a rule). */
export interface Actor {
  userId: string | null;
  role: TokenRole;
  /** How the actor is named in history and messages. */
  label: string;
}

export function actorFromUser(user: Pick<User, 'id' | 'role' | 'name'>): Actor {
  return { userId: user.id, role: user.role, label: user.name };
}
