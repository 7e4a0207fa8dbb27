import { asc, desc, eq, and } from 'drizzle-orm';
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
import type { Actor } from './actors.ts';
import { ForbiddenError, InvalidInputError, NotFoundError, StaleVersionError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
}

export interface StageMove {
  account: Account;
  transition: StageTransition;
}

/** Who may move which account. Pure, so the bot can hide controls the person cannot use. */
export function canMoveAccount(actor: Actor, account: Pick<Account, 'csmId' | 'aeId' | 'stageKey'>): boolean {
  switch (actor.role) {
    case 'admin':
    case 'manager':
      return true;
    case 'csm':
      return actor.userId !== null && account.csmId === actor.userId;
    case 'ae':
      return actor.userId !== null && account.aeId === actor.userId && account.stageKey === 'pre_onboarding';
    case 'viewer':
    case 'integration':
      return false;
  }
}

function forbiddenMoveMessage(actor: Actor, account: Account): string {
  switch (actor.role) {
    case 'csm':
      return `You can only move accounts you own as CSM; ${account.name} belongs to another CSM. Ask its CSM or a manager to move it.`;
    case 'ae':
      return account.aeId === actor.userId
        ? `Account executives can move their accounts only while they are in Pre-onboarding; ${account.name} has moved past it. Ask its CSM to move it.`
        : `You can only move accounts where you are the account executive; ${account.name} is not one of them.`;
    default:
      return `Your role (${actor.role}) cannot move accounts between stages. Ask a manager or the account's CSM.`;
  }
}

/** Refuses a move the actor may not make, saying who can; the bot asks before it opens a form for one. */
export function requireMoveRights(actor: Actor, account: Account): void {
  if (!canMoveAccount(actor, account)) throw new ForbiddenError(forbiddenMoveMessage(actor, account));
}

/**
 * Moves an account to another lifecycle stage and records the transition, in one transaction.
 * The account row is locked, so concurrent moves are serialised and exactly one wins per version.
 */
export async function moveAccountStage(db: Db, params: MoveAccountStageParams): Promise<StageMove> {
  return db.transaction((tx) => moveAccountStageInTx(tx, params));
}

/**
 * The same move inside a caller's transaction, so a move can commit together with the change that causes it
 * (closed-won creates a handoff and moves the account into Onboarding atomically).
 */
/** `stages`: the stage definitions when the caller already read them in this transaction. */
export async function moveAccountStageInTx(tx: Tx, params: MoveAccountStageParams, stages?: LifecycleStage[]): Promise<StageMove> {
  const reason = params.reason?.trim() || null;
  if (reason !== null && reason.length > 2000) {
    throw new InvalidInputError('The reason is too long: keep it under 2000 characters.', 'reason');
  }
  // Not a UUID means no such account; asking PostgreSQL would fail with a type error instead.
  const [account] = UUID.test(params.accountId)
    ? await tx.select().from(accounts).where(eq(accounts.id, params.accountId)).for('update')
    : [];
  if (!account) {
    throw new NotFoundError(`No account with id ${params.accountId}. Check the id, or search accounts by name.`, 'accountId');
  }
  requireMoveRights(params.actor, account);
  stages ??= await listStages(tx);
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
  const current = stages.find((stage) => stage.key === account.stageKey);
  const direction = current && current.position > target.position ? 'backward' : 'forward';
  const now = params.occurredAt ?? new Date();
  const nextVersion = account.version + 1;

  const [transition] = await tx
    .insert(stageTransitions)
    .values({
      accountId: account.id,
      fromStage: account.stageKey,
      toStage: target.key,
      direction,
      actorId: params.actor.userId,
      actorLabel: params.actor.label,
      source: params.source,
      reason,
      accountVersion: nextVersion,
      occurredAt: now,
    })
    .returning();
  const [moved] = await tx
    .update(accounts)
    .set({ stageKey: target.key, stageEnteredAt: now, version: nextVersion, updatedAt: now })
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

export function listTransitions(db: Db | Tx, accountId: string, limit = 50): Promise<StageTransition[]> {
  return db
    .select()
    .from(stageTransitions)
    .where(eq(stageTransitions.accountId, accountId))
    .orderBy(desc(stageTransitions.accountVersion))
    .limit(limit);
}
