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

/**
 * A stage move made by a person, with its audit note queued in the same transaction: the note is posted in
 * the account's thread (or starts it), so the channel sees every move, who made it and why.
 */
export async function moveStageWithAudit(db: Db, params: AuditedMoveParams): Promise<StageMove> {
  return db.transaction(async (tx) => {
    const stages = await listStages(tx);
    const move = await moveAccountStageInTx(tx, params);
    if (move.transition.fromStage && moveNeedsReason(stages, move.transition.fromStage, move.transition.toStage) && !move.transition.reason) {
      const to = stages.find((stage) => stage.key === move.transition.toStage);
      throw new InvalidInputError(
        `Moving ${move.account.name} ${to?.terminal ? `to ${to.name}` : 'backward'} needs a reason, so the team knows why.`,
        'reason',
      );
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

export interface StageMovePreview {
  account: Account;
  from: LifecycleStage | undefined;
  to: LifecycleStage;
  stages: LifecycleStage[];
  needsReason: boolean;
}

/** Thrown to roll back a dry run; never escapes this module. */
class DryRun extends Error {}

/**
 * Would this move be accepted? Runs the real move in a transaction and rolls it back, so permissions, a
 * stale version and an unknown stage are refused with exactly the domain's own messages, before the bot
 * asks anyone for a reason.
 */
export async function previewStageMove(db: Db, params: MoveAccountStageParams): Promise<StageMovePreview> {
  let preview: StageMovePreview | undefined;
  try {
    await db.transaction(async (tx) => {
      const stages = await listStages(tx);
      const move = await moveAccountStageInTx(tx, { ...params, reason: null });
      const from = stages.find((stage) => stage.key === move.transition.fromStage);
      const to = stages.find((stage) => stage.key === move.transition.toStage);
      if (!to) throw new Error(`Stage ${move.transition.toStage} vanished during a dry run`);
      const account = { ...move.account, stageKey: from?.key ?? move.account.stageKey, version: params.expectedVersion };
      preview = { account, from, to, stages, needsReason: moveNeedsReason(stages, account.stageKey, to.key) };
      throw new DryRun();
    });
  } catch (error) {
    if (!(error instanceof DryRun)) throw error;
  }
  if (!preview) throw new Error('Stage move dry run produced no preview');
  return preview;
}
