import { type SQL, sql } from 'drizzle-orm';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import { ruleActor } from './actors.ts';
import { moveAccountStage } from './lifecycle/moves.ts';
import { EARLY_ADOPTION_STAGE, IMPLEMENTATION_STAGE, ONBOARDING_STAGE } from './lifecycle/stages.ts';
import { type AtRiskChannelTarget, type NotificationTarget, type UserTarget, atRiskChannelTarget, handoffChannelTarget, userTarget } from './notifications.ts';
import { enqueueNotification } from './outbox.ts';
import { createFiringTasks } from './plays/trigger-tasks.ts';
import { healthWordsJson, healthWordsOf, withFirstReason } from './health/words.ts';
import type { HealthWordsSource } from '../db/schema.ts';

export const ruleNames = [
  'no_first_key_action',
  'usage_drop',
  'health_worsened',
  'expansion_signal',
  'stage_sla',
  'handoff_sla',
  'first_value',
] as const;
export type RuleName = (typeof ruleNames)[number];

export const RULE_DEFAULTS = {
  /** Days after onboarding starts by which the first key action should have happened. */
  firstKeyActionDays: 7,
  /** Active users (14-day average) down at least this much against the 28 days before. */
  usageDropPercent: 30,
  /** Advanced-feature events a day up at least this much against the 28 days before… */
  expansionRisePercent: 50,
  /** …and at least this many in the last 14 days, so a jump from 1 to 2 is not an expansion signal. */
  expansionMinEvents: 20,
} as const;

export type RuleSettings = { -readonly [K in keyof typeof RULE_DEFAULTS]: number };

export interface Firing {
  /** The rule_firings row: what a task created for this firing links to. */
  id: number;
  rule: string;
  accountId: string;
  occasion: string;
  reason: string;
  csmId: string | null;
  aeId: string | null;
  /** Facts the candidate query passed along for the notification (a renewal id, a target, an account version). */
  extra: Record<string, unknown>;
}

/**
 * Records the firings a candidate query proposes, once per (rule, account, occasion): candidates already fired
 * are skipped by the unique key, so running the rules again, or on two replicas, fires nothing twice.
 * The candidate query selects exactly (rule, account_id, occasion, reason, extra jsonb).
 */
export async function recordFirings(tx: Db | Tx, now: Date, candidates: SQL): Promise<Firing[]> {
  const rows = await queryRows<{
    id: string | number;
    rule: string;
    account_id: string;
    occasion: string;
    reason: string;
    csm_id: string | null;
    ae_id: string | null;
    extra: Record<string, unknown> | null;
  }>(
    tx,
    sql`
with candidates(rule, account_id, occasion, reason, extra) as (${candidates}),
fired as (
  insert into rule_firings (rule, account_id, occasion, reason, fired_at)
  select rule, account_id, occasion, reason, ${now.toISOString()}::timestamptz from candidates
  on conflict (rule, account_id, occasion) do nothing
  returning id, rule, account_id, occasion, reason
)
select f.id, f.rule, f.account_id, f.occasion, f.reason, a.csm_id, a.ae_id, c.extra
from fired f
join accounts a on a.id = f.account_id
join candidates c on c.rule = f.rule and c.account_id = f.account_id and c.occasion = f.occasion
order by f.account_id`,
  );
  return rows.map((row) => ({
    id: Number(row.id),
    rule: row.rule,
    accountId: row.account_id,
    occasion: row.occasion,
    reason: row.reason,
    csmId: row.csm_id,
    aeId: row.ae_id,
    extra: row.extra ?? {},
  }));
}

/** A firing worked out before it is recorded, e.g. one said with a score's reasons. */
export interface ProposedFiring {
  rule: string;
  accountId: string;
  occasion: string;
  reason: string;
  extra: Record<string, unknown>;
}

/** Firings worked out beforehand, as a candidate query for recordFirings. */
export function proposedFirings(firings: ProposedFiring[]): SQL {
  const rows = firings.map((firing) => ({ rule: firing.rule, account_id: firing.accountId, occasion: firing.occasion, reason: firing.reason, extra: firing.extra }));
  return sql`select c.rule, c.account_id, c.occasion, c.reason, c.extra
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as c(rule text, account_id uuid, occasion text, reason text, extra jsonb)`;
}

/** The account's CSM as a direct message, or the at-risk channel when nobody owns the account. */
export function csmTarget(csmId: string | null): UserTarget | AtRiskChannelTarget {
  return csmId ? userTarget(csmId) : atRiskChannelTarget;
}

async function alert(tx: Tx, firing: Firing, target: NotificationTarget<'alert'> = csmTarget(firing.csmId)): Promise<void> {
  await enqueueNotification(tx, {
    kind: 'alert',
    dedupeKey: `alert:${firing.rule}:${firing.accountId}:${firing.occasion}`,
    target,
    payload: {
      accountId: firing.accountId,
      rule: firing.rule,
      reason: firing.reason,
      // An expansion signal's alert offers to qualify it as a lead, which names the firing.
      ...(firing.rule === 'expansion_signal' ? { firingId: firing.id } : {}),
    },
  });
}

/**
 * Rules a person's action fires rather than the schedule (a champion marked as left): records the firing once per
 * (rule, account, occasion), queues its alert to the account's CSM and creates the task its trigger asks for, all
 * in the caller's transaction, like the scheduled rules below. The candidate query is shaped as for recordFirings.
 */
export async function recordEventFirings(tx: Tx, now: Date, candidates: SQL): Promise<Firing[]> {
  const firings = await recordFirings(tx, now, candidates);
  for (const firing of firings) await alert(tx, firing);
  await createFiringTasks(tx, firings, now);
  return firings;
}

/** Rules fired by a person's action (recordEventFirings), not by runRules. */
export const eventRuleNames = ['champion_left'] as const;

export interface RunRulesParams {
  now?: Date;
  settings?: Partial<RuleSettings>;
}

export type RunRulesResult = Record<RuleName, number>;

interface RuleSql {
  nowTs: SQL;
  today: SQL;
  settings: RuleSettings;
}

const activeAccounts = sql`accounts a join lifecycle_stages s on s.key = a.stage_key and not s.terminal`;

/** Rules that only record a firing and alert; handoff_sla and first_value do more and run after them. */
const setBasedRules = ['no_first_key_action', 'usage_drop', 'health_worsened', 'expansion_signal', 'stage_sla'] as const;

/**
 * Each rule's candidate query (shaped as for recordFirings). One said with a score's reasons reads the scores first
 * and proposes its firings as values, since the reasons are put into words in TypeScript (health/words.ts).
 */
const candidateQueries: Record<(typeof setBasedRules)[number], (p: RuleSql, tx: Tx) => SQL | Promise<SQL>> = {
  no_first_key_action: ({ nowTs, today, settings }) => sql`
    select 'no_first_key_action', a.id, to_char(a.stage_entered_at at time zone 'UTC', 'YYYY-MM-DD'),
           format('no key action in the %s days since onboarding started on %s',
                  floor(extract(epoch from (${nowTs} - a.stage_entered_at)) / 86400),
                  to_char(a.stage_entered_at at time zone 'UTC', 'YYYY-MM-DD')),
           '{}'::jsonb
    from accounts a
    where a.stage_key = ${ONBOARDING_STAGE}
      and a.stage_entered_at <= ${nowTs} - make_interval(days => ${settings.firstKeyActionDays}::int)
      and not exists (
        select 1 from usage_daily u
        where u.account_id = a.id and u.key_events > 0
          and u.day >= (a.stage_entered_at at time zone 'UTC')::date and u.day <= ${today})`,

  usage_drop: ({ today, settings }) => sql`
    select 'usage_drop', u.account_id, to_char(${today}, 'IYYY-"W"IW'),
           format('active users down %s%% vs prior 4 weeks (%s a day, from %s)',
                  round((100 * (1 - coalesce(u.recent, 0) / u.prior))::numeric), round(coalesce(u.recent, 0)::numeric), round(u.prior::numeric)),
           '{}'::jsonb
    from (
      select account_id,
             avg(active_users) filter (where day > ${today} - 14)::float8 as recent,
             avg(active_users) filter (where day <= ${today} - 14)::float8 as prior
      from usage_daily
      where day > ${today} - 42 and day <= ${today}
      group by account_id
    ) u
    join ${activeAccounts} on a.id = u.account_id
    where u.prior > 0 and coalesce(u.recent, 0) <= u.prior * (1 - ${settings.usageDropPercent}::float8 / 100)`,

  health_worsened: async ({ nowTs }, tx) => {
    const worsened = await queryRows<{ account_id: string; id: string | number; status: string; reason: string; words: HealthWordsSource | string }>(
      tx,
      sql`
      select l.account_id, l.id, l.status,
             format('health fell from %s (%s) to %s (%s)',
                    case l.prev_status when 'healthy' then 'Healthy' when 'at_risk' then 'At risk' else 'Critical' end, l.prev_score,
                    case l.status when 'healthy' then 'Healthy' when 'at_risk' then 'At risk' else 'Critical' end, l.score) as reason,
             ${healthWordsJson('l')} as words
      from (
        select distinct on (h.account_id) h.account_id, h.id, h.status, h.score, h.facts, h.stage_name, h.nps_worst_said, h.reasons, h.components, p.status as prev_status, p.score as prev_score
        from health_scores h
        cross join lateral (
          -- The latest point with a score: insufficient_data (no score) is neither better nor worse than a status.
          select status, score from health_scores p
          where p.account_id = h.account_id and p.computed_at < h.computed_at and p.status <> 'insufficient_data'
          order by p.computed_at desc limit 1
        ) p
        where h.computed_at <= ${nowTs} and h.computed_at > ${nowTs} - interval '2 days'
        order by h.account_id, h.computed_at desc
      ) l
      join ${activeAccounts} on a.id = l.account_id
      -- health_status is declared healthy, at_risk, critical (then insufficient_data, left out on both sides): a greater
      -- value is a worse status.
      where l.status <> 'insufficient_data' and l.status > l.prev_status`,
    );
    return proposedFirings(
      worsened.map((row) => ({
        rule: 'health_worsened',
        accountId: row.account_id,
        occasion: String(row.id),
        reason: withFirstReason(row.reason, healthWordsOf(row.words)),
        extra: { status: row.status },
      })),
    );
  },

  expansion_signal: ({ today, settings }) => sql`
    select 'expansion_signal', u.account_id, to_char(${today}, 'YYYY-MM'),
           case when u.prior_daily = 0
                then format('advanced features taken up: %s uses in the last 14 days, none in the 4 weeks before', u.recent_total)
                else format('advanced-feature use up %s%% vs prior 4 weeks (%s uses in the last 14 days)',
                            round((100 * (u.recent_total / 14.0 / u.prior_daily - 1))::numeric), u.recent_total) end,
           '{}'::jsonb
    from (
      select account_id,
             coalesce(sum(advanced_events) filter (where day > ${today} - 14), 0) as recent_total,
             coalesce(sum(advanced_events) filter (where day <= ${today} - 14), 0) / 28.0 as prior_daily
      from usage_daily
      where day > ${today} - 42 and day <= ${today}
      group by account_id
    ) u
    join ${activeAccounts} on a.id = u.account_id
    where u.recent_total >= ${settings.expansionMinEvents}::int
      and u.recent_total / 14.0 >= u.prior_daily * (1 + ${settings.expansionRisePercent}::float8 / 100)`,

  stage_sla: ({ nowTs }) => sql`
    select 'stage_sla', a.id, a.stage_key || ':' || to_char(a.stage_entered_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS'),
           format('%s days in %s, past its %s-day SLA', floor(extract(epoch from (${nowTs} - a.stage_entered_at)) / 86400), s.name, s.sla_days),
           '{}'::jsonb
    from ${activeAccounts}
    where s.sla_days > 0 and a.stage_entered_at + make_interval(days => s.sla_days) < ${nowTs}`,
};

/**
 * Runs every rule over the signals as of `now`. Each rule is one set-based statement that records its new
 * firings, and its notifications are queued in the same transaction, so a firing and its alert commit together.
 */
export async function runRules(db: Db, params: RunRulesParams = {}): Promise<RunRulesResult> {
  const now = params.now ?? new Date();
  const settings: RuleSettings = { ...RULE_DEFAULTS, ...params.settings };
  const ruleSql: RuleSql = { nowTs: sql`${now.toISOString()}::timestamptz`, today: sql`${now.toISOString().slice(0, 10)}::date`, settings };
  const result: RunRulesResult = {
    no_first_key_action: 0,
    usage_drop: 0,
    health_worsened: 0,
    expansion_signal: 0,
    stage_sla: 0,
    handoff_sla: 0,
    first_value: 0,
  };

  for (const rule of setBasedRules) {
    result[rule] = await db.transaction(async (tx) => {
      const firings = await recordFirings(tx, now, await candidateQueries[rule](ruleSql, tx));
      for (const firing of firings) await alert(tx, firing);
      await createFiringTasks(tx, firings, now);
      return firings.length;
    });
  }

  result.handoff_sla = await db.transaction(async (tx) => {
    const firings = await recordFirings(
      tx,
      now,
      sql`
      select 'handoff_sla', h.account_id, h.id::text,
             case h.status when 'pending' then format('handoff of %s not confirmed by the account executive; it was due %s', a.name, to_char(h.sla_due_at at time zone 'UTC', 'YYYY-MM-DD'))
                           else format('handoff of %s confirmed but not accepted by a CSM; it was due %s', a.name, to_char(h.sla_due_at at time zone 'UTC', 'YYYY-MM-DD')) end,
             jsonb_build_object('handoffId', h.id)
      from handoffs h
      join accounts a on a.id = h.account_id
      where h.status in ('pending', 'confirmed') and h.sla_due_at < ${ruleSql.nowTs}`,
    );
    for (const firing of firings) await alert(tx, firing, handoffChannelTarget);
    return firings.length;
  });

  result.first_value = await db.transaction(async (tx) => {
    const firings = await recordFirings(
      tx,
      now,
      sql`
      select 'first_value', a.id, to_char(f.reached_at at time zone 'UTC', 'YYYY-MM-DD'),
             'first value reached' || coalesce(': ' || nullif(trim(f.description), ''), '') || '; moved from Implementation to Early adoption',
             jsonb_build_object('version', a.version)
      from accounts a
      join first_values f on f.account_id = a.id
      where a.stage_key = ${IMPLEMENTATION_STAGE} and f.reached_at <= ${ruleSql.nowTs}
        -- A person who moved the account after first value was reached (back to Implementation, with a reason)
        -- has decided with the fact in view: the rule must not undo that. Entering the lifecycle is no decision.
        and not exists (
          select 1 from stage_transitions t
          where t.account_id = a.id and t.source <> 'rule' and t.direction <> 'initial' and t.occurred_at > f.reached_at)`,
    );
    for (const firing of firings) {
      const version = Number(firing.extra.version);
      // A savepoint inside this transaction: the move, its transition and the firing commit together.
      await moveAccountStage(tx, {
        accountId: firing.accountId,
        toStage: EARLY_ADOPTION_STAGE,
        expectedVersion: version,
        actor: ruleActor('first_value', 'Rule: first value reached'),
        source: 'rule',
        reason: firing.reason,
        occurredAt: now,
      });
      await alert(tx, firing);
    }
    return firings.length;
  });

  return result;
}
