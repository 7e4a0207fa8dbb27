import type { Db } from '../db/client.ts';
import type { Account, LifecycleStage } from '../db/schema.ts';
import { InvalidInputError } from './errors.ts';
import { type MoveAccountStageParams, type StageMove, listStages, moveAccountStageInTx } from './lifecycle.ts';
import { enqueueNotification } from './outbox.ts';

export const HANDOFF_CHANNEL_TARGET = 'channel:handoffs';

/** Moving backward, or into a terminal stage such as Churned, needs a reason that others can read later. */
export function moveNeedsReason(stages: readonly LifecycleStage[], fromKey: string, toKey: string): boolean {
  const from = stages.find((stage) => stage.key === fromKey);
  const to = stages.find((stage) => stage.key === toKey);
  if (!to) return false;
  return to.terminal || (from !== undefined && to.position < from.position);
}

export interface AuditedMoveParams extends MoveAccountStageParams {
  /** Where the audit note goes when the account has no thread yet: the card's channel, or the handoff channel. */
  auditTarget?: string;
}

/** What the person sees before giving a reason: the account as they knew it, and the stages either side. */
export interface StageMovePreview {
  account: Account;
  from: LifecycleStage | undefined;
  to: LifecycleStage;
  stages: LifecycleStage[];
}

/**
 * The move is allowed, but moving backward or to a final stage needs a reason first. Thrown inside the move's
 * transaction, so nothing was written; it carries what the bot needs to ask for the reason.
 */
export class ReasonRequiredError extends InvalidInputError {
  constructor(
    message: string,
    readonly preview: StageMovePreview,
  ) {
    super(message, 'reason');
  }
}

/**
 * A stage move made by a person, with its audit note queued in the same transaction: the note is posted in
 * the account's thread (or starts it), so the channel sees every move, who made it and why. Permissions, a
 * stale version and an unknown stage are refused with the domain's own errors; a move that needs a reason
 * and has none is refused with ReasonRequiredError.
 */
export async function moveStageWithAudit(db: Db, params: AuditedMoveParams): Promise<StageMove> {
  return db.transaction(async (tx) => {
    const stages = await listStages(tx);
    const move = await moveAccountStageInTx(tx, params, stages);
    const { fromStage, toStage, reason } = move.transition;
    if (fromStage && moveNeedsReason(stages, fromStage, toStage) && !reason) {
      const from = stages.find((stage) => stage.key === fromStage);
      const to = stages.find((stage) => stage.key === toStage);
      if (!to) throw new Error(`Stage ${toStage} vanished during a move`);
      // Rolled back with the transaction: the account as the person saw it before the move.
      const account = { ...move.account, stageKey: fromStage, version: params.expectedVersion };
      throw new ReasonRequiredError(`Moving ${move.account.name} ${to.terminal ? `to ${to.name}` : 'backward'} needs a reason, so the team knows why.`, {
        account,
        from,
        to,
        stages,
      });
    }
    await enqueueNotification(tx, {
      kind: 'stage_audit',
      dedupeKey: `stage_audit:${move.account.id}:v${move.account.version}`,
      target: params.auditTarget ?? HANDOFF_CHANNEL_TARGET,
      payload: { accountId: move.account.id, transitionId: move.transition.id },
    });
    return move;
  });
}
