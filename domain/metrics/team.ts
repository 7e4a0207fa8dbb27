// The team view: each CSM's book as it stands now (accounts in live stages, their ARR, how many are on the at-risk
// list) and the work they owe (open and overdue tasks), in one statement.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { accountHealth, accounts, lifecycleStages, tasks, users } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { onAtRiskList } from '../health/queries.ts';
import { openTaskSql, overdueSql } from '../plays/tasks.ts';
import { type Numeric, num, ratio } from '../metrics.ts';

export interface TeamRow {
  csmId: string;
  name: string;
  /** Accounts in live (not terminal) stages whose CSM this person is. */
  accounts: number;
  arrCents: number;
  /** Of those, accounts on the at-risk list (the rule the list, the digest and App Home share). */
  atRisk: number;
  atRiskArrCents: number;
  atRiskShare: number | null;
  /** Tasks this person owns that are open (an ended snooze counts), and those of them past their due day. */
  openTasks: number;
  overdueTasks: number;
}

/** Every CSM (and anyone else who is the CSM of a live account), with their book and their task load. Managers and admins. */
export async function getTeam(db: Db, params: { actor: Actor; now?: Date }): Promise<TeamRow[]> {
  requireAccess(params.actor, 'read_metrics');
  const now = params.now ?? new Date();
  const rows = await queryRows<{ csm_id: string; name: string } & Record<'accounts' | 'arr' | 'at_risk' | 'at_risk_arr' | 'open_tasks' | 'overdue_tasks', Numeric>>(
    db,
    sql`with book as (
          select ${accounts.csmId} as csm_id,
            count(*) as accounts,
            coalesce(sum(${accounts.arrCents}), 0) as arr,
            count(*) filter (where ${onAtRiskList}) as at_risk,
            coalesce(sum(${accounts.arrCents}) filter (where ${onAtRiskList}), 0) as at_risk_arr
          from ${accounts}
          join ${lifecycleStages} on ${lifecycleStages.key} = ${accounts.stageKey} and not ${lifecycleStages.terminal}
          left join ${accountHealth} on ${accountHealth.accountId} = ${accounts.id}
          where ${accounts.csmId} is not null
          group by ${accounts.csmId}
        ),
        work as (
          select ${tasks.ownerId} as owner_id,
            count(*) filter (where ${openTaskSql(now)}) as open_tasks,
            count(*) filter (where ${overdueSql(now)}) as overdue_tasks
          from ${tasks}
          group by ${tasks.ownerId}
        )
        select ${users.id} as csm_id, ${users.name} as name,
          coalesce(book.accounts, 0) as accounts, coalesce(book.arr, 0) as arr,
          coalesce(book.at_risk, 0) as at_risk, coalesce(book.at_risk_arr, 0) as at_risk_arr,
          coalesce(work.open_tasks, 0) as open_tasks, coalesce(work.overdue_tasks, 0) as overdue_tasks
        from ${users}
        left join book on book.csm_id = ${users.id}
        left join work on work.owner_id = ${users.id}
        where ${users.role} = 'csm' or book.csm_id is not null
        order by ${users.name}, ${users.id}`,
  );
  return rows.map((row) => {
    const total = num(row.accounts);
    const atRisk = num(row.at_risk);
    return {
      csmId: row.csm_id,
      name: row.name,
      accounts: total,
      arrCents: num(row.arr),
      atRisk,
      atRiskArrCents: num(row.at_risk_arr),
      atRiskShare: ratio(atRisk, total),
      openTasks: num(row.open_tasks),
      overdueTasks: num(row.overdue_tasks),
    };
  });
}
