/**
 * The stage-move policy: who may move which account to which stage, and when a move needs a reason. Functions
 * of the actor, the account and the stages alone; moves.ts applies them to every move, whatever its surface.
 */
import type { Account, LifecycleStage } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { ForbiddenError } from '../errors.ts';
import { CHURNED_STAGE, PRE_ONBOARDING_STAGE } from './stages.ts';

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

/**
 * A move to Churned names why the customer left, as one of the admin-edited churn reasons (with optional text): it
 * stands in for the free-text reason such a move needs, and metrics break lost revenue down by it.
 */
export function moveNeedsChurnReason(toKey: string): boolean {
  return toKey === CHURNED_STAGE;
}

/**
 * Moving backward, or into a terminal stage such as Churned, needs a reason that others can read later (for
 * Churned, a churn reason: see moveNeedsChurnReason).
 */
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

