// The book at a glance: how many accounts, and how much ARR, sit in each stage with each health status, counted in
// one statement. Everyone who reads accounts may read it, narrowed the way account listings are.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { type HealthStatus, type LifecycleStage, accountHealth, accounts } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError } from '../errors.ts';
import { listStages } from '../lifecycle/stages.ts';
import { isUuid } from '../validation.ts';

export interface BreakdownCell {
  stage: LifecycleStage;
  /** Null: health not computed yet. */
  status: HealthStatus | null;
  accounts: number;
  arrCents: number;
}

export interface AccountBreakdownParams {
  reader: Actor;
  /** Only the accounts where this person is the CSM or the account executive (a CSM's own book). */
  ownerId?: string | null;
}

/** Accounts and ARR by stage and health status; stages in lifecycle order, only the cells that hold accounts. */
export async function getAccountBreakdown(db: Db, params: AccountBreakdownParams): Promise<BreakdownCell[]> {
  // SECURITY: an account executive counts only the accounts they sold, whatever the filter says.
  const readableAeId = readableOwnerId(params.reader);
  if (params.ownerId && !isUuid(params.ownerId)) throw new InvalidInputError('ownerId must be a user id from the `users` query.', 'ownerId');
  const owner = params.ownerId ?? null;
  const [rows, stages] = await Promise.all([
    queryRows<{ stage_key: string; status: HealthStatus | null; accounts: string | number; arr: string | number }>(
      db,
      sql`select ${accounts.stageKey} as stage_key, ${accountHealth.status} as status, count(*) as accounts, coalesce(sum(${accounts.arrCents}), 0) as arr
          from ${accounts}
          left join ${accountHealth} on ${accountHealth.accountId} = ${accounts.id}
          where (${owner}::uuid is null or ${accounts.csmId} = ${owner}::uuid or ${accounts.aeId} = ${owner}::uuid)
            and (${readableAeId}::uuid is null or ${accounts.aeId} = ${readableAeId}::uuid)
          group by ${accounts.stageKey}, ${accountHealth.status}`,
    ),
    listStages(db, { reader: params.reader }),
  ]);
  return stages.flatMap((stage) =>
    rows
      .filter((row) => row.stage_key === stage.key)
      .map((row) => ({ stage, status: row.status, accounts: Number(row.accounts), arrCents: Number(row.arr) })),
  );
}
