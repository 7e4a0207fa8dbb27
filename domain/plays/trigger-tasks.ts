/**
 * Plays: the work each trigger creates. When an active playbook has the trigger (a rule kind, a renewal checkpoint,
 * closed-won, an accepted handoff), the occasion starts that playbook, once; otherwise a rule firing or a renewal
 * checkpoint becomes one task for the account's CSM (its account executive when it has no CSM), once per firing.
 * The rules, renewal and handoff code call this in the transaction that records the occasion, so the occasion and
 * its work commit together.
 */
import { type SQL, and, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { type Handoff, type PlaybookTrigger, type Task, playbookRuns } from '../../db/schema.ts';
import { ruleActor } from '../actors.ts';
import { addDays, isoDay } from '../dates.ts';
import type { Firing } from '../rules.ts';
import { type PlaybookOccasion, startTriggeredPlaybooks } from './playbook-runs.ts';
import { type TriggeredTask, createTriggeredTasks } from './tasks.ts';

interface TaskSpec {
  title: string;
  /** Days from the firing to the due day. */
  dueInDays: number;
}

/** What each rule asks someone to do. Rules absent here (a breached handoff SLA, first value) track their own work. */
const ruleTasks: Partial<Record<string, TaskSpec>> = {
  no_first_key_action: { title: 'Get the customer to their first key action', dueInDays: 3 },
  usage_drop: { title: 'Find out why usage fell, with the champion', dueInDays: 2 },
  health_worsened: { title: 'Review the health drop with the customer', dueInDays: 2 },
  expansion_signal: { title: 'Qualify the expansion signal and brief the account executive', dueInDays: 7 },
  stage_sla: { title: 'Move the account on: it is past its stage SLA', dueInDays: 3 },
  renewal_at_risk: { title: 'Agree a save plan for the renewal at risk', dueInDays: 2 },
  champion_left: { title: 'Find the new champion: the champion left', dueInDays: 2 },
};

/** The rules whose firings create a task. */
export const rulesWithTasks: readonly string[] = Object.keys(ruleTasks);

/** The renewal checkpoints (domain/renewals/checkpoints.ts RENEWAL_CHECKPOINT_DAYS) and the work each asks for. */
const checkpointTasks: Partial<Record<number, TaskSpec>> = {
  180: { title: 'Renewal in six months: check the value story and the stakeholders', dueInDays: 14 },
  90: { title: 'Confirm the renewal plan and the decision makers', dueInDays: 7 },
  30: { title: 'Get the renewal paperwork signed', dueInDays: 5 },
};

function taskFor(firing: Firing, spec: TaskSpec, now: Date, source: TriggeredTask['source'], renewalId: string | null): TriggeredTask {
  return {
    occasion: `rule_firing:${firing.id}`,
    accountId: firing.accountId,
    ownerId: firing.csmId ?? firing.aeId,
    title: spec.title,
    source,
    dueOn: isoDay(addDays(now, spec.dueInDays)),
    ruleFiringId: firing.id,
    renewalId,
  };
}

/** The playbook trigger of each rule whose firings can start a playbook (`champion_left`: a contact marked as left). */
const ruleTriggers: Partial<Record<string, Exclude<PlaybookTrigger, 'manual'>>> = {
  usage_drop: 'usage_drop',
  no_first_key_action: 'no_first_key_action',
  expansion_signal: 'expansion_signal',
  champion_left: 'champion_left',
};

/** The playbook trigger a firing is: health that worsened counts only when it worsened to Critical. */
function firingTrigger(firing: Firing): Exclude<PlaybookTrigger, 'manual'> | null {
  if (firing.rule === 'health_worsened') return firing.extra.status === 'critical' ? 'health_critical' : null;
  if (firing.rule === 'renewal_checkpoint') {
    const checkpoint = Number(firing.occasion.split(':').at(-1));
    return checkpoint === 180 || checkpoint === 90 || checkpoint === 30 ? `renewal_${checkpoint}` : null;
  }
  return ruleTriggers[firing.rule] ?? null;
}

/**
 * `firingTrigger` in SQL over a rule_firings row aliased `f`: the playbook trigger (as text) the firing is, or null.
 * health_worsened names its health_scores row as its occasion; a renewal checkpoint's occasion ends with its day.
 */
export function firingTriggerSql(): SQL {
  const direct = Object.keys(ruleTriggers);
  return sql`case
    when f.rule in (${sql.join(direct.map((rule) => sql`${rule}`), sql`, `)}) then f.rule
    when f.rule = 'health_worsened' and exists (
      select 1 from health_scores hw where hw.id::text = f.occasion and hw.status::text = 'critical'
    ) then 'health_critical'
    when f.rule = 'renewal_checkpoint' and split_part(f.occasion, ':', 2) in ('180', '90', '30') then 'renewal_' || split_part(f.occasion, ':', 2)
  end`;
}

function occasionOf(firing: Firing): PlaybookOccasion | null {
  const trigger = firingTrigger(firing);
  if (!trigger) return null;
  const renewalId = typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null;
  return { trigger, accountId: firing.accountId, occasion: `rule_firing:${firing.id}`, ruleFiringId: firing.id, renewalId };
}

/**
 * Starts the playbooks the firings trigger, and returns the firings no active playbook covers: those keep their
 * single task. A firing covered by a playbook already running for the account starts nothing new.
 */
async function startPlaybooksFor(tx: Tx, firings: readonly Firing[], now: Date, label: string): Promise<Firing[]> {
  const occasions = firings.map(occasionOf).filter((occasion): occasion is PlaybookOccasion => occasion !== null);
  const { covered } = await startTriggeredPlaybooks(tx, { occasions, actor: ruleActor('plays', label), now });
  return firings.filter((firing) => {
    const occasion = occasionOf(firing);
    return !occasion || !covered.has(`${occasion.trigger}|${occasion.occasion}`);
  });
}

/** The work of a batch of rule firings: their playbooks, or one task each, created once. */
export async function createFiringTasks(tx: Tx, firings: readonly Firing[], now: Date): Promise<Task[]> {
  const uncovered = await startPlaybooksFor(tx, firings, now, 'Lifeline rules');
  const wanted = uncovered.flatMap((firing) => {
    const spec = ruleTasks[firing.rule];
    const renewalId = typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null;
    return spec ? [taskFor(firing, spec, now, 'rule_firing', renewalId)] : [];
  });
  return createTriggeredTasks(tx, { tasks: wanted, actor: ruleActor('plays', 'Lifeline rules'), now });
}

/**
 * The work of renewal checkpoints (occasion `<renewal id>:<checkpoint days>`): the playbook of the checkpoint, or
 * its single task, created once each. A checkpoint whose renewal already has a playbook running (the 30-day
 * checkpoint while the renewal playbook started at 90 days still runs) adds nothing: that run carries the work.
 */
export async function createCheckpointTasks(tx: Tx, firings: readonly Firing[], now: Date): Promise<Task[]> {
  const uncovered = await startPlaybooksFor(tx, firings, now, 'Lifeline renewals');
  const renewalIds = [...new Set(uncovered.map((firing) => firing.extra.renewalId).filter((id): id is string => typeof id === 'string'))];
  const runningFor = new Set(
    renewalIds.length > 0
      ? (
          await tx
            .select({ renewalId: playbookRuns.renewalId })
            .from(playbookRuns)
            .where(and(inArray(playbookRuns.renewalId, renewalIds), eq(playbookRuns.status, 'running')))
        ).map((run) => run.renewalId)
      : [],
  );
  const wanted = uncovered.filter((firing) => !runningFor.has(typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null)).flatMap((firing) => {
    const checkpoint = Number(firing.occasion.split(':').at(-1));
    const spec = checkpointTasks[checkpoint];
    const renewalId = typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null;
    return spec ? [taskFor(firing, spec, now, 'renewal_checkpoint', renewalId)] : [];
  });
  return createTriggeredTasks(tx, { tasks: wanted, actor: ruleActor('renewal_checkpoint', 'Lifeline renewals'), now });
}

/** A handoff accepted by its CSM starts the playbooks of `handoff_accepted` (onboarding), once per handoff. */
export async function startHandoffPlaybooks(tx: Tx, handoff: Pick<Handoff, 'id' | 'accountId'>, now: Date): Promise<void> {
  await startTriggeredPlaybooks(tx, {
    occasions: [{ trigger: 'handoff_accepted', accountId: handoff.accountId, occasion: `handoff:${handoff.id}`, handoffId: handoff.id }],
    actor: ruleActor('plays', 'Lifeline handoffs'),
    now,
  });
}

/** A new customer's closed-won deal starts the playbooks of `closed_won`, once per handoff it created. */
export async function startClosedWonPlaybooks(tx: Tx, handoff: Pick<Handoff, 'id' | 'accountId'>, now: Date): Promise<void> {
  await startTriggeredPlaybooks(tx, {
    occasions: [{ trigger: 'closed_won', accountId: handoff.accountId, occasion: `closed_won:${handoff.id}`, handoffId: handoff.id }],
    actor: ruleActor('plays', 'Closed-won rule'),
    now,
  });
}
