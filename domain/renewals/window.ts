// The renewal window and the renewal rows it governs: the day a contract end's window opens, recording and
// opening renewals (one account or the whole book), and closing them when a renewal deal extends the contract.
// The rest of domain/renewals/ reads renewals (queries.ts) and runs the daily pass (checkpoints.ts).
import { type SQL, and, eq, inArray, lt, sql } from 'drizzle-orm';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { renewals } from '../../db/schema.ts';
import { addDaysToDay, isoDay } from '../dates.ts';
import { queueWebhookEvents } from '../webhooks.ts';

/**
 * Days before contract end that a renewal window opens when LIFELINE_RENEWAL_WINDOW_DAYS is not set. The one
 * default: every surface (jobs, GraphQL, the CRM webhook, the bot, the seed) is handed the configured window and
 * passes it down; domain functions fall back to this only when called without one (tests, scripts).
 */
export const DEFAULT_RENEWAL_WINDOW_DAYS = 90;

/** The longest span, in days, that a renewal window or a question about coming contract ends may cover. */
export const MAX_RENEWAL_WINDOW_DAYS = 3660;

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
  const nowOpen = [...created.filter((renewal) => renewal.status === 'open').map((renewal) => renewal.id), ...opened.map((renewal) => renewal.id)];
  if (nowOpen.length > 0) {
    const rows = await tx
      .select({ id: renewals.id, accountId: renewals.accountId, contractEnd: renewals.contractEnd, windowOpensOn: renewals.windowOpensOn })
      .from(renewals)
      .where(inArray(renewals.id, nowOpen));
    await queueWebhookEvents(
      tx,
      rows.map((renewal) => ({ type: 'renewal.opened' as const, occasion: renewal.id, at: now, data: { renewalId: renewal.id, accountId: renewal.accountId, contractEnd: String(renewal.contractEnd), windowOpensOn: String(renewal.windowOpensOn) } })),
    );
  }
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
