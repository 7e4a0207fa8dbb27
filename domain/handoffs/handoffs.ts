/**
 * A new customer's handoff from sales to customer success, step by step (pending → confirmed → accepted →
 * kickoff scheduled → completed): who may take each step, its SLA, its message, and reading handoffs.
 * closed-won.ts decides when a deal makes one.
 */
import { and, desc, eq, inArray, or } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import { type Handoff, type HandoffStatus, accounts, handoffs, users } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { DAY_MS } from '../dates.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../errors.ts';
import { requireManagerOfOwners } from '../escalations.ts';
import { handoffChannelTarget } from '../notifications.ts';
import { enqueueNotification } from '../outbox.ts';
import { startHandoffPlaybooks } from '../plays/trigger-tasks.ts';
import { queueWebhookEvent } from '../webhooks.ts';
import { isUuid, parseInput } from '../validation.ts';

/** Kickoff should be scheduled within this many days of closed-won (the handoff SLA). */
export const HANDOFF_SLA_DAYS = 3;

export interface HandoffContext {
  goals?: string | null;
  promises?: string | null;
  stakeholders?: string | null;
  risks?: string | null;
  notes?: string | null;
}

const contextText = z.string().trim().max(10_000, 'keep it under 10,000 characters').nullish();
export const handoffContextSchema = z.object({
  goals: contextText,
  promises: contextText,
  stakeholders: contextText,
  risks: contextText,
  notes: contextText,
});

function dedupeKey(handoff: Pick<Handoff, 'id' | 'version'>): string {
  return `handoff:${handoff.id}:v${handoff.version}`;
}

/** Queues the handoff's message, or its redraw (one message per handoff, updated at every step), and its webhook event. */
export async function notifyHandoff(tx: Tx, handoff: Handoff): Promise<void> {
  await enqueueNotification(tx, {
    kind: 'handoff',
    dedupeKey: dedupeKey(handoff),
    target: handoffChannelTarget,
    messageKey: `handoff:${handoff.id}`,
    payload: { handoffId: handoff.id },
  });
  await queueWebhookEvent(tx, {
    type: 'handoff.step',
    occasion: `${handoff.id}:v${handoff.version}`,
    at: handoff.updatedAt,
    data: {
      handoffId: handoff.id,
      accountId: handoff.accountId,
      status: handoff.status,
      aeId: handoff.aeId,
      csmId: handoff.csmId,
      kickoffAt: handoff.kickoffAt?.toISOString() ?? null,
    },
  });
}

export interface CreateHandoffParams {
  opportunityId: string;
  accountId: string;
  aeId: string | null;
  csmId: string | null;
  closedWonAt: Date;
  context: HandoffContext;
  goLiveTarget: string | null;
}

/**
 * A new customer's handoff, due for kickoff within the SLA; undefined when the opportunity already has one. The
 * caller queues its message (`notifyHandoff`) once the whole deal is recorded.
 */
export async function createHandoff(tx: Tx, params: CreateHandoffParams): Promise<Handoff | undefined> {
  const [handoff] = await tx
    .insert(handoffs)
    .values({
      opportunityId: params.opportunityId,
      accountId: params.accountId,
      aeId: params.aeId,
      csmId: params.csmId,
      closedWonAt: params.closedWonAt,
      goals: params.context.goals ?? null,
      promises: params.context.promises ?? null,
      stakeholders: params.context.stakeholders ?? null,
      risks: params.context.risks ?? null,
      notes: params.context.notes ?? null,
      goLiveTarget: params.goLiveTarget,
      slaDueAt: new Date(params.closedWonAt.getTime() + HANDOFF_SLA_DAYS * DAY_MS),
    })
    .onConflictDoNothing({ target: handoffs.opportunityId })
    .returning();
  return handoff;
}

/**
 * One handoff, or undefined when there is none or the reader may not read it: an account executive reads the
 * handoffs where they are the AE, and gets the same answer for another's as for a missing one.
 */
export async function getHandoff(db: Db | Tx, params: { id: string; reader: Actor }): Promise<Handoff | undefined> {
  const readableAeId = readableOwnerId(params.reader);
  if (!isUuid(params.id)) return undefined;
  const [handoff] = await db
    .select()
    .from(handoffs)
    .where(and(eq(handoffs.id, params.id), readableAeId ? eq(handoffs.aeId, readableAeId) : undefined));
  return handoff;
}

export interface ListHandoffsParams {
  status?: HandoffStatus | null;
  /** Who is listing: an account executive lists the handoffs where they are the AE or the CSM. */
  reader: Actor;
  limit?: number;
}

/** Handoffs, the most urgent SLA first. */
export async function listHandoffs(db: Db, params: ListHandoffsParams): Promise<Handoff[]> {
  const readableAeId = readableOwnerId(params.reader);
  return db
    .select()
    .from(handoffs)
    .where(
      and(
        params.status ? eq(handoffs.status, params.status) : undefined,
        readableAeId ? or(eq(handoffs.aeId, readableAeId), eq(handoffs.csmId, readableAeId)) : undefined,
      ),
    )
    .orderBy(handoffs.slaDueAt, handoffs.id)
    .limit(Math.min(Math.max(params.limit ?? 200, 1), 1000));
}

/** The latest handoff of each account the reader may read, in one statement (for loaders). */
export async function getLatestHandoffsByAccountIds(db: Db, params: { accountIds: readonly string[]; reader: Actor }): Promise<Handoff[]> {
  const readableAeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .selectDistinctOn([handoffs.accountId], { handoff: handoffs })
    .from(handoffs)
    .innerJoin(accounts, eq(accounts.id, handoffs.accountId))
    .where(and(inArray(handoffs.accountId, ids), readableAeId ? eq(accounts.aeId, readableAeId) : undefined))
    .orderBy(handoffs.accountId, desc(handoffs.closedWonAt));
  return rows.map((row) => row.handoff);
}

const statusOrder: readonly HandoffStatus[] = ['pending', 'confirmed', 'accepted', 'kickoff_scheduled', 'completed'];
const statusLabels: Record<HandoffStatus, string> = {
  pending: 'waiting for the account executive to confirm it',
  confirmed: 'confirmed by the account executive and waiting for the CSM to accept it',
  accepted: 'accepted by the CSM and waiting for a kickoff date',
  kickoff_scheduled: 'scheduled for kickoff',
  completed: 'completed',
};

async function lockHandoff(tx: Tx, handoffId: string): Promise<Handoff> {
  const handoff = isUuid(handoffId)
    ? (await tx.select().from(handoffs).where(eq(handoffs.id, handoffId)).for('update'))[0]
    : undefined;
  if (!handoff) throw new NotFoundError(`No handoff with id ${handoffId}. List handoffs with the \`handoffs\` query.`, 'handoffId');
  return handoff;
}

function requireStatus(handoff: Handoff, allowed: readonly HandoffStatus[], action: string): void {
  if (allowed.includes(handoff.status)) return;
  const wantedIndex = Math.min(...allowed.map((status) => statusOrder.indexOf(status)));
  const isPast = statusOrder.indexOf(handoff.status) > wantedIndex;
  throw new InvalidInputError(
    isPast
      ? `This handoff is already past that step: it is ${statusLabels[handoff.status]}, so it cannot ${action}.`
      : `This handoff cannot ${action} yet: it is ${statusLabels[handoff.status]}. Handoffs go pending → confirmed → accepted → kickoff scheduled → completed.`,
    'handoffId',
  );
}

async function userName(tx: Tx, id: string | null): Promise<string | null> {
  if (!id) return null;
  const [user] = await tx.select({ name: users.name }).from(users).where(eq(users.id, id));
  return user?.name ?? null;
}

/**
 * A manager or an admin acting on a handoff in place of its AE or CSM: only for handoffs whose people (or the
 * account's current CSM and AE) report to that manager; the act itself keeps who did it (confirmedBy, acceptedBy).
 */
async function requireManagerOfHandoff(tx: Tx, handoff: Handoff, actor: Actor, action: string): Promise<void> {
  const [account] = await tx.select({ csmId: accounts.csmId, aeId: accounts.aeId, name: accounts.name }).from(accounts).where(eq(accounts.id, handoff.accountId));
  await requireManagerOfOwners(tx, {
    actor,
    ownerIds: [handoff.csmId, handoff.aeId, account?.csmId ?? null, account?.aeId ?? null],
    action,
    subject: `the handoff of ${account?.name ?? 'this account'}`,
  });
}

function isManagerOrAdmin(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'manager';
}

async function requireAe(tx: Tx, handoff: Handoff, actor: Actor): Promise<void> {
  if (isManagerOrAdmin(actor)) return requireManagerOfHandoff(tx, handoff, actor, 'confirm handoffs');
  if (actor.role === 'ae' && actor.userId !== null && actor.userId === handoff.aeId) return;
  const ae = await userName(tx, handoff.aeId);
  throw new ForbiddenError(
    ae
      ? `Only the account executive on this handoff (${ae}) can confirm its context, or a manager.`
      : 'This handoff has no account executive; only a manager or an admin can confirm its context.',
  );
}

/** `action` says what the CSM does ("accept it"); `managerAction` the same for a manager ("accept handoffs"). */
async function requireCsm(tx: Tx, handoff: Handoff, actor: Actor, action: string, managerAction: string): Promise<void> {
  if (isManagerOrAdmin(actor)) return requireManagerOfHandoff(tx, handoff, actor, managerAction);
  if (actor.role === 'csm' && actor.userId !== null && (handoff.csmId === null || handoff.csmId === actor.userId)) return;
  const csm = await userName(tx, handoff.csmId);
  throw new ForbiddenError(
    csm ? `Only the CSM on this handoff (${csm}) or a manager can ${action}.` : `Only a CSM or a manager can ${action}.`,
  );
}

type HandoffChanges = Partial<Omit<typeof handoffs.$inferInsert, 'id' | 'version'>>;

async function applyChange(tx: Tx, handoff: Handoff, changes: HandoffChanges): Promise<Handoff> {
  const [updated] = await tx
    .update(handoffs)
    .set({ ...changes, version: handoff.version + 1, updatedAt: new Date() })
    .where(and(eq(handoffs.id, handoff.id), eq(handoffs.version, handoff.version)))
    .returning();
  if (!updated) throw new Error(`Handoff ${handoff.id} changed under its row lock`);
  await notifyHandoff(tx, updated);
  return updated;
}

export interface ConfirmHandoffParams {
  handoffId: string;
  actor: Actor;
  /** Edits to the sales context, made as the AE confirms it; omitted fields stay as they are. */
  context?: HandoffContext;
}

/** The AE confirms the sales context (optionally editing it): pending → confirmed. */
export async function confirmHandoff(db: Db, params: ConfirmHandoffParams): Promise<Handoff> {
  const context = parseInput(handoffContextSchema, params.context ?? {}, 'context');
  return db.transaction(async (tx) => {
    const handoff = await lockHandoff(tx, params.handoffId);
    await requireAe(tx, handoff, params.actor);
    requireStatus(handoff, ['pending'], 'be confirmed');
    const edits: HandoffChanges = {};
    for (const key of ['goals', 'promises', 'stakeholders', 'risks', 'notes'] as const) {
      const value = context[key];
      if (value !== undefined) edits[key] = value;
    }
    return applyChange(tx, handoff, { ...edits, status: 'confirmed', confirmedAt: new Date(), confirmedBy: params.actor.userId });
  });
}

/**
 * The handoff whose context someone is about to edit, refused as confirming it would be (only its AE or a
 * manager, only while pending), so the form never opens for someone who cannot save it.
 */
export async function getHandoffToConfirm(db: Db, params: { handoffId: string; actor: Actor }): Promise<Handoff> {
  return db.transaction(async (tx) => {
    const handoff = await lockHandoff(tx, params.handoffId);
    await requireAe(tx, handoff, params.actor);
    requireStatus(handoff, ['pending'], 'be confirmed');
    return handoff;
  });
}

export interface HandoffActionParams {
  handoffId: string;
  actor: Actor;
}

/**
 * The CSM accepts the handoff: confirmed → accepted. A handoff without a CSM is claimed by the CSM who
 * accepts it, and the account gets that CSM too.
 */
export async function acceptHandoff(db: Db, params: HandoffActionParams): Promise<Handoff> {
  return db.transaction(async (tx) => {
    const handoff = await lockHandoff(tx, params.handoffId);
    await requireCsm(tx, handoff, params.actor, 'accept it', 'accept handoffs');
    requireStatus(handoff, ['confirmed'], 'be accepted');
    const claims = handoff.csmId === null && params.actor.role === 'csm' ? params.actor.userId : null;
    if (claims) {
      await tx.update(accounts).set({ csmId: claims, updatedAt: new Date() }).where(eq(accounts.id, handoff.accountId));
    }
    const acceptedAt = new Date();
    const accepted = await applyChange(tx, handoff, {
      status: 'accepted',
      acceptedAt,
      acceptedBy: params.actor.userId,
      ...(claims ? { csmId: claims } : {}),
    });
    // Onboarding starts here: its kickoff is due within days of acceptance.
    await startHandoffPlaybooks(tx, accepted, acceptedAt);
    return accepted;
  });
}

export interface ScheduleKickoffParams extends HandoffActionParams {
  kickoffAt: Date;
  /** When the kickoff was put in the calendar; now by default (imports and tests pass the real time). */
  now?: Date;
}

/** The kickoff date is set: accepted → kickoff scheduled. Rescheduling an already scheduled kickoff is allowed. */
export async function scheduleKickoff(db: Db, params: ScheduleKickoffParams): Promise<Handoff> {
  if (!(params.kickoffAt instanceof Date) || Number.isNaN(params.kickoffAt.getTime())) {
    throw new InvalidInputError('kickoffAt must be a valid time, such as 2026-12-01T15:00:00Z.', 'kickoffAt');
  }
  return db.transaction(async (tx) => {
    const handoff = await lockHandoff(tx, params.handoffId);
    await requireCsm(tx, handoff, params.actor, 'schedule its kickoff', 'schedule kickoffs');
    requireStatus(handoff, ['accepted', 'kickoff_scheduled'], 'have its kickoff scheduled');
    if (params.kickoffAt.getTime() < handoff.closedWonAt.getTime()) {
      throw new InvalidInputError(
        `The kickoff cannot be before the deal closed (${handoff.closedWonAt.toISOString()}). Pick a later time.`,
        'kickoffAt',
      );
    }
    return applyChange(tx, handoff, {
      status: 'kickoff_scheduled',
      kickoffAt: params.kickoffAt,
      // The SLA is about when the kickoff was first put in the calendar, so a reschedule keeps the first time.
      kickoffScheduledAt: handoff.kickoffScheduledAt ?? params.now ?? new Date(),
    });
  });
}

/** The kickoff happened: kickoff scheduled → completed. */
export async function completeHandoff(db: Db, params: HandoffActionParams): Promise<Handoff> {
  return db.transaction(async (tx) => {
    const handoff = await lockHandoff(tx, params.handoffId);
    await requireCsm(tx, handoff, params.actor, 'complete it', 'complete handoffs');
    requireStatus(handoff, ['kickoff_scheduled'], 'be completed');
    return applyChange(tx, handoff, { status: 'completed', completedAt: new Date() });
  });
}
