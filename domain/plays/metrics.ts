/**
 * Plays: how the work goes (tasks created, completed on time, overdue, by owner or by playbook) and whether playbooks
 * help (the health of a playbook's accounts before and after a run, against accounts where the same trigger fired
 * and no run started). Each figure group is one set-based statement; the formulas are documented in the GraphQL
 * schema descriptions (api/types/play-metrics.ts). Managers see their team's accounts, admins every account.
 */
import { type SQL, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { type PlaybookTrigger, playbooks, tasks } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { DAY_MS } from '../dates.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../errors.ts';
import { type Numeric, maybe, num, ratio } from '../metrics.ts';
import { isUuid, parseInput } from '../validation.ts';
import { overdueSql } from './tasks.ts';
import { firingTriggerSql } from './trigger-tasks.ts';

export const taskMetricsGroupings = ['owner', 'playbook'] as const;
export type TaskMetricsGrouping = (typeof taskMetricsGroupings)[number];

/** Days after a run's completion (or a firing) at which health is read again. */
export const FOLLOW_UP_DAYS = 30;
/** A firing is a control only when no run of the playbook started this many days either side of it. */
export const CONTROL_WINDOW_DAYS = 14;
/** Fewer measured accounts than this in either group: too few accounts to compare. */
export const MIN_COMPARABLE_ACCOUNTS = 5;
/** The key of the group of tasks no playbook created. */
export const NO_PLAYBOOK = 'none';

const periodSchema = z
  .object({
    from: z.iso.date('use a calendar date written YYYY-MM-DD'),
    to: z.iso.date('use a calendar date written YYYY-MM-DD'),
  })
  .refine((period) => period.from <= period.to, { message: 'the period must end on or after its first day', path: ['to'] })
  .refine((period) => Date.parse(period.to) - Date.parse(period.from) <= 3660 * DAY_MS, { message: 'a period can span at most ten years', path: ['to'] });

interface Period {
  from: string;
  to: string;
  startsAt: string;
  endsBefore: string;
}

function period(params: { from: string; to: string }): Period {
  const { from, to } = parseInput(periodSchema, { from: params.from, to: params.to });
  return { from, to, startsAt: new Date(`${from}T00:00:00Z`).toISOString(), endsBefore: new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS).toISOString() };
}

/**
 * SECURITY: the accounts the reader's play metrics cover, as a condition on an account id: every account for an
 * admin; for a manager, the accounts whose CSM is the manager or reports to them. Others are refused.
 */
function accountScope(actor: Actor, accountId: SQL): SQL {
  requireAccess(actor, 'read_metrics');
  if (actor.role === 'admin') return sql`true`;
  if (actor.userId === null) {
    throw new ForbiddenError('This manager token is not linked to a person, so it has no team to measure. Ask an admin to link it, or use an admin token.');
  }
  return sql`exists (
    select 1 from accounts sa join users su on su.id = sa.csm_id
    where sa.id = ${accountId} and (su.id = ${actor.userId} or su.manager_id = ${actor.userId})
  )`;
}

export interface TaskMetricsRow {
  /** An owner's user id, a playbook id, or `none` (tasks no playbook created). */
  key: string;
  label: string;
  created: number;
  completed: number;
  completedOnTime: number;
  onTimeShare: number | null;
  overdueNow: number;
}

export interface TaskMetrics {
  from: string;
  to: string;
  groupBy: TaskMetricsGrouping;
  groups: TaskMetricsRow[];
  total: TaskMetricsRow;
}

export interface TaskMetricsParams {
  /** First day of the period (inclusive, UTC). */
  from: string;
  /** Last day of the period (inclusive, UTC). */
  to: string;
  groupBy: TaskMetricsGrouping;
  actor: Actor;
  now?: Date;
}

/** Tasks created, completed, completed on time and overdue now, by owner or by playbook, in one statement. */
export async function getTaskMetrics(db: Db, params: TaskMetricsParams): Promise<TaskMetrics> {
  const scope = accountScope(params.actor, sql`${tasks.accountId}`);
  const { from, to, startsAt, endsBefore } = period(params);
  if (!taskMetricsGroupings.includes(params.groupBy)) throw new InvalidInputError('Group task metrics by owner or by playbook.', 'groupBy');
  const now = params.now ?? new Date();
  const [key, label] =
    params.groupBy === 'owner'
      ? [sql`${tasks.ownerId}::text`, sql`o.name`]
      : [sql`coalesce(p.id::text, ${NO_PLAYBOOK})`, sql`coalesce(p.name, 'No playbook')`];
  const inPeriod = (column: SQL) => sql`${column} >= ${startsAt}::timestamptz and ${column} < ${endsBefore}::timestamptz`;
  const completedInPeriod = sql`${tasks.status} = 'done' and ${inPeriod(sql`${tasks.completedAt}`)}`;
  const rows = await queryRows<{ grp: string; label: string } & Record<'created' | 'completed' | 'on_time' | 'overdue', Numeric>>(
    db,
    sql`select ${key} as grp, min(${label}) as label,
          count(*) filter (where ${inPeriod(sql`${tasks.createdAt}`)}) as created,
          count(*) filter (where ${completedInPeriod}) as completed,
          count(*) filter (where ${completedInPeriod} and (${tasks.completedAt} at time zone 'UTC')::date <= ${tasks.dueOn}) as on_time,
          count(*) filter (where ${overdueSql(now)}) as overdue
        from ${tasks}
        join users o on o.id = ${tasks.ownerId}
        left join playbook_runs r on r.id = ${tasks.playbookRunId}
        left join playbooks p on p.id = r.playbook_id
        where ${scope}
        group by 1
        having count(*) filter (where ${inPeriod(sql`${tasks.createdAt}`)} or ${completedInPeriod} or ${overdueSql(now)}) > 0
        order by 2, 1`,
  );
  const groups = rows.map((row) => taskRow(row.grp, row.label, num(row.created), num(row.completed), num(row.on_time), num(row.overdue)));
  const sum = (pick: (row: TaskMetricsRow) => number) => groups.reduce((total, row) => total + pick(row), 0);
  const total = taskRow('all', 'All tasks', sum((row) => row.created), sum((row) => row.completed), sum((row) => row.completedOnTime), sum((row) => row.overdueNow));
  return { from, to, groupBy: params.groupBy, groups, total };
}

function taskRow(key: string, label: string, created: number, completed: number, completedOnTime: number, overdueNow: number): TaskMetricsRow {
  return { key, label, created, completed, completedOnTime, onTimeShare: ratio(completedOnTime, completed), overdueNow };
}

/** One group's health before and after: runs of the playbook, or control firings. */
export interface HealthChange {
  /** Runs started in the period (control: firings in the period with no run nearby). */
  occasions: number;
  /** Of those, the ones whose follow-up day (+30 days) is still in the future: not counted yet. */
  awaitingFollowUp: number;
  /** Of those whose follow-up day has passed, the ones without a score before or after: not counted. */
  missingHealth: number;
  /** The ones counted: both scores known. */
  measured: number;
  /** Distinct accounts among the measured. */
  accounts: number;
  meanBefore: number | null;
  meanAfter: number | null;
  meanChange: number | null;
}

export interface PlaybookEffectiveness {
  playbookId: string;
  playbookKey: string;
  playbookName: string;
  triggers: PlaybookTrigger[];
  retired: boolean;
  runsStarted: number;
  /** Runs started in the period that are still running, or were closed by a person: never measured. */
  runsNotCompleted: number;
  withPlaybook: HealthChange;
  control: HealthChange;
  comparable: boolean;
  /** withPlaybook.meanChange − control.meanChange, when comparable. */
  differenceOfChanges: number | null;
  note: string;
}

export interface PlaybookEffectivenessReport {
  from: string;
  to: string;
  playbooks: PlaybookEffectiveness[];
}

export interface PlaybookEffectivenessParams {
  from: string;
  to: string;
  playbookId?: string | null;
  actor: Actor;
  now?: Date;
}

type ChangeRow = { playbook_id: string } & Record<'occasions' | 'awaiting' | 'missing' | 'measured' | 'accounts' | 'mean_before' | 'mean_after' | 'mean_change', Numeric>;

/** The latest score (insufficient_data has none) of `accountId` at or before `at`. */
const scoreAt = (accountId: SQL, at: SQL) => sql`(
  select hs.score from health_scores hs
  where hs.account_id = ${accountId} and hs.score is not null and hs.computed_at <= ${at}
  order by hs.computed_at desc, hs.id desc limit 1
)`;

/** The per-playbook aggregation of rows (playbook_id, account_id, status, matured, before_score, after_score). */
const aggregateChanges = (rows: SQL) => sql`
  select x.playbook_id,
    count(*) as occasions,
    count(*) filter (where x.counted and not x.matured) as awaiting,
    count(*) filter (where x.counted and x.matured and (x.before_score is null or x.after_score is null)) as missing,
    count(*) filter (where x.counted and x.matured and x.before_score is not null and x.after_score is not null) as measured,
    count(distinct x.account_id) filter (where x.counted and x.matured and x.before_score is not null and x.after_score is not null) as accounts,
    avg(x.before_score) filter (where x.counted and x.matured and x.after_score is not null)::float8 as mean_before,
    avg(x.after_score) filter (where x.counted and x.matured and x.before_score is not null)::float8 as mean_after,
    avg(x.after_score - x.before_score) filter (where x.counted and x.matured)::float8 as mean_change
  from (${rows}) x
  group by x.playbook_id`;

/**
 * For each playbook (or the one asked for): the health of the accounts of its runs started in the period, at the
 * start and 30 days after completion, against accounts where one of its triggers fired in the period and no run of
 * it started within 14 days of the firing, at the firing and 30 days after. One statement per group.
 */
export async function getPlaybookEffectiveness(db: Db, params: PlaybookEffectivenessParams): Promise<PlaybookEffectivenessReport> {
  const runScope = accountScope(params.actor, sql`r.account_id`);
  const firingScope = accountScope(params.actor, sql`f.account_id`);
  const { from, to, startsAt, endsBefore } = period(params);
  const now = (params.now ?? new Date()).toISOString();
  const playbookId = params.playbookId ?? null;
  if (playbookId !== null && !isUuid(playbookId)) throw new InvalidInputError('That is not a playbook id. Use the id from the playbooks query.', 'playbookId');
  const which = await db
    .select()
    .from(playbooks)
    .where(playbookId === null ? undefined : eq(playbooks.id, playbookId))
    .orderBy(asc(playbooks.name), asc(playbooks.id));
  if (playbookId !== null && which.length === 0) throw new NotFoundError('There is no playbook with that id. Use the id from the playbooks query.');
  const onlyPlaybook = (column: SQL) => (playbookId === null ? sql`true` : sql`${column} = ${playbookId}`);
  const followUp = sql`make_interval(days => ${FOLLOW_UP_DAYS}::int)`;

  const [runRows, controlRows] = await Promise.all([
    queryRows<ChangeRow & { not_completed: Numeric }>(
      db,
      sql`with runs as (
            select r.playbook_id, r.account_id, r.status::text = 'completed' as counted,
              r.status::text = 'completed' and r.completed_at + ${followUp} <= ${now}::timestamptz as matured,
              ${scoreAt(sql`r.account_id`, sql`r.started_at`)} as before_score,
              case when r.status::text = 'completed' and r.completed_at + ${followUp} <= ${now}::timestamptz
                then ${scoreAt(sql`r.account_id`, sql`r.completed_at + ${followUp}`)} end as after_score
            from playbook_runs r
            where r.started_at >= ${startsAt}::timestamptz and r.started_at < ${endsBefore}::timestamptz
              and ${onlyPlaybook(sql`r.playbook_id`)} and ${runScope}
          ),
          changes as (${aggregateChanges(sql`select * from runs`)})
          select c.*, (select count(*) from runs where runs.playbook_id = c.playbook_id and not runs.counted) as not_completed
          from changes c`,
    ),
    queryRows<ChangeRow>(
      db,
      sql`with firings as (
            select p.id as playbook_id, f.account_id, true as counted,
              f.fired_at + ${followUp} <= ${now}::timestamptz as matured,
              ${scoreAt(sql`f.account_id`, sql`f.fired_at`)} as before_score,
              case when f.fired_at + ${followUp} <= ${now}::timestamptz then ${scoreAt(sql`f.account_id`, sql`f.fired_at + ${followUp}`)} end as after_score
            from rule_firings f
            join playbooks p on ${firingTriggerSql()} = any(p.triggers::text[])
            where f.fired_at >= ${startsAt}::timestamptz and f.fired_at < ${endsBefore}::timestamptz
              and ${onlyPlaybook(sql`p.id`)} and ${firingScope}
              and not exists (
                select 1 from playbook_runs nr
                where nr.playbook_id = p.id and nr.account_id = f.account_id
                  and nr.started_at between f.fired_at - make_interval(days => ${CONTROL_WINDOW_DAYS}::int)
                                        and f.fired_at + make_interval(days => ${CONTROL_WINDOW_DAYS}::int)
              )
          )
          ${aggregateChanges(sql`select * from firings`)}`,
    ),
  ]);

  return {
    from,
    to,
    playbooks: which.map((playbook): PlaybookEffectiveness => {
      const runs = runRows.find((row) => row.playbook_id === playbook.id);
      const withPlaybook = healthChange(runs);
      const control = healthChange(controlRows.find((row) => row.playbook_id === playbook.id));
      const comparable = withPlaybook.accounts >= MIN_COMPARABLE_ACCOUNTS && control.accounts >= MIN_COMPARABLE_ACCOUNTS;
      const differenceOfChanges = comparable && withPlaybook.meanChange !== null && control.meanChange !== null ? withPlaybook.meanChange - control.meanChange : null;
      return {
        playbookId: playbook.id,
        playbookKey: playbook.key,
        playbookName: playbook.name,
        triggers: playbook.triggers,
        retired: playbook.retiredAt !== null,
        runsStarted: withPlaybook.occasions,
        runsNotCompleted: num(runs?.not_completed ?? null),
        withPlaybook,
        control,
        comparable,
        differenceOfChanges,
        note: comparable
          ? `Compared ${accountsWord(withPlaybook.accounts)} with a completed run against ${accountsWord(control.accounts)} where the same trigger fired and no run started.`
          : `Too few accounts to compare: ${accountsWord(withPlaybook.accounts)} with a completed run measured 30 days on, and ${accountsWord(control.accounts)} where the same trigger fired and no run started; at least ${MIN_COMPARABLE_ACCOUNTS} of each are needed.`,
      };
    }),
  };
}

function healthChange(row: ChangeRow | undefined): HealthChange {
  return {
    occasions: num(row?.occasions ?? null),
    awaitingFollowUp: num(row?.awaiting ?? null),
    missingHealth: num(row?.missing ?? null),
    measured: num(row?.measured ?? null),
    accounts: num(row?.accounts ?? null),
    meanBefore: maybe(row?.mean_before ?? null),
    meanAfter: maybe(row?.mean_after ?? null),
    meanChange: maybe(row?.mean_change ?? null),
  };
}

const accountsWord = (count: number) => `${count} ${count === 1 ? 'account' : 'accounts'}`;
