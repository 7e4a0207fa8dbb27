/**
 * The names the Slack listeners use for stage moves. A stage move has one home, `moveAccountStage` in
 * lifecycle.ts, which checks the policy, asks for a reason and queues the audit note for every surface; these
 * are the same functions and types under the names the bot has always imported.
 */
import { type MoveAccountStageParams, moveAccountStage } from './lifecycle.ts';

export { handoffChannelTarget as HANDOFF_CHANNEL_TARGET } from './notifications.ts';
export {
  ReasonRequiredError,
  type StageMove,
  type StageMovePreview,
  moveNeedsReason,
} from './lifecycle.ts';

export type AuditedMoveParams = MoveAccountStageParams;

/** A stage move with its audit note: every stage move is one, so this is `moveAccountStage` itself. */
export const moveStageWithAudit = moveAccountStage;
