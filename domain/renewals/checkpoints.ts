// The daily renewal pass: records and opens the renewals the window reaches, reminds the CSM at each checkpoint
// before contract end, and escalates open renewals of unhealthy accounts.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import type { HealthWordsSource } from '../../db/schema.ts';
import { enqueueNotification } from '../outbox.ts';
import { atRiskChannelTarget } from '../notifications.ts';
import { csmTarget, proposedFirings, recordFirings } from '../rules.ts';
import { healthWordsJson, healthWordsOf, withFirstReason } from '../health/words.ts';
import { createCheckpointTasks, createFiringTasks } from '../plays/trigger-tasks.ts';
import { isoDay } from '../dates.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, openDueRenewals } from './window.ts';

/** Days before contract end at which the CSM is reminded, each once per renewal. */
export const RENEWAL_CHECKPOINT_DAYS = [180, 90, 30] as const;

export interface RunRenewalsParams {
  now?: Date;
  /** The renewal window opens this many days before contract end. */
  windowDays?: number;
}

export interface RunRenewalsResult {
  /** Renewals created (as upcoming, or open when already inside the window). */
  created: number;
  /** Renewals whose window opened in this run. */
  opened: number;
  /** Checkpoint reminders queued. */
  checkpoints: number;
  /** Renewals escalated because the account's health is low inside the window. */
  escalations: number;
}

/**
 * Daily renewal pass, set-based: creates a renewal for every contract ending within the first checkpoint,
 * opens those whose window started, queues each checkpoint reminder once, and escalates open renewals whose
 * account is At risk or Critical (once per renewal and status).
 */
export async function runRenewals(db: Db, params: RunRenewalsParams = {}): Promise<RunRenewalsResult> {
  const now = params.now ?? new Date();
  const windowDays = params.windowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  const today = sql`${isoDay(now)}::date`;
  const horizon = Math.max(windowDays, ...RENEWAL_CHECKPOINT_DAYS);
  const [c30, c90, c180] = [...RENEWAL_CHECKPOINT_DAYS].sort((a, b) => a - b);

  return db.transaction(async (tx) => {
    const { created, opened } = await openDueRenewals(tx, { windowDays, now, endingWithinDays: horizon });

    const checkpoints = await recordFirings(
      tx,
      now,
      sql`
      select 'renewal_checkpoint', r.account_id, r.id::text || ':' || c.checkpoint,
             format('renewal of %s on %s, %s days left (%s-day checkpoint)', a.name, r.contract_end, r.contract_end - ${today}, c.checkpoint),
             jsonb_build_object('renewalId', r.id, 'daysLeft', r.contract_end - ${today})
      from renewals r
      join accounts a on a.id = r.account_id
      cross join lateral (
        select case when r.contract_end - ${today} <= ${c30}::int then ${c30}::int
                    when r.contract_end - ${today} <= ${c90}::int then ${c90}::int
                    when r.contract_end - ${today} <= ${c180}::int then ${c180}::int end as checkpoint
      ) c
      where r.status in ('upcoming', 'open') and r.contract_end >= ${today} and c.checkpoint is not null`,
    );
    await createCheckpointTasks(tx, checkpoints, now);
    for (const firing of checkpoints) {
      await enqueueNotification(tx, {
        kind: 'renewal_checkpoint',
        dedupeKey: `renewal_checkpoint:${firing.accountId}:${firing.occasion}`,
        target: csmTarget(firing.csmId),
        payload: {
          accountId: firing.accountId,
          renewalId: String(firing.extra.renewalId),
          daysLeft: Number(firing.extra.daysLeft),
          reason: firing.reason,
        },
      });
    }

    // Said with the score's first reason, put into words here (health/words.ts).
    const atRisk = await queryRows<{ account_id: string; occasion: string; reason: string; renewal_id: string; words: HealthWordsSource | string }>(
      tx,
      sql`
      select r.account_id, r.id::text || ':' || h.status as occasion,
             format('renewal of %s on %s, %s days left, and health is %s (%s)', a.name, r.contract_end, r.contract_end - ${today},
                    case h.status when 'at_risk' then 'At risk' else 'Critical' end, h.score) as reason,
             r.id::text as renewal_id, ${healthWordsJson('h')} as words
      from renewals r
      join accounts a on a.id = r.account_id
      join account_health h on h.account_id = r.account_id
      where r.status = 'open' and r.contract_end >= ${today} and h.status in ('at_risk', 'critical')`,
    );
    const escalations = await recordFirings(
      tx,
      now,
      proposedFirings(
        atRisk.map((row) => ({
          rule: 'renewal_at_risk',
          accountId: row.account_id,
          occasion: row.occasion,
          reason: withFirstReason(row.reason, healthWordsOf(row.words)),
          extra: { renewalId: row.renewal_id },
        })),
      ),
    );
    await createFiringTasks(tx, escalations, now);
    for (const firing of escalations) {
      // Escalation goes where managers watch, not only to the CSM who already sees the account daily.
      await enqueueNotification(tx, {
        kind: 'alert',
        dedupeKey: `alert:${firing.rule}:${firing.accountId}:${firing.occasion}`,
        target: atRiskChannelTarget,
        payload: { accountId: firing.accountId, rule: firing.rule, reason: firing.reason, renewalId: String(firing.extra.renewalId) },
      });
    }

    return {
      created: created.length,
      opened: opened + created.filter((row) => row.status === 'open').length,
      checkpoints: checkpoints.length,
      escalations: escalations.length,
    };
  });
}
