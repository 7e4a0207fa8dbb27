import type { Db, Tx } from '../db/client.ts';
import { outbox } from '../db/schema.ts';

export interface EnqueueNotificationParams {
  /** What to render, e.g. `handoff`, `at_risk_digest`, `alert`, `stage_audit`. */
  kind: string;
  /**
   * Unique per notification occasion (e.g. `alert:usage_drop:<account>:2026-11-25`): enqueuing the same key
   * twice is a no-op, which is what makes retries, crashes and replicas safe.
   */
  dedupeKey: string;
  /** A Slack channel id, or a user id for a direct message. */
  target: string;
  /** Updates the message kept under this key (e.g. `handoff:<id>`) instead of posting a new one. */
  messageKey?: string | null;
  payload: Record<string, unknown>;
}

/**
 * Queues a Slack notification. Call it inside the transaction of the change that causes it, so the change and
 * its notification commit or roll back together. Returns false when the dedupe key was already queued.
 */
export async function enqueueNotification(db: Db | Tx, params: EnqueueNotificationParams): Promise<boolean> {
  const inserted = await db
    .insert(outbox)
    .values({
      kind: params.kind,
      dedupeKey: params.dedupeKey,
      target: params.target,
      messageKey: params.messageKey ?? null,
      payload: params.payload,
    })
    .onConflictDoNothing({ target: outbox.dedupeKey })
    .returning({ id: outbox.id });
  return inserted.length > 0;
}
