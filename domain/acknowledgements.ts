import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type AtRiskFollowUp, accounts, atRiskFollowUps } from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { digestDay } from './digest.ts';
import { requireManagerOfOwners } from './escalations.ts';
import { ForbiddenError, NotFoundError } from './errors.ts';
import { isUuid } from './validation.ts';
import { DAY_MS } from './dates.ts';

export const SNOOZE_DAYS = 7;

export interface FollowUpParams {
  accountId: string;
  actor: Actor;
  now: Date;
}

/**
 * The account's own CSM acknowledges or snoozes it; a manager may do it for accounts whose CSM or AE reports to
 * them, an admin for any (the row keeps who acted in acknowledgedBy).
 */
async function requireFollowUpRights(db: Db, params: FollowUpParams): Promise<{ name: string }> {
  const [account] = isUuid(params.accountId) ? await db.select().from(accounts).where(eq(accounts.id, params.accountId)) : [];
  if (!account) throw new NotFoundError('That account no longer exists in Lifeline.', 'accountId');
  const { role, userId } = params.actor;
  if (role === 'admin' || role === 'manager') {
    await requireManagerOfOwners(db, {
      actor: params.actor,
      ownerIds: [account.csmId, account.aeId],
      action: 'acknowledge or snooze at-risk accounts',
      subject: account.name,
    });
    return account;
  }
  if (role === 'csm' && userId !== null && account.csmId === userId) return account;
  throw new ForbiddenError(
    role === 'csm'
      ? `Only ${account.name}'s own CSM or a manager can acknowledge or snooze it; it belongs to another CSM.`
      : `Your role (${role}) cannot acknowledge or snooze at-risk accounts. Ask the account's CSM or a manager.`,
  );
}

/** "I'm on it": the account stops counting towards escalation. */
export async function acknowledgeAtRisk(db: Db, params: FollowUpParams): Promise<AtRiskFollowUp> {
  await requireFollowUpRights(db, params);
  const day = digestDay(params.now);
  const [row] = await db
    .insert(atRiskFollowUps)
    .values({ accountId: params.accountId, firstListedOn: day, lastListedOn: day, acknowledgedAt: params.now, acknowledgedBy: params.actor.userId })
    .onConflictDoUpdate({ target: atRiskFollowUps.accountId, set: { acknowledgedAt: params.now, acknowledgedBy: params.actor.userId } })
    .returning();
  if (!row) throw new Error('Acknowledgement wrote nothing');
  return row;
}

/** Hides the account from digests for a week; snoozing also acknowledges it. */
export async function snoozeAtRisk(db: Db, params: FollowUpParams): Promise<AtRiskFollowUp> {
  await requireFollowUpRights(db, params);
  const day = digestDay(params.now);
  const until = new Date(params.now.getTime() + SNOOZE_DAYS * DAY_MS);
  const [row] = await db
    .insert(atRiskFollowUps)
    .values({
      accountId: params.accountId,
      firstListedOn: day,
      lastListedOn: day,
      acknowledgedAt: params.now,
      acknowledgedBy: params.actor.userId,
      snoozedUntil: until,
    })
    .onConflictDoUpdate({
      target: atRiskFollowUps.accountId,
      set: { acknowledgedAt: params.now, acknowledgedBy: params.actor.userId, snoozedUntil: until },
    })
    .returning();
  if (!row) throw new Error('Snooze wrote nothing');
  return row;
}
