import { type SQL, and, eq, inArray, lt, sql } from 'drizzle-orm';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import { renewals } from '../db/schema.ts';
import { enqueueNotification } from './outbox.ts';
import { atRiskChannelTarget } from './notifications.ts';
import { csmTarget, recordFirings } from './rules.ts';
import { createCheckpointTasks, createFiringTasks } from './plays/trigger-tasks.ts';
import { addDaysToDay, isoDay } from './dates.ts';

/**
 * Days before contract end that a renewal window opens when LIFELINE_RENEWAL_WINDOW_DAYS is not set. The one
 * default: every surface (jobs, GraphQL, the CRM webhook, the bot, the seed) is handed the configured window and
 * passes it down; domain functions fall back to this only when called without one (tests, scripts).
 */
export const DEFAULT_RENEWAL_WINDOW_DAYS = 90;

/** The day a contract end's renewal window opens: `windowDays` days before it. */
export function renewalOpensOn(contractEnd: string, windowDays: number): string {
  return addDaysToDay(contractEnd, -windowDays);
}

/** The latest contract end whose renewal window has opened by `today` (the same rule, read the other way). */
export function lastContractEndInWindow(today: string, windowDays: number): string {
  return addDaysToDay(today, windowDays);
}

export interface OpenDueRenewalsParams {
  windowDays: number;
  now?: Date;
  /**
   * Only these accounts, whatever their stage or contract end (an import or a closed-won deal records the contract
   * it was given). Without them: every account not in a terminal stage whose contract ends within
   * `endingWithinDays` days from today, as the daily pass sees the book.
   */
  accountIds?: string[];
  endingWithinDays?: number;
}

export interface OpenDueRenewalsResult {
  /** Renewals recorded now: open when their window had already started, upcoming otherwise. */
  created: { id: string; status: 'open' | 'upcoming' }[];
  /** Renewals recorded earlier whose window has started since. */
  opened: number;
}

/**
 * The one place a renewal is recorded and opened, set-based for one account or all: records the renewal of each
 * account's contract end once (a repeat keeps the first row), open at once when its window has started (see
 * renewalOpensOn), and opens the upcoming renewals whose window has started since.
 */
export async function openDueRenewals(tx: Db | Tx, params: OpenDueRenewalsParams): Promise<OpenDueRenewalsResult> {
  const now = params.now ?? new Date();
  const today = sql`${isoDay(now)}::date`;
  const opensOn = (contractEnd: SQL) => sql`${contractEnd} - ${params.windowDays}::int`;
  const accountIds = params.accountIds;
  if (accountIds?.length === 0) return { created: [], opened: 0 };
  const which = accountIds
    ? sql`a.id = any(${`{${accountIds.join(',')}}`}::uuid[]) and a.contract_end is not null`
    : sql`not s.terminal and a.contract_end >= ${today} and a.contract_end <= ${today} + ${params.endingWithinDays ?? params.windowDays}::int`;
  const created = await queryRows<{ id: string; status: 'open' | 'upcoming' }>(
    tx,
    sql`
    insert into renewals (account_id, contract_end, window_opens_on, status, created_at)
    select a.id, a.contract_end, ${opensOn(sql`a.contract_end`)},
           (case when ${opensOn(sql`a.contract_end`)} <= ${today} then 'open' else 'upcoming' end)::renewal_status,
           ${now.toISOString()}::timestamptz
    from accounts a
    join lifecycle_stages s on s.key = a.stage_key
    where ${which}
    on conflict (account_id, contract_end) do nothing
    returning id, status`,
  );
  const opened = await queryRows<{ id: string }>(
    tx,
    sql`
    update renewals set status = 'open'
    where status = 'upcoming' and window_opens_on <= ${today} and contract_end >= ${today}
      ${accountIds ? sql`and account_id = any(${`{${accountIds.join(',')}}`}::uuid[])` : sql``}
    returning id`,
  );
  return { created, opened: opened.length };
}

/**
 * A renewal deal extended the contract to the account's current contract end: the renewals of earlier contract
 * ends still waiting are closed as renewed, and the new contract end gets its own renewal.
 */
export async function recordContractRenewed(
  tx: Tx,
  params: { accountId: string; contractEnd: string; windowDays: number; renewedAt: Date; outcome: string },
): Promise<void> {
  await tx
    .update(renewals)
    .set({ status: 'renewed', outcome: params.outcome, closedAt: params.renewedAt })
    .where(
      and(
        eq(renewals.accountId, params.accountId),
        lt(renewals.contractEnd, params.contractEnd),
        inArray(renewals.status, ['upcoming', 'open']),
      ),
    );
  await openDueRenewals(tx, { windowDays: params.windowDays, accountIds: [params.accountId] });
}

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

    const escalations = await recordFirings(
      tx,
      now,
      sql`
      select 'renewal_at_risk', r.account_id, r.id::text || ':' || h.status,
             format('renewal of %s on %s, %s days left, and health is %s (%s)%s', a.name, r.contract_end, r.contract_end - ${today},
                    case h.status when 'at_risk' then 'At risk' else 'Critical' end, h.score, coalesce(': ' || (h.reasons ->> 0), '')),
             jsonb_build_object('renewalId', r.id)
      from renewals r
      join accounts a on a.id = r.account_id
      join account_health h on h.account_id = r.account_id
      where r.status = 'open' and r.contract_end >= ${today} and h.status in ('at_risk', 'critical')`,
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
