// The renewal forecast: ARR up for renewal in a period by forecast call and by health, the GRR expected if commits
// hold, and, for renewals already closed, what happened beside what was called. One set-based statement.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import type { RenewalCallKind, RenewalOutcomeKind } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { DAY_MS } from '../dates.ts';
import { parseInput } from '../validation.ts';
import { getUsersByIds } from '../users.ts';

export const forecastGroupings = ['segment', 'csm'] as const;
export type ForecastGrouping = (typeof forecastGroupings)[number];

const periodSchema = z
  .object({
    from: z.iso.date('use a calendar date written YYYY-MM-DD'),
    to: z.iso.date('use a calendar date written YYYY-MM-DD'),
    groupBy: z.enum(forecastGroupings).nullish(),
  })
  .refine((period) => period.from <= period.to, { message: 'the period must end on or after its first day', path: ['to'] })
  .refine((period) => Date.parse(period.to) - Date.parse(period.from) <= 3660 * DAY_MS, { message: 'a period can span at most ten years', path: ['to'] });

export interface ForecastSlice {
  renewals: number;
  arrCents: number;
}

export interface ForecastByCall extends ForecastSlice {
  /** Null: no call yet. */
  call: RenewalCallKind | null;
}

export interface ForecastByHealth extends ForecastSlice {
  /** healthy, at_risk, critical, insufficient_data, or not_computed. */
  status: string;
}

/** Closed renewals by the call they had when their outcome was recorded, and what happened. */
export interface ForecastAccuracyRow {
  call: RenewalCallKind | null;
  renewals: number;
  arrUpCents: number;
  renewed: number;
  downsold: number;
  churned: number;
  /** Σ min(new ARR, ARR up): what was kept of the ARR up (churn keeps 0). */
  retainedArrCents: number;
  /** Σ new ARR (expansion included). */
  newArrCents: number;
}

export interface ForecastGroup {
  key: string;
  label: string;
  renewals: number;
  arrUpCents: number;
  openArrCents: number;
  closedArrCents: number;
  byCall: ForecastByCall[];
  byHealth: ForecastByHealth[];
  noCallArrCents: number;
  expectedGrr: number | null;
  accuracy: ForecastAccuracyRow[];
}

export interface RenewalForecast {
  from: string;
  to: string;
  groupBy: ForecastGrouping | null;
  groups: ForecastGroup[];
}

type Numeric = string | number | null;
const num = (value: Numeric): number => (value === null ? 0 : Number(value));
const callOrder: (RenewalCallKind | null)[] = ['commit', 'likely', 'at_risk', 'churning', null];

/**
 * The forecast of renewals whose contract end falls in the period (both days inclusive), for managers and admins.
 * ARR up is the account's ARR for an open renewal and the ARR recorded as up for renewal for a closed one; the call of
 * a closed renewal is the latest made before its first outcome was recorded; health is each account's current one.
 */
export async function getRenewalForecast(db: Db, params: { from: string; to: string; groupBy?: ForecastGrouping | null; actor: Actor }): Promise<RenewalForecast> {
  requireAccess(params.actor, 'read_metrics');
  const { from, to, groupBy: raw } = parseInput(periodSchema, params);
  const groupBy = raw ?? null;
  const group = groupBy === 'segment' ? sql`a.segment::text` : groupBy === 'csm' ? sql`coalesce(a.csm_id::text, 'unassigned')` : sql`'all'`;
  const rows = await queryRows<{
    grp: string;
    call: RenewalCallKind | null;
    health: string;
    outcome: RenewalOutcomeKind | null;
    renewals: Numeric;
    arr_up: Numeric;
    retained: Numeric;
    new_arr: Numeric;
  }>(
    db,
    sql`with up as (
          select ${group} as grp, r.id, o.outcome,
                 coalesce(o.previous_arr_cents, a.arr_cents) as arr_up,
                 o.new_arr_cents,
                 coalesce(h.status::text, 'not_computed') as health,
                 (select c.call from renewal_calls c
                   where c.renewal_id = r.id and (f.first_at is null or c.called_at <= f.first_at)
                   order by c.called_at desc, c.id desc limit 1) as call
          from renewals r
          join accounts a on a.id = r.account_id
          left join renewal_outcomes o on o.renewal_id = r.id and o.superseded_at is null
          left join lateral (select min(x.recorded_at) as first_at from renewal_outcomes x where x.renewal_id = r.id) f on true
          left join account_health h on h.account_id = r.account_id
          where r.contract_end between ${from}::date and ${to}::date
            and (o.id is not null or r.status in ('upcoming', 'open'))
        )
        select grp, call::text as call, health, outcome::text as outcome, count(*) as renewals, sum(arr_up) as arr_up,
               sum(case when outcome = 'churned' then 0 else least(new_arr_cents, arr_up) end) as retained,
               sum(new_arr_cents) as new_arr
        from up group by grp, call, health, outcome`,
  );
  const keys = [...new Set<string>([...(groupBy === null ? ['all'] : []), ...rows.map((row) => row.grp)])].sort();
  const labels = new Map<string, string>([['all', 'All renewals'], ['unassigned', 'No CSM'], ['smb', 'SMB'], ['mid_market', 'Mid-market'], ['enterprise', 'Enterprise']]);
  if (groupBy === 'csm') for (const person of await getUsersByIds(db, keys.filter((key) => key !== 'unassigned'))) labels.set(person.id, person.name);

  const groups = keys.map((key): ForecastGroup => {
    const mine = rows.filter((row) => row.grp === key);
    const open = mine.filter((row) => row.outcome === null);
    const closed = mine.filter((row) => row.outcome !== null);
    const sum = (list: typeof rows, pick: (row: (typeof rows)[number]) => Numeric) => list.reduce((total, row) => total + num(pick(row)), 0);
    const arrUp = sum(mine, (row) => row.arr_up);
    const commitsHold = sum(closed, (row) => row.retained) + sum(open.filter((row) => row.call === 'commit'), (row) => row.arr_up);
    const byCall = callOrder
      .map((call) => {
        const slice = mine.filter((row) => row.call === call);
        return { call, renewals: sum(slice, (row) => row.renewals), arrCents: sum(slice, (row) => row.arr_up) };
      })
      .filter((row) => row.renewals > 0);
    const statuses = [...new Set(mine.map((row) => row.health))].sort();
    return {
      key,
      label: labels.get(key) ?? key,
      renewals: sum(mine, (row) => row.renewals),
      arrUpCents: arrUp,
      openArrCents: sum(open, (row) => row.arr_up),
      closedArrCents: sum(closed, (row) => row.arr_up),
      byCall,
      byHealth: statuses.map((status) => {
        const slice = mine.filter((row) => row.health === status);
        return { status, renewals: sum(slice, (row) => row.renewals), arrCents: sum(slice, (row) => row.arr_up) };
      }),
      noCallArrCents: sum(open.filter((row) => row.call === null), (row) => row.arr_up),
      expectedGrr: arrUp === 0 ? null : commitsHold / arrUp,
      accuracy: callOrder
        .map((call) => {
          const slice = closed.filter((row) => row.call === call);
          const count = (outcome: RenewalOutcomeKind) => sum(slice.filter((row) => row.outcome === outcome), (row) => row.renewals);
          return {
            call,
            renewals: sum(slice, (row) => row.renewals),
            arrUpCents: sum(slice, (row) => row.arr_up),
            renewed: count('renewed'),
            downsold: count('downsell'),
            churned: count('churned'),
            retainedArrCents: sum(slice, (row) => row.retained),
            newArrCents: sum(slice, (row) => row.new_arr),
          };
        })
        .filter((row) => row.renewals > 0),
    };
  });
  return { from, to, groupBy, groups };
}
