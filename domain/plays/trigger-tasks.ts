/**
 * Plays: the task each trigger creates. A rule firing or a renewal checkpoint becomes one task for the account's
 * CSM (its account executive when it has no CSM), once per firing; the rules and renewal jobs call this in the
 * transaction that records the firing, so the firing and its task commit together.
 */
import type { Tx } from '../../db/client.ts';
import type { Task } from '../../db/schema.ts';
import { ruleActor } from '../actors.ts';
import { addDays, isoDay } from '../dates.ts';
import type { Firing } from '../rules.ts';
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

/** The tasks of a batch of rule firings, created once each. */
export async function createFiringTasks(tx: Tx, firings: readonly Firing[], now: Date): Promise<Task[]> {
  const wanted = firings.flatMap((firing) => {
    const spec = ruleTasks[firing.rule];
    const renewalId = typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null;
    return spec ? [taskFor(firing, spec, now, 'rule_firing', renewalId)] : [];
  });
  return createTriggeredTasks(tx, { tasks: wanted, actor: ruleActor('plays', 'Lifeline rules'), now });
}

/** The tasks of renewal checkpoints (occasion `<renewal id>:<checkpoint days>`), created once each. */
export async function createCheckpointTasks(tx: Tx, firings: readonly Firing[], now: Date): Promise<Task[]> {
  const wanted = firings.flatMap((firing) => {
    const checkpoint = Number(firing.occasion.split(':').at(-1));
    const spec = checkpointTasks[checkpoint];
    const renewalId = typeof firing.extra.renewalId === 'string' ? firing.extra.renewalId : null;
    return spec ? [taskFor(firing, spec, now, 'renewal_checkpoint', renewalId)] : [];
  });
  return createTriggeredTasks(tx, { tasks: wanted, actor: ruleActor('renewal_checkpoint', 'Lifeline renewals'), now });
}
