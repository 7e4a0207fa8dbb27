/**
 * Moving an account between stages, from every surface: the preview a surface asks for before a move, the move
 * itself (checked by policy.ts, recorded as a transition, announced by an audit note), and the stage history.
 */
import { and, desc, eq, exists } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { type Account, type LifecycleStage, type StageTransition, type TransitionSource, accounts, stageTransitions } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import { type Actor, systemReader } from '../actors.ts';
import { InvalidInputError, NotFoundError, StaleVersionError } from '../errors.ts';
import { type NotificationTarget, handoffChannelTarget } from '../notifications.ts';
import { enqueueNotification } from '../outbox.ts';
import { queueWebhookEvent } from '../webhooks.ts';
import { isUuid, requireStorableText } from '../validation.ts';
import { listChurnReasons, requireChurnReason } from '../churn-reasons.ts';
import { moveNeedsChurnReason, moveNeedsReason, requireMoveRights } from './policy.ts';
import { readLifecycle } from './stages.ts';

/**
 * The account someone is about to choose a stage for, refused as the move itself would be (who may move it at
 * all), so a form never asks someone who cannot move the account for a reason. Whoever may move an account may
 * read it.
 */
export async function getAccountToMove(db: Db, params: { accountId: string; actor: Actor }): Promise<Account> {
  const [account] = isUuid(params.accountId) ? await db.select().from(accounts).where(eq(accounts.id, params.accountId)) : [];
  if (!account) throw new NotFoundError('That account no longer exists in Lifeline.');
  requireMoveRights(params.actor, account);
  return account;
}

/** A move as the person asked for it, before it is made. */
export interface StageMoveRequest {
  accountId: string;
  toStage: string;
  actor: Actor;
  /** The account version the actor saw; the move is refused when someone else moved it since. */
  expectedVersion: number;
}

/** What the person sees before the move: the account as they knew it, the stages either side, and what it needs. */
export interface StageMovePreview {
  account: Account;
  from: LifecycleStage | undefined;
  to: LifecycleStage;
  stages: LifecycleStage[];
  /** Moving backward or to a terminal stage: the move is refused without a reason, so ask for one first. */
  reasonRequired: boolean;
  /** Moving to Churned: the move is refused without a churn reason (the free text is then optional). */
  churnReasonRequired: boolean;
}

/**
 * The move judged as `moveAccountStage` judges it, without writing anything: refused the same way (who may move
 * the account, to which stage, from which version), and otherwise whether it needs a reason. A surface asks this
 * first, so it asks for a reason before moving rather than learning from a refusal that one was needed.
 */
export async function previewStageMove(db: Db | Tx, params: StageMoveRequest): Promise<StageMovePreview> {
  return judgeMove(db, await findAccount(db, params.accountId, 'read'), params);
}

/**
 * A move that needs a reason, made without one. Refused before anything is written, whatever the surface;
 * surfaces that ask `previewStageMove` first never see it.
 */
export class ReasonRequiredError extends InvalidInputError {
  constructor(message: string, field: 'reason' | 'churnReasonKey' = 'reason') {
    super(message, field);
  }
}

export interface MoveAccountStageParams extends StageMoveRequest {
  source: TransitionSource;
  reason?: string | null;
  /** Why the customer left (a churn reason's key): required for a move to Churned, refused on any other move. */
  churnReasonKey?: string | null;
  /** When it happened, for imports of past history; now by default. */
  occurredAt?: Date;
  /** Where the audit note goes when the account has no thread yet: the card's channel, or the handoff channel. */
  auditTarget?: NotificationTarget<'stage_audit'>;
}

export interface StageMove {
  account: Account;
  transition: StageTransition;
}

/**
 * The one way an account changes stage, from every surface (Slack, GraphQL, rules, closed-won, imports):
 * checks who may make this move, refuses a stale version, refuses a move backward or to a terminal stage
 * without a reason, records the transition and queues its audit note, all in one transaction. The account row
 * is locked, so concurrent moves are serialised and exactly one wins per version.
 */
export async function moveAccountStage(db: Db, params: MoveAccountStageParams): Promise<StageMove> {
  return db.transaction((tx) => moveAccountStageInTx(tx, params));
}

/**
 * The same move inside a caller's transaction, so it commits together with the change that causes it
 * (a rule's firing, a closed-won deal).
 */
export async function moveAccountStageInTx(tx: Tx, params: MoveAccountStageParams): Promise<StageMove> {
  const reason = (params.reason ? requireStorableText(params.reason, 'reason') : params.reason)?.trim() || null;
  if (reason !== null && reason.length > 2000) {
    throw new InvalidInputError('The reason is too long: keep it under 2000 characters.', 'reason');
  }
  const { account, from, to, reasonRequired, churnReasonRequired } = await judgeMove(tx, await findAccount(tx, params.accountId, 'lock'), params);
  const churnReasonKey = params.churnReasonKey?.trim() || null;
  if (churnReasonRequired) {
    if (!churnReasonKey) {
      const choices = await listChurnReasonKeys(tx);
      throw new ReasonRequiredError(
        `Moving ${account.name} to ${to.name} needs a churn reason (churnReasonKey), so the team knows why the customer left: use one of ${choices}. Text in reason is optional.`,
        'churnReasonKey',
      );
    }
    await requireChurnReason(tx, churnReasonKey, 'churn');
  } else if (churnReasonKey) {
    throw new InvalidInputError(`A churn reason is given only for a move to Churned, not to ${to.name}. Leave churnReasonKey out.`, 'churnReasonKey');
  } else if (reasonRequired && !reason) {
    throw new ReasonRequiredError(`Moving ${account.name} ${to.terminal ? `to ${to.name}` : 'backward'} needs a reason, so the team knows why.`);
  }

  const move = await writeStageMove(tx, account, to, {
    direction: from && from.position > to.position ? 'backward' : 'forward',
    actor: params.actor,
    source: params.source,
    reason,
    churnReasonKey,
    occurredAt: params.occurredAt ?? new Date(),
  });
  // An import records history that already happened elsewhere: announcing each step now would flood the
  // channel with old news and start account threads from it. Every live move is announced.
  if (params.source !== 'import') {
    await enqueueNotification(tx, {
      kind: 'stage_audit',
      dedupeKey: `stage_audit:${move.account.id}:v${move.account.version}`,
      // Where an audit note goes when the account has no thread yet and the caller named no channel.
      target: params.auditTarget ?? handoffChannelTarget,
      payload: { accountId: move.account.id, transitionId: move.transition.id },
    });
    await queueWebhookEvent(tx, {
      type: 'account.stage_moved',
      occasion: `${move.account.id}:v${move.account.version}`,
      at: move.transition.occurredAt,
      data: {
        accountId: move.account.id,
        accountName: move.account.name,
        crmId: move.account.externalId ?? null,
        fromStage: move.transition.fromStage,
        toStage: move.transition.toStage,
        direction: move.transition.direction,
        actor: { userId: move.transition.actorId, label: move.transition.actorLabel },
        reason: move.transition.reason,
        source: move.transition.source,
        occurredAt: move.transition.occurredAt.toISOString(),
      },
    });
  }
  return move;
}

async function listChurnReasonKeys(tx: Tx): Promise<string> {
  const reasons = await listChurnReasons(tx, { reader: systemReader, use: 'churn' });
  return reasons.map((reason) => reason.key).join(', ') || '(none yet: ask an admin to add a churn reason)';
}

/** The account a move is about; a move locks it, so concurrent moves queue behind each other. */
async function findAccount(db: Db | Tx, accountId: string, mode: 'read' | 'lock'): Promise<Account> {
  const query = db.select().from(accounts).where(eq(accounts.id, accountId));
  // Not a UUID means no such account; asking PostgreSQL would fail with a type error instead.
  const [account] = isUuid(accountId) ? await (mode === 'lock' ? query.for('update') : query) : [];
  if (!account) {
    throw new NotFoundError(`No account with id ${accountId}. Check the id, or search accounts by name.`, 'accountId');
  }
  return account;
}

/** Every check of a move, in the order its refusals are owed; what is left to know is whether it needs a reason. */
async function judgeMove(db: Db | Tx, account: Account, params: StageMoveRequest): Promise<StageMovePreview> {
  // Whether the actor may move this account at all comes first: an outsider learns nothing of its version or stages.
  requireMoveRights(params.actor, account);
  const stages = await readLifecycle(db);
  const target = stages.find((stage) => stage.key === params.toStage);
  if (!target) {
    throw new InvalidInputError(
      `There is no stage "${params.toStage}". Use one of: ${stages.map((stage) => stage.key).join(', ')}.`,
      'toStage',
    );
  }
  if (account.version !== params.expectedVersion) {
    throw await staleVersionError(db, account, params.expectedVersion, stages);
  }
  if (account.stageKey === target.key) {
    throw new InvalidInputError(`${account.name} is already in ${target.name}.`, 'toStage');
  }
  requireMoveRights(params.actor, account, { toStage: target.key, stages });
  return {
    account,
    from: stages.find((stage) => stage.key === account.stageKey),
    to: target,
    stages,
    reasonRequired: moveNeedsReason(stages, account.stageKey, target.key),
    churnReasonRequired: moveNeedsChurnReason(target.key),
  };
}

/** The write alone, after every check has passed; not exported, so no surface can skip the checks. */
async function writeStageMove(
  tx: Tx,
  account: Account,
  target: LifecycleStage,
  move: { direction: 'forward' | 'backward'; actor: Actor; source: TransitionSource; reason: string | null; churnReasonKey: string | null; occurredAt: Date },
): Promise<StageMove> {
  const nextVersion = account.version + 1;
  const [transition] = await tx
    .insert(stageTransitions)
    .values({
      accountId: account.id,
      fromStage: account.stageKey,
      toStage: target.key,
      direction: move.direction,
      actorId: move.actor.userId,
      actorLabel: move.actor.label,
      source: move.source,
      reason: move.reason,
      churnReasonKey: move.churnReasonKey,
      accountVersion: nextVersion,
      occurredAt: move.occurredAt,
    })
    .returning();
  const [moved] = await tx
    .update(accounts)
    .set({ stageKey: target.key, stageEnteredAt: move.occurredAt, version: nextVersion, updatedAt: move.occurredAt })
    .where(and(eq(accounts.id, account.id), eq(accounts.version, account.version)))
    .returning();
  if (!transition || !moved) throw new Error(`Stage move of account ${account.id} wrote nothing`);
  return { account: moved, transition };
}

async function staleVersionError(
  db: Db | Tx,
  account: Account,
  expectedVersion: number,
  stages: LifecycleStage[],
): Promise<StaleVersionError> {
  const [latest] = await db
    .select()
    .from(stageTransitions)
    .where(eq(stageTransitions.accountId, account.id))
    .orderBy(desc(stageTransitions.accountVersion))
    .limit(1);
  const stageName = stages.find((stage) => stage.key === account.stageKey)?.name ?? account.stageKey;
  const who = latest ? `${latest.actorLabel} moved it to ${stageName} at ${latest.occurredAt.toISOString()}` : `it is now in ${stageName}`;
  return new StaleVersionError(
    `${account.name} changed since you loaded it (you had version ${expectedVersion}, it is now ${account.version}): ${who}. Reload the account and try again.`,
    account.version,
  );
}

export interface ListTransitionsParams {
  accountId: string;
  /** Who is reading: an account executive reads the history only of accounts they sold. */
  reader: Actor;
  limit?: number;
}

/** Stage history of an account, newest first; empty when the reader may not read the account. */
export async function listTransitions(db: Db | Tx, params: ListTransitionsParams): Promise<StageTransition[]> {
  const readableAeId = readableOwnerId(params.reader);
  return db
    .select()
    .from(stageTransitions)
    .where(
      and(
        eq(stageTransitions.accountId, params.accountId),
        readableAeId
          ? exists(db.select({ id: accounts.id }).from(accounts).where(and(eq(accounts.id, stageTransitions.accountId), eq(accounts.aeId, readableAeId))))
          : undefined,
      ),
    )
    .orderBy(desc(stageTransitions.accountVersion))
    .limit(params.limit ?? 50);
}
