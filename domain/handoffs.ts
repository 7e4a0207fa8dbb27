import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../db/client.ts';
import {
  type Account,
  type Handoff,
  type HandoffStatus,
  type Segment,
  accounts,
  handoffs,
  renewals,
  segments,
  stageTransitions,
  users,
} from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { isUuid } from './accounts.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors.ts';
import { moveAccountStageInTx } from './lifecycle.ts';
import { enqueueNotification } from './outbox.ts';
import { parseInput } from './validation.ts';

/** Kickoff should be scheduled within this many days of closed-won (the handoff SLA). */
export const HANDOFF_SLA_DAYS = 3;
/** The renewal window opens this many days before the contract ends, unless a caller says otherwise. */
export const DEFAULT_RENEWAL_WINDOW_DAYS = 90;
export const ONBOARDING_STAGE = 'onboarding';
export const HANDOFF_CHANNEL_TARGET = 'channel:handoffs';

const DAY_MS = 86_400_000;

export type { Handoff };

export interface HandoffContext {
  goals?: string | null;
  promises?: string | null;
  stakeholders?: string | null;
  risks?: string | null;
  notes?: string | null;
}

export interface ClosedWonAccount {
  externalId: string;
  name: string;
  domain?: string | null;
  segment: Segment;
  arrCents: number;
  contractStart?: string | null;
  contractEnd?: string | null;
}

export interface RecordClosedWonParams {
  /** The CRM opportunity id: recording the same opportunity twice changes nothing. */
  opportunityId: string;
  account: ClosedWonAccount;
  aeId?: string | null;
  csmId?: string | null;
  closedWonAt: Date;
  context: HandoffContext;
  goLiveTarget?: string | null;
  actor: Actor;
  /** Days before contract end that the renewal window opens; 90 by default. */
  renewalWindowDays?: number;
}

export interface ClosedWon {
  handoff: Handoff;
  account: Account;
  /** False when this opportunity was already recorded; nothing was changed. */
  created: boolean;
}

const contextText = z.string().trim().max(10_000, 'keep it under 10,000 characters').nullish();
const contextSchema = z.object({
  goals: contextText,
  promises: contextText,
  stakeholders: contextText,
  risks: contextText,
  notes: contextText,
});
const isoDay = z.iso.date('use a calendar date written YYYY-MM-DD');
const optionalUuid = z.uuid('must be a Lifeline user id').nullish();

const closedWonSchema = z.object({
  opportunityId: z.string().trim().min(1, 'the CRM opportunity id is required').max(200),
  account: z.object({
    externalId: z.string().trim().min(1, 'the CRM account id is required').max(200),
    name: z.string().trim().min(1, 'the account name is required').max(200),
    domain: z.string().trim().max(253).nullish(),
    segment: z.enum(segments, `use one of ${segments.join(', ')}`),
    arrCents: z.number().int('ARR is whole cents').min(0, 'ARR cannot be negative').max(Number.MAX_SAFE_INTEGER),
    contractStart: isoDay.nullish(),
    contractEnd: isoDay.nullish(),
  }),
  aeId: optionalUuid,
  csmId: optionalUuid,
  closedWonAt: z.date('closedWonAt must be a valid time'),
  context: contextSchema,
  goLiveTarget: isoDay.nullish(),
  renewalWindowDays: z.number().int().min(0).max(730).optional(),
});

class OpportunityRaceLost extends Error {}

function dedupeKey(handoff: Pick<Handoff, 'id' | 'version'>): string {
  return `handoff:${handoff.id}:v${handoff.version}`;
}

async function notifyHandoff(tx: Tx, handoff: Pick<Handoff, 'id' | 'version'>): Promise<void> {
  await enqueueNotification(tx, {
    kind: 'handoff',
    dedupeKey: dedupeKey(handoff),
    target: HANDOFF_CHANNEL_TARGET,
    messageKey: `handoff:${handoff.id}`,
    payload: { handoffId: handoff.id },
  });
}

function minusDays(isoDate: string, days: number): string {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) - days * DAY_MS).toISOString().slice(0, 10);
}

/** Records a renewal for a contract end, once; the window opens `windowDays` before it. */
export async function ensureRenewal(tx: Db | Tx, accountId: string, contractEnd: string, windowDays: number, today = new Date()): Promise<void> {
  const windowOpensOn = minusDays(contractEnd, windowDays);
  await tx
    .insert(renewals)
    .values({
      accountId,
      contractEnd,
      windowOpensOn,
      status: windowOpensOn <= today.toISOString().slice(0, 10) ? 'open' : 'upcoming',
    })
    .onConflictDoNothing();
}

async function requireUsersExist(tx: Tx, ids: { aeId?: string | null; csmId?: string | null }): Promise<void> {
  const wanted = [ids.aeId, ids.csmId].filter((id): id is string => Boolean(id));
  if (wanted.length === 0) return;
  const found = await tx.select({ id: users.id, role: users.role }).from(users).where(inArray(users.id, wanted));
  for (const [field, id] of [['aeId', ids.aeId], ['csmId', ids.csmId]] as const) {
    if (id && !found.some((user) => user.id === id)) {
      throw new InvalidInputError(`${field}: there is no Lifeline user with id ${id}. List people with the \`users\` query.`, field);
    }
  }
}

/**
 * A deal closed-won: upserts the account by its CRM id, creates the handoff, moves the account into
 * Onboarding (source `rule`) and queues the handoff message, all in one transaction. Idempotent on the
 * opportunity id: a repeat returns the existing handoff with `created: false` and changes nothing.
 */
export async function recordClosedWon(db: Db, params: RecordClosedWonParams): Promise<ClosedWon> {
  if (params.actor.role !== 'admin' && params.actor.role !== 'integration') {
    throw new ForbiddenError(`Your role (${params.actor.role}) cannot record closed-won deals: the CRM integration does that. Use an integration token, or ask an admin.`);
  }
  const input = parseInput(closedWonSchema, params);
  const existing = await findExisting(db, input.opportunityId);
  if (existing) return existing;
  try {
    return await db.transaction(async (tx) => {
      await requireUsersExist(tx, input);
      const now = new Date();
      const [upserted] = await tx
        .insert(accounts)
        .values({
          externalId: input.account.externalId,
          name: input.account.name,
          domain: input.account.domain ?? null,
          segment: input.account.segment,
          arrCents: input.account.arrCents,
          contractStart: input.account.contractStart ?? null,
          contractEnd: input.account.contractEnd ?? null,
          aeId: input.aeId ?? null,
          csmId: input.csmId ?? null,
          stageKey: ONBOARDING_STAGE,
          stageEnteredAt: input.closedWonAt,
          version: 1,
        })
        .onConflictDoUpdate({
          target: accounts.externalId,
          set: {
            name: input.account.name,
            segment: input.account.segment,
            arrCents: input.account.arrCents,
            domain: sql`coalesce(excluded.domain, ${accounts.domain})`,
            contractStart: sql`coalesce(excluded.contract_start, ${accounts.contractStart})`,
            contractEnd: sql`coalesce(excluded.contract_end, ${accounts.contractEnd})`,
            aeId: sql`coalesce(excluded.ae_id, ${accounts.aeId})`,
            csmId: sql`coalesce(excluded.csm_id, ${accounts.csmId})`,
            updatedAt: now,
          },
        })
        .returning({ id: accounts.id, inserted: sql<boolean>`(xmax = 0)` });
      if (!upserted) throw new Error('Account upsert returned no row');

      const [handoff] = await tx
        .insert(handoffs)
        .values({
          opportunityId: input.opportunityId,
          accountId: upserted.id,
          aeId: input.aeId ?? null,
          csmId: input.csmId ?? null,
          closedWonAt: input.closedWonAt,
          goals: input.context.goals ?? null,
          promises: input.context.promises ?? null,
          stakeholders: input.context.stakeholders ?? null,
          risks: input.context.risks ?? null,
          notes: input.context.notes ?? null,
          goLiveTarget: input.goLiveTarget ?? null,
          slaDueAt: new Date(input.closedWonAt.getTime() + HANDOFF_SLA_DAYS * DAY_MS),
        })
        .onConflictDoNothing({ target: handoffs.opportunityId })
        .returning();
      // Another request recorded the same opportunity between our check and this insert: roll back ours.
      if (!handoff) throw new OpportunityRaceLost();

      const ruleActor: Actor = { userId: null, role: 'admin', label: 'Closed-won rule' };
      const reason = `Closed-won: opportunity ${input.opportunityId}`;
      if (upserted.inserted) {
        // A new account starts its history in Onboarding, entered by the rule at closed-won.
        await tx.insert(stageTransitions).values({
          accountId: upserted.id,
          fromStage: null,
          toStage: ONBOARDING_STAGE,
          direction: 'initial',
          actorId: null,
          actorLabel: ruleActor.label,
          source: 'rule',
          reason,
          accountVersion: 1,
          occurredAt: input.closedWonAt,
        });
      } else {
        const [current] = await tx.select().from(accounts).where(eq(accounts.id, upserted.id)).for('update');
        if (current && current.stageKey !== ONBOARDING_STAGE) {
          await moveAccountStageInTx(tx, {
            accountId: current.id,
            toStage: ONBOARDING_STAGE,
            expectedVersion: current.version,
            actor: ruleActor,
            source: 'rule',
            reason,
          });
        }
      }
      if (input.account.contractEnd) {
        await ensureRenewal(tx, upserted.id, input.account.contractEnd, input.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS);
      }
      await notifyHandoff(tx, handoff);
      const [account] = await tx.select().from(accounts).where(eq(accounts.id, upserted.id));
      if (!account) throw new Error(`Account ${upserted.id} vanished inside its own transaction`);
      return { handoff, account, created: true };
    });
  } catch (error) {
    if (!(error instanceof OpportunityRaceLost)) throw error;
    const winner = await findExisting(db, input.opportunityId);
    if (!winner) throw new Error(`Opportunity ${input.opportunityId} was recorded concurrently but cannot be read back`);
    return winner;
  }
}

async function findExisting(db: Db, opportunityId: string): Promise<ClosedWon | undefined> {
  const [row] = await db
    .select({ handoff: handoffs, account: accounts })
    .from(handoffs)
    .innerJoin(accounts, eq(accounts.id, handoffs.accountId))
    .where(eq(handoffs.opportunityId, opportunityId));
  return row ? { ...row, created: false } : undefined;
}

export function getHandoff(db: Db | Tx, id: string): Promise<Handoff | undefined> {
  if (!isUuid(id)) return Promise.resolve(undefined);
  return db
    .select()
    .from(handoffs)
    .where(eq(handoffs.id, id))
    .then((rows) => rows[0]);
}

export interface ListHandoffsParams {
  status?: HandoffStatus | null;
  /** Handoffs where this user is the AE or the CSM. */
  userId?: string | null;
  limit?: number;
}

/** Handoffs, the most urgent SLA first. */
export function listHandoffs(db: Db, params: ListHandoffsParams = {}): Promise<Handoff[]> {
  const conditions = [];
  if (params.status) conditions.push(eq(handoffs.status, params.status));
  if (params.userId) {
    if (!isUuid(params.userId)) return Promise.resolve([]);
    conditions.push(or(eq(handoffs.aeId, params.userId), eq(handoffs.csmId, params.userId)));
  }
  return db
    .select()
    .from(handoffs)
    .where(and(...conditions))
    .orderBy(handoffs.slaDueAt, handoffs.id)
    .limit(Math.min(Math.max(params.limit ?? 200, 1), 1000));
}

/** The latest handoff of each account, for loaders. */
export async function getLatestHandoffsByAccountIds(db: Db, accountIds: readonly string[]): Promise<Handoff[]> {
  const ids = accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  return db
    .selectDistinctOn([handoffs.accountId])
    .from(handoffs)
    .where(inArray(handoffs.accountId, ids))
    .orderBy(handoffs.accountId, desc(handoffs.closedWonAt));
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

function isManagerOrAdmin(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'manager';
}

async function requireAe(tx: Tx, handoff: Handoff, actor: Actor): Promise<void> {
  if (isManagerOrAdmin(actor)) return;
  if (actor.role === 'ae' && actor.userId !== null && actor.userId === handoff.aeId) return;
  const ae = await userName(tx, handoff.aeId);
  throw new ForbiddenError(
    ae
      ? `Only the account executive on this handoff (${ae}) can confirm its context, or a manager.`
      : 'This handoff has no account executive; only a manager or an admin can confirm its context.',
  );
}

async function requireCsm(tx: Tx, handoff: Handoff, actor: Actor, action: string): Promise<void> {
  if (isManagerOrAdmin(actor)) return;
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
  const context = parseInput(contextSchema, params.context ?? {}, 'context');
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
    await requireCsm(tx, handoff, params.actor, 'accept it');
    requireStatus(handoff, ['confirmed'], 'be accepted');
    const claims = handoff.csmId === null && params.actor.role === 'csm' ? params.actor.userId : null;
    if (claims) {
      await tx.update(accounts).set({ csmId: claims, updatedAt: new Date() }).where(eq(accounts.id, handoff.accountId));
    }
    return applyChange(tx, handoff, {
      status: 'accepted',
      acceptedAt: new Date(),
      acceptedBy: params.actor.userId,
      ...(claims ? { csmId: claims } : {}),
    });
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
    await requireCsm(tx, handoff, params.actor, 'schedule its kickoff');
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
    await requireCsm(tx, handoff, params.actor, 'complete it');
    requireStatus(handoff, ['kickoff_scheduled'], 'be completed');
    return applyChange(tx, handoff, { status: 'completed', completedAt: new Date() });
  });
}
