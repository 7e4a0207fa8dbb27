import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { type User, handoffs, users } from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { ForbiddenError } from './errors.ts';
import { handoffChannelTarget, userTarget } from './notifications.ts';
import { enqueueNotification } from './outbox.ts';

/** The managers who hear about escalations with no one else to go to. */
export async function allManagerIds(tx: Tx): Promise<string[]> {
  const managers = await tx.select({ id: users.id }).from(users).where(eq(users.role, 'manager')).orderBy(asc(users.name), asc(users.id));
  return managers.map((manager) => manager.id);
}

/**
 * Where an escalation about a person's work goes: the manager they report to, or every manager when they have
 * none on record (and when nobody owns the work).
 */
export function escalationManagers(person: Pick<User, 'managerId'> | null | undefined, everyManager: readonly string[]): string[] {
  return person?.managerId ? [person.managerId] : [...everyManager];
}

/**
 * Handoffs past their SLA without a kickoff date: redraw the handoff message (its clock turns red) and tell
 * the CSM's manager (the AE's when there is no CSM yet; every manager when neither reports to anyone), once
 * per handoff.
 */
export async function queueOverdueHandoffs(db: Db, params: { now: Date }): Promise<{ overdueHandoffs: number }> {
  return db.transaction(async (tx) => {
    const overdue = await tx
      .select()
      .from(handoffs)
      .where(and(inArray(handoffs.status, ['pending', 'confirmed', 'accepted']), lt(handoffs.slaDueAt, params.now)))
      .orderBy(asc(handoffs.slaDueAt));
    if (overdue.length === 0) return { overdueHandoffs: 0 };
    const everyManager = await allManagerIds(tx);
    const ownerIds = [...new Set(overdue.flatMap((handoff) => [handoff.csmId, handoff.aeId]).filter((id): id is string => id !== null))];
    const owners = ownerIds.length > 0 ? await tx.select().from(users).where(inArray(users.id, ownerIds)) : [];
    const ownerById = new Map(owners.map((owner) => [owner.id, owner]));
    for (const handoff of overdue) {
      await enqueueNotification(tx, {
        kind: 'handoff',
        dedupeKey: `handoff:${handoff.id}:overdue`,
        target: handoffChannelTarget,
        messageKey: `handoff:${handoff.id}`,
        payload: { handoffId: handoff.id },
      });
      const owner = (handoff.csmId ? ownerById.get(handoff.csmId) : undefined) ?? (handoff.aeId ? ownerById.get(handoff.aeId) : undefined);
      for (const managerId of escalationManagers(owner, everyManager)) {
        await enqueueNotification(tx, {
          kind: 'handoff_overdue',
          dedupeKey: `handoff_overdue:${handoff.id}:${managerId}`,
          target: userTarget(managerId),
          payload: { handoffId: handoff.id },
        });
      }
    }
    return { overdueHandoffs: overdue.length };
  });
}

/**
 * SECURITY: the one check of a manager acting on someone else's work (confirming a handoff for an absent AE,
 * accepting it, acknowledging or snoozing an at-risk account). Admins may act on everything; a manager may act when
 * one of the people who own the work (its CSM, its AE) reports to them, or when none of them reports to anyone,
 * since escalations about that work go to every manager. Anyone else is refused with who can.
 */
export async function requireManagerOfOwners(
  tx: Db | Tx,
  params: { actor: Actor; ownerIds: readonly (string | null)[]; action: string; subject: string },
): Promise<void> {
  const { actor } = params;
  if (actor.role === 'admin') return;
  if (actor.role !== 'manager') {
    throw new ForbiddenError(`Your role (${actor.role}) cannot ${params.action} for others. Ask the people on ${params.subject}, their manager or an admin.`);
  }
  const ownerIds = [...new Set(params.ownerIds.filter((id): id is string => id !== null))];
  const owners = ownerIds.length > 0 ? await tx.select().from(users).where(inArray(users.id, ownerIds)).orderBy(asc(users.name)) : [];
  const managerIds = [...new Set(owners.map((owner) => owner.managerId).filter((id): id is string => id !== null))];
  if (managerIds.length === 0) return;
  if (actor.userId !== null && managerIds.includes(actor.userId)) return;
  const managers = await tx.select({ name: users.name }).from(users).where(inArray(users.id, managerIds)).orderBy(asc(users.name));
  const reporting = owners.filter((owner) => owner.managerId !== null).map((owner) => owner.name);
  throw new ForbiddenError(
    `Managers can ${params.action} only for accounts whose CSM or account executive reports to them, and ${listNames(reporting)} ${reporting.length === 1 ? 'reports' : 'report'} to ${listNames(managers.map((manager) => manager.name))}. Ask ${managers.length === 1 ? 'that manager' : 'one of those managers'} or an admin, or the people on ${params.subject}.`,
  );
}

function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? 'nobody';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
