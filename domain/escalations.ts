import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { handoffs, users } from '../db/schema.ts';
import { enqueueNotification } from './outbox.ts';

/**
 * Handoffs past their SLA without a kickoff date: redraw the handoff message (its clock turns red) and tell
 * the managers, once per handoff. Lifeline has no reporting lines yet, so "the CSM's manager" is every manager.
 */
export async function queueOverdueHandoffs(db: Db, params: { now: Date }): Promise<{ overdueHandoffs: number }> {
  return db.transaction(async (tx) => {
    const overdue = await tx
      .select()
      .from(handoffs)
      .where(and(inArray(handoffs.status, ['pending', 'confirmed', 'accepted']), lt(handoffs.slaDueAt, params.now)))
      .orderBy(asc(handoffs.slaDueAt));
    if (overdue.length === 0) return { overdueHandoffs: 0 };
    const managers = await tx.select({ id: users.id }).from(users).where(eq(users.role, 'manager'));
    for (const handoff of overdue) {
      await enqueueNotification(tx, {
        kind: 'handoff',
        dedupeKey: `handoff:${handoff.id}:overdue`,
        target: 'channel:handoffs',
        messageKey: `handoff:${handoff.id}`,
        payload: { handoffId: handoff.id },
      });
      for (const manager of managers) {
        await enqueueNotification(tx, {
          kind: 'handoff_overdue',
          dedupeKey: `handoff_overdue:${handoff.id}:${manager.id}`,
          target: `user:${manager.id}`,
          payload: { handoffId: handoff.id },
        });
      }
    }
    return { overdueHandoffs: overdue.length };
  });
}
