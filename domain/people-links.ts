/**
 * People linking themselves to Slack by email: the one rule for linking a Lifeline person to a Slack member found
 * by email (`linkPersonToSlack`), and the queue of email lookups ingestion leaves for the `slack_links` job, with
 * what Slack answered for each person.
 */
import { and, asc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import { type SlackEmailLookup, type User, slackEmailLookups, users } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { NotFoundError, SlackLinkRefusedError } from './errors.ts';
import { isUuid } from './validation.ts';

const NOT_LINKED = 'Your Slack account is not linked to Lifeline yet.';

/**
 * Who found the Slack member: the `slack_links` job asking Slack by email, the person's own Slack profile, or an
 * admin naming it (`linkSlackUser`), the only one who may replace a person's existing link.
 */
export type SlackLinkSource = 'email_lookup' | 'slack_profile' | 'admin';

export type LinkPersonToSlackParams = ({ personId: string; email?: never } | { email: string; personId?: never }) & {
  slackUserId: string;
  source: SlackLinkSource;
};

export interface LinkPersonToSlackResult {
  user: User;
  /** False when the person was already linked to this very member. */
  linked: boolean;
}

/**
 * Links a Lifeline person, by id or by email (case-insensitive, exactly one person), to a Slack member. Refuses,
 * with a SlackLinkRefusedError saying what to do, a member already linked to someone else and a person already
 * linked to another member unless an admin says so: an existing link is only ever changed by an admin
 * (`linkSlackUser`), never silently. A member linked to someone else is refused to everyone, admins included.
 */
export async function linkPersonToSlack(db: Db, params: LinkPersonToSlackParams): Promise<LinkPersonToSlackResult> {
  const self = params.source === 'slack_profile';
  return db.transaction(async (tx) => {
    const person = await findPerson(tx, params, self);
    if (person.slackUserId === params.slackUserId) return { user: person, linked: false };
    if (person.slackUserId !== null && params.source !== 'admin') {
      throw new SlackLinkRefusedError(
        self
          ? `${NOT_LINKED} ${person.email} is ${person.name}'s email in Lifeline, and ${person.name} is already linked to another Slack user. Ask a Lifeline admin which Slack user is yours.`
          : `${person.name} (${person.email}) is already linked to Slack user ${person.slackUserId}; Slack gives ${params.slackUserId} for that email. An admin changes the link with linkSlackUser if it is wrong.`,
        'person_linked_elsewhere',
      );
    }
    const [holder] = await tx.select().from(users).where(eq(users.slackUserId, params.slackUserId));
    if (holder) {
      throw new SlackLinkRefusedError(`Slack user ${params.slackUserId} is already linked to ${holder.name}. Unlink it there first.`, 'slack_id_taken');
    }
    const [user] = await tx
      .update(users)
      .set({ slackUserId: params.slackUserId })
      // Unless an admin replaces it, the link is set only where there is none, so two racing links cannot both win.
      .where(and(eq(users.id, person.id), params.source === 'admin' ? undefined : isNull(users.slackUserId)))
      .returning();
    if (!user) throw new SlackLinkRefusedError(`${person.name} was linked to Slack by someone else a moment ago; nothing was changed.`, 'person_linked_elsewhere');
    const now = new Date();
    await tx
      .insert(slackEmailLookups)
      .values({ userId: user.id, status: 'linked', slackUserId: params.slackUserId, checkedAt: now, lastError: null })
      .onConflictDoUpdate({ target: slackEmailLookups.userId, set: { status: 'linked', slackUserId: params.slackUserId, checkedAt: now, lastError: null } });
    return { user, linked: true };
  });
}

async function findPerson(tx: Tx, params: LinkPersonToSlackParams, self: boolean): Promise<User> {
  if (params.personId !== undefined) {
    const [person] = isUuid(params.personId) ? await tx.select().from(users).where(eq(users.id, params.personId)) : [];
    if (!person) throw new NotFoundError(`No person with id ${params.personId}. List people with the \`users\` query.`, 'personId');
    return person;
  }
  const email = params.email.trim();
  if (email === '') {
    throw new SlackLinkRefusedError(
      `${NOT_LINKED} Your Slack profile has no email Lifeline can read, so Lifeline cannot tell who you are. Ask a Lifeline admin to link your Slack user.`,
      'no_email',
    );
  }
  const matches = await tx
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()))
    .orderBy(asc(users.email));
  const [person] = matches;
  if (!person) {
    throw new SlackLinkRefusedError(
      self
        ? `${NOT_LINKED} Nobody in Lifeline has your Slack email, ${email}. Ask a Lifeline admin to add you with this email, then run the command again.`
        : `Nobody in Lifeline has the email ${email}.`,
      'no_match',
    );
  }
  if (matches.length > 1) {
    throw new SlackLinkRefusedError(
      `${self ? `${NOT_LINKED} ` : ''}The email ${email} is on ${matches.length} people in Lifeline (${matches.map((match) => `${match.name} <${match.email}>`).join(', ')}), so Lifeline cannot tell which is you. Ask a Lifeline admin to keep one of them.`,
      'ambiguous',
    );
  }
  return person;
}

/**
 * Queues an email lookup for each of these people who has no Slack link, once: a person already looked up keeps
 * what Slack answered (a `users_not_found` is not asked again on every import). Call it in the ingesting transaction.
 */
export async function queueSlackEmailLookups(db: Db | Tx, params: { userIds: readonly string[] }): Promise<number> {
  if (params.userIds.length === 0) return 0;
  const queued = await queryRows<{ user_id: string }>(
    db,
    sql`
    insert into slack_email_lookups (user_id)
    select u.id from users u
    where u.id in (${sql.join(params.userIds.map((id) => sql`${id}::uuid`), sql`, `)}) and u.slack_user_id is null
    on conflict (user_id) do nothing
    returning user_id`,
  );
  return queued.length;
}

/** How many times a lookup Slack keeps failing (outage, timeouts) is tried before it is recorded as failed. */
export const MAX_SLACK_LOOKUP_ATTEMPTS = 5;
const LOOKUP_LEASE_MS = 60_000;
const LOOKUP_BACKOFF_MS = 60_000;

export interface DueSlackEmailLookup {
  userId: string;
  email: string;
  name: string;
  attempts: number;
}

/** Claims due lookups of people still unlinked, leased for a minute so another replica's run skips them. */
export async function claimSlackEmailLookups(db: Db, params: { now: Date; limit: number }): Promise<DueSlackEmailLookup[]> {
  return db.transaction(async (tx) => {
    const due = await tx
      .select({ userId: slackEmailLookups.userId, email: users.email, name: users.name, attempts: slackEmailLookups.attempts, linked: users.slackUserId })
      .from(slackEmailLookups)
      .innerJoin(users, eq(users.id, slackEmailLookups.userId))
      .where(and(eq(slackEmailLookups.status, 'pending'), lte(slackEmailLookups.nextAttemptAt, params.now)))
      .orderBy(asc(slackEmailLookups.nextAttemptAt), asc(slackEmailLookups.userId))
      .limit(params.limit)
      .for('update', { of: slackEmailLookups, skipLocked: true });
    if (due.length === 0) return [];
    // Linked meanwhile (an admin, or the person through /lifeline): nothing to ask Slack.
    const linked = due.filter((row) => row.linked !== null);
    if (linked.length > 0) {
      await tx
        .update(slackEmailLookups)
        .set({ status: 'linked', checkedAt: params.now, slackUserId: sql`(select slack_user_id from users where users.id = ${slackEmailLookups.userId})` })
        .where(inArray(slackEmailLookups.userId, linked.map((row) => row.userId)));
    }
    const open = due.filter((row) => row.linked === null);
    if (open.length === 0) return [];
    await tx
      .update(slackEmailLookups)
      .set({ attempts: sql`${slackEmailLookups.attempts} + 1`, nextAttemptAt: new Date(params.now.getTime() + LOOKUP_LEASE_MS) })
      .where(inArray(slackEmailLookups.userId, open.map((row) => row.userId)));
    return open.map((row) => ({ userId: row.userId, email: row.email, name: row.name, attempts: row.attempts + 1 }));
  });
}

export type SlackEmailLookupAnswer =
  | { outcome: 'not_found'; error: string }
  | { outcome: 'refused'; slackUserId: string; error: string }
  /** Slack failed in a way worth asking again (an outage, a timeout); given up after MAX_SLACK_LOOKUP_ATTEMPTS. */
  | { outcome: 'retry'; error: string; attempts: number }
  /** Slack said to wait (429): asked again then, without counting an attempt. */
  | { outcome: 'later'; at: Date };

/** Records what Slack answered for a person it could not link, so they are not asked about again and again. */
export async function recordSlackEmailLookup(db: Db, params: { userId: string; now: Date; answer: SlackEmailLookupAnswer }): Promise<SlackEmailLookup | undefined> {
  const { answer, now } = params;
  const set = (() => {
    switch (answer.outcome) {
      case 'not_found':
        return { status: 'not_found' as const, lastError: answer.error, checkedAt: now };
      case 'refused':
        return { status: 'refused' as const, slackUserId: answer.slackUserId, lastError: answer.error, checkedAt: now };
      case 'retry':
        return answer.attempts >= MAX_SLACK_LOOKUP_ATTEMPTS
          ? { status: 'failed' as const, lastError: `Gave up after ${answer.attempts} attempts: ${answer.error}`, checkedAt: now }
          : { lastError: answer.error, nextAttemptAt: new Date(now.getTime() + LOOKUP_BACKOFF_MS * 2 ** (answer.attempts - 1)) };
      case 'later':
        return { nextAttemptAt: answer.at, attempts: sql`greatest(${slackEmailLookups.attempts} - 1, 0)` };
    }
  })();
  const [row] = await db.update(slackEmailLookups).set(set).where(eq(slackEmailLookups.userId, params.userId)).returning();
  return row;
}

/** What the email lookups of these people came to, for admins checking why someone is not linked. */
export async function getSlackEmailLookups(db: Db, params: { userIds: readonly string[]; reader: Actor }): Promise<SlackEmailLookup[]> {
  requireAccess(params.reader, 'manage_people');
  const ids = params.userIds.filter(isUuid);
  if (ids.length === 0) return [];
  return db.select().from(slackEmailLookups).where(inArray(slackEmailLookups.userId, ids));
}
