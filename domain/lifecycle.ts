import { and, asc, desc, eq, exists } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import {
  type Account,
  type LifecycleStage,
  type StageTransition,
  type TransitionSource,
  accounts,
  lifecycleStages,
  stageTransitions,
} from '../db/schema.ts';
import { readableOwnerId } from './access.ts';
import type { Actor } from './actors.ts';
import { ForbiddenError, InvalidInputError, NotFoundError, StaleVersionError } from './errors.ts';
import { type NotificationTarget, handoffChannelTarget } from './notifications.ts';
import { enqueueNotification } from './outbox.ts';
import { isUuid, requireStorableText } from './validation.ts';

/** The default lifecycle. Data, not code: admins edit it, and these rows only seed an empty database. */
export const defaultStages: LifecycleStage[] = [
  {
    key: 'pre_onboarding',
    name: 'Pre-onboarding',
    position: 10,
    ownerRole: 'ae',
    entryCriteria: 'Deal in late stage with a signed order form pending.',
    exitCriteria: 'Deal closed-won and handoff to a CSM created.',
    slaDays: 7,
    terminal: false,
  },
  {
    key: 'onboarding',
    name: 'Onboarding',
    position: 20,
    ownerRole: 'csm',
    entryCriteria: 'Entered automatically at closed-won.',
    exitCriteria: 'Kickoff held, success plan agreed with the champion.',
    slaDays: 14,
    terminal: false,
  },
  {
    key: 'implementation',
    name: 'Implementation',
    position: 30,
    ownerRole: 'csm',
    entryCriteria: 'Kickoff held and success plan agreed.',
    exitCriteria: 'First value reached: the key workflow runs in production.',
    slaDays: 45,
    terminal: false,
  },
  {
    key: 'early_adoption',
    name: 'Early adoption',
    position: 40,
    ownerRole: 'csm',
    entryCriteria: 'First value reached.',
    exitCriteria: 'Active users at 60% of seats for four consecutive weeks.',
    slaDays: 90,
    terminal: false,
  },
  {
    key: 'mature_adoption',
    name: 'Mature adoption',
    position: 50,
    ownerRole: 'csm',
    entryCriteria: 'Sustained adoption across the licensed seats.',
    exitCriteria: 'Renewal or churn.',
    slaDays: null,
    terminal: false,
  },
  {
    key: 'churned',
    name: 'Churned',
    position: 90,
    ownerRole: 'manager',
    entryCriteria: 'Customer gave notice or the contract ended without renewal.',
    exitCriteria: 'None: terminal. Reactivation moves the account back explicitly.',
    slaDays: null,
    terminal: true,
  },
];

/** Inserts the default lifecycle when no stage exists yet; never overwrites edited stages. */
export async function ensureDefaultStages(db: Db): Promise<void> {
  await db.insert(lifecycleStages).values(defaultStages).onConflictDoNothing();
}

export function listStages(db: Db | Tx): Promise<LifecycleStage[]> {
  return db.select().from(lifecycleStages).orderBy(asc(lifecycleStages.position));
}

/** The stage account executives own: the only one they may move an account out of. */
export const PRE_ONBOARDING_STAGE = 'pre_onboarding';

/** The part of an account the stage policy looks at. */
export type MovableAccount = Pick<Account, 'name' | 'csmId' | 'aeId' | 'stageKey'>;

function byPosition(stages: readonly LifecycleStage[]): LifecycleStage[] {
  return [...stages].sort((a, b) => a.position - b.position);
}

/** "One step forward": the next non-terminal stage by position; none past the last one, or from a terminal stage. */
export function nextStage(stages: readonly LifecycleStage[], fromKey: string): LifecycleStage | undefined {
  const from = stages.find((stage) => stage.key === fromKey);
  if (!from) return undefined;
  return byPosition(stages).find((stage) => !stage.terminal && stage.position > from.position);
}

/** Moving backward, or into a terminal stage such as Churned, needs a reason that others can read later. */
export function moveNeedsReason(stages: readonly LifecycleStage[], fromKey: string, toKey: string): boolean {
  const from = stages.find((stage) => stage.key === fromKey);
  const to = stages.find((stage) => stage.key === toKey);
  if (!to) return false;
  return to.terminal || (from !== undefined && to.position < from.position);
}

/**
 * How far an actor may move one account, before any target is chosen:
 * - `any`: admins and managers, any move;
 * - `owner`: the account's CSM, one step forward, any number back, or to a terminal stage;
 * - `step`: one step forward only (the account's AE while it is in Pre-onboarding, and every rule);
 * - `none`: everyone else.
 */
type MoveScope = 'any' | 'owner' | 'step' | 'none';

function moveScope(actor: Actor, account: Pick<Account, 'csmId' | 'aeId' | 'stageKey'>): MoveScope {
  // A rule runs with the admin role to read every account, but on a stage it only carries out its own trigger.
  if (actor.rule) return 'step';
  switch (actor.role) {
    case 'admin':
    case 'manager':
      return 'any';
    case 'csm':
      return actor.userId !== null && account.csmId === actor.userId ? 'owner' : 'none';
    case 'ae':
      return actor.userId !== null && account.aeId === actor.userId && account.stageKey === PRE_ONBOARDING_STAGE ? 'step' : 'none';
    case 'viewer':
    case 'integration':
      return 'none';
  }
}

function allowsTarget(scope: MoveScope, stages: readonly LifecycleStage[], fromKey: string, to: LifecycleStage): boolean {
  if (to.key === fromKey) return false;
  const from = stages.find((stage) => stage.key === fromKey);
  switch (scope) {
    case 'any':
      return true;
    case 'owner':
      return to.terminal || (from !== undefined && to.position < from.position) || nextStage(stages, fromKey)?.key === to.key;
    case 'step':
      return nextStage(stages, fromKey)?.key === to.key;
    case 'none':
      return false;
  }
}

/**
 * Who may move which account to which stage. Pure, so the bot offers only the moves the person may make and
 * the move itself refuses the rest with the same answer. Whether a reason is needed is `moveNeedsReason`.
 */
export function canMoveAccount(actor: Actor, account: Pick<Account, 'csmId' | 'aeId' | 'stageKey'>, toStage: string, stages: readonly LifecycleStage[]): boolean {
  const to = stages.find((stage) => stage.key === toStage);
  return to !== undefined && allowsTarget(moveScope(actor, account), stages, account.stageKey, to);
}

/** The stages the actor may move this account to, in lifecycle order: the choices to show them. */
export function stageChoices(actor: Actor, account: Pick<Account, 'csmId' | 'aeId' | 'stageKey'>, stages: readonly LifecycleStage[]): LifecycleStage[] {
  return byPosition(stages).filter((stage) => canMoveAccount(actor, account, stage.key, stages));
}

function forbiddenMoveMessage(actor: Actor, account: MovableAccount): string {
  switch (actor.role) {
    case 'csm':
      return `You can only move accounts you own as CSM; ${account.name} belongs to another CSM. Ask its CSM or a manager to move it.`;
    case 'ae':
      return account.aeId === actor.userId
        ? `Account executives may move their own accounts only from Pre-onboarding, one step forward; ${account.name} has moved past it. Ask its CSM to move it.`
        : `You can only move accounts where you are the account executive; ${account.name} is not one of them.`;
    default:
      return `Your role (${actor.role}) cannot move accounts between stages. Ask a manager or the account's CSM.`;
  }
}

function stageName(stages: readonly LifecycleStage[], key: string): string {
  return stages.find((stage) => stage.key === key)?.name ?? key;
}

/** A move the actor may make in general but not to this stage: what they may do instead. */
function forbiddenTargetMessage(actor: Actor, scope: MoveScope, account: MovableAccount, to: LifecycleStage, stages: readonly LifecycleStage[]): string {
  const next = nextStage(stages, account.stageKey);
  const forward = next ? `one step forward (to ${next.name})` : 'no further forward';
  if (actor.rule) {
    return `${actor.label} may move ${account.name} only ${forward}, not to ${to.name}: any other move is for a person to decide.`;
  }
  if (scope === 'owner') {
    const terminal = stages.filter((stage) => stage.terminal).map((stage) => stage.name);
    return (
      `As its CSM you may move ${account.name} ${forward}, back to any earlier stage${terminal.length > 0 ? `, or to ${terminal.join(' or ')}` : ''}, ` +
      `so not straight to ${to.name}. Move it one stage at a time, or ask a manager to make this move.`
    );
  }
  return (
    `Account executives may move their own accounts only from ${stageName(stages, PRE_ONBOARDING_STAGE)} ${forward}, so ${account.name} cannot go to ${to.name}. ` +
    `${next ? `Move it to ${next.name}, or ask` : 'Ask'} its CSM or a manager to make this move.`
  );
}

/**
 * Refuses a move the actor may not make, naming what they may do instead. Without a target it asks only
 * whether the actor may move this account at all, which the bot checks before it opens a form for one.
 */
export function requireMoveRights(
  actor: Actor,
  account: MovableAccount,
  target?: { toStage: string; stages: readonly LifecycleStage[] },
): void {
  const scope = moveScope(actor, account);
  if (scope === 'none') throw new ForbiddenError(forbiddenMoveMessage(actor, account));
  if (!target) return;
  const to = target.stages.find((stage) => stage.key === target.toStage);
  if (to && !allowsTarget(scope, target.stages, account.stageKey, to)) {
    throw new ForbiddenError(forbiddenTargetMessage(actor, scope, account, to, target.stages));
  }
}

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

/** What the person sees before giving a reason: the account as they knew it, and the stages either side. */
export interface StageMovePreview {
  account: Account;
  from: LifecycleStage | undefined;
  to: LifecycleStage;
  stages: LifecycleStage[];
}

/**
 * The move is allowed, but moving backward or to a final stage needs a reason first. Thrown before anything
 * is written; it carries what the bot needs to ask for the reason.
 */
export class ReasonRequiredError extends InvalidInputError {
  constructor(
    message: string,
    readonly preview: StageMovePreview,
  ) {
    super(message, 'reason');
  }
}

export interface MoveAccountStageParams {
  accountId: string;
  toStage: string;
  actor: Actor;
  source: TransitionSource;
  reason?: string | null;
  /** The account version the actor saw; the move is refused when someone else moved it since. */
  expectedVersion: number;
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
 * checks who may make this move, refuses a stale version, asks for a reason when moving backward or to a
 * terminal stage, records the transition and queues its audit note, all in one transaction. The account row
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
  // Not a UUID means no such account; asking PostgreSQL would fail with a type error instead.
  const [account] = isUuid(params.accountId)
    ? await tx.select().from(accounts).where(eq(accounts.id, params.accountId)).for('update')
    : [];
  if (!account) {
    throw new NotFoundError(`No account with id ${params.accountId}. Check the id, or search accounts by name.`, 'accountId');
  }
  // Whether the actor may move this account at all comes first: an outsider learns nothing of its version or stages.
  requireMoveRights(params.actor, account);
  const stages = await listStages(tx);
  const target = stages.find((stage) => stage.key === params.toStage);
  if (!target) {
    throw new InvalidInputError(
      `There is no stage "${params.toStage}". Use one of: ${stages.map((stage) => stage.key).join(', ')}.`,
      'toStage',
    );
  }
  if (account.version !== params.expectedVersion) {
    throw await staleVersionError(tx, account, params.expectedVersion, stages);
  }
  if (account.stageKey === target.key) {
    throw new InvalidInputError(`${account.name} is already in ${target.name}.`, 'toStage');
  }
  requireMoveRights(params.actor, account, { toStage: target.key, stages });
  const from = stages.find((stage) => stage.key === account.stageKey);
  if (moveNeedsReason(stages, account.stageKey, target.key) && !reason) {
    throw new ReasonRequiredError(
      `Moving ${account.name} ${target.terminal ? `to ${target.name}` : 'backward'} needs a reason, so the team knows why.`,
      { account, from, to: target, stages },
    );
  }

  const move = await writeStageMove(tx, account, target, {
    direction: from && from.position > target.position ? 'backward' : 'forward',
    actor: params.actor,
    source: params.source,
    reason,
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
  }
  return move;
}

/** The write alone, after every check has passed; not exported, so no surface can skip the checks. */
async function writeStageMove(
  tx: Tx,
  account: Account,
  target: LifecycleStage,
  move: { direction: 'forward' | 'backward'; actor: Actor; source: TransitionSource; reason: string | null; occurredAt: Date },
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
  tx: Tx,
  account: Account,
  expectedVersion: number,
  stages: LifecycleStage[],
): Promise<StaleVersionError> {
  const [latest] = await tx
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
