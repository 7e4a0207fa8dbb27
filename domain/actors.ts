import type { TokenRole, User } from '../db/schema.ts';

/** Who is acting: a person (through Slack or a personal token) or a machine (an integration token, a rule). */
export interface Actor {
  userId: string | null;
  role: TokenRole;
  /** How the actor is named in history and messages. */
  label: string;
  /**
   * The rule acting, when a rule acts rather than a person or a token. A rule reads with the admin role, but
   * lifecycle lets it move a stage only one step forward: a rule carries out its trigger and decides nothing else.
   */
  rule?: string;
}

export function actorFromUser(user: Pick<User, 'id' | 'role' | 'name'>): Actor {
  return { userId: user.id, role: user.role, label: user.name };
}

/** The actor of an automatic rule (`rule` is its name, e.g. `first_value`), named in history by `label`. */
export function ruleActor(rule: string, label: string): Actor {
  return { userId: null, role: 'admin', label, rule };
}

/**
 * Lifeline itself reading what it already decided to send or compute (delivering a notification, a job, a rule):
 * it reads every account. SECURITY: never the reader of a request a person or a token makes; those pass their own
 * actor, so a surface that forgets cannot read more than its caller may.
 */
export const systemReader: Actor = Object.freeze({ userId: null, role: 'admin', label: 'Lifeline' });
