/**
 * Plays: playbook runs. Starting a playbook for an account (by a trigger's occasion, exactly once across replicas,
 * or by a person) creates each step as a task for the right person; a run completes when its last task is done or
 * cancelled (tasks.ts), or is closed with a reason. Also the reads of runs and of onboarding milestones.
 */
import { type SQL, and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { type Account, type PlaybookRun, type PlaybookStep, type PlaybookTrigger, type User, accounts, playbookRuns, playbooks, taskEvents, tasks, users } from '../../db/schema.ts';
import { readableOwnerId, requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { addDays, isoDay } from '../dates.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { allManagerIds } from '../escalations.ts';
import { isUuid, parseInput } from '../validation.ts';
import { z } from 'zod';
import { ONBOARDING_PLAYBOOK, type PlaybookWithSteps, listPlaybooks, requirePlaybook } from './playbooks.ts';
import { requirePlaybookRunRights } from './task-rights.ts';
import { type Task, type TriggeredTask, createTriggeredTasks, notifyOwner } from './tasks.ts';

export type { PlaybookRun };

export const MAX_CLOSE_REASON = 500;

/** What a trigger asks for: the playbooks with this trigger started for this account, once for this occasion. */
export interface PlaybookOccasion {
  trigger: Exclude<PlaybookTrigger, 'manual'>;
  accountId: string;
  /** Unique per playbook: the same occasion never starts a playbook twice. */
  occasion: string;
  ruleFiringId?: number | null;
  renewalId?: string | null;
  handoffId?: string | null;
}

interface StartedRun {
  run: PlaybookRun;
  tasks: Task[];
}

type People = Map<string, Pick<User, 'id' | 'name' | 'managerId'>>;

/**
 * Whose task a step becomes. CSM steps go to the account's CSM, AE steps to its account executive, manager steps to
 * the CSM's manager. When that person is missing the step goes to whoever is closest (the other owner of the account,
 * or a manager), and its title says so, so nobody wonders why it landed with them.
 */
function stepOwner(
  step: Pick<PlaybookStep, 'ownerRole' | 'title'>,
  account: Pick<Account, 'csmId' | 'aeId'>,
  people: People,
  fallbackManagerId: string | null,
): { ownerId: string | null; title: string } {
  const csm = account.csmId ? people.get(account.csmId) : undefined;
  const managerOfCsm = csm?.managerId ?? null;
  const note = (text: string) => ({ title: `${step.title} (${text})` });
  switch (step.ownerRole) {
    case 'csm':
      if (account.csmId) return { ownerId: account.csmId, title: step.title };
      if (account.aeId) return { ownerId: account.aeId, ...note('for the CSM: the account has none yet') };
      return { ownerId: fallbackManagerId, ...note('for the CSM: the account has neither a CSM nor an AE') };
    case 'ae':
      if (account.aeId) return { ownerId: account.aeId, title: step.title };
      if (account.csmId) return { ownerId: account.csmId, ...note('for the account executive: the account has none on record') };
      return { ownerId: fallbackManagerId, ...note('for the account executive: the account has none on record') };
    case 'manager':
      if (managerOfCsm) return { ownerId: managerOfCsm, title: step.title };
      if (account.csmId && fallbackManagerId) return { ownerId: fallbackManagerId, ...note('for the CSM’s manager: the CSM reports to nobody on record') };
      if (account.csmId) return { ownerId: account.csmId, ...note('for a manager: there is none in Lifeline') };
      return { ownerId: fallbackManagerId ?? account.aeId, ...note('for the CSM’s manager: the account has no CSM') };
  }
}

/** Creates the runs' tasks, one per step, due N days after `now`, each once (its occasion is the run and step). */
async function createRunTasks(tx: Tx, runs: readonly { run: PlaybookRun; playbook: PlaybookWithSteps }[], actor: Actor, now: Date): Promise<Task[]> {
  if (runs.length === 0) return [];
  const accountIds = [...new Set(runs.map(({ run }) => run.accountId))];
  const accountRows = await tx.select({ id: accounts.id, csmId: accounts.csmId, aeId: accounts.aeId }).from(accounts).where(inArray(accounts.id, accountIds));
  const accountById = new Map(accountRows.map((account) => [account.id, account]));
  const personIds = [...new Set(accountRows.flatMap((account) => [account.csmId, account.aeId]).filter((id): id is string => id !== null))];
  const people: People = new Map(
    (personIds.length > 0 ? await tx.select({ id: users.id, name: users.name, managerId: users.managerId }).from(users).where(inArray(users.id, personIds)) : []).map((person) => [person.id, person]),
  );
  const [fallbackManagerId = null] = await allManagerIds(tx);
  const wanted: TriggeredTask[] = runs.flatMap(({ run, playbook }) => {
    const account = accountById.get(run.accountId);
    if (!account) return [];
    return playbook.steps.map((step) => ({
      occasion: `playbook_run:${run.id}:${step.id}`,
      accountId: run.accountId,
      ...stepOwner(step, account, people, fallbackManagerId),
      source: 'playbook' as const,
      dueOn: isoDay(addDays(now, step.dueInDays)),
      ruleFiringId: run.ruleFiringId,
      renewalId: run.renewalId,
      handoffId: run.handoffId,
      playbookRunId: run.id,
      playbookStepId: step.id,
    }));
  });
  return createTriggeredTasks(tx, { tasks: wanted, actor, now });
}

/**
 * Starts every active playbook that has the occasion's trigger, once per occasion and never while the same playbook
 * already runs for the account. Both are unique indexes, so replicas and retries racing on one firing start one run:
 * the loser's insert waits for the winner's commit and then does nothing. Call inside the trigger's transaction.
 * Returns the runs started now and the occasions some active playbook covers (whether or not it started now:
 * a run already going covers it too), so the caller knows which ones still want their single task.
 */
export async function startTriggeredPlaybooks(
  tx: Tx,
  params: { occasions: readonly PlaybookOccasion[]; actor: Actor; now: Date },
): Promise<{ started: StartedRun[]; covered: Set<string> }> {
  const covered = new Set<string>();
  if (params.occasions.length === 0) return { started: [], covered };
  // A handful of playbooks at most: read the active ones and match their triggers here.
  const active = await tx.select({ id: playbooks.id, triggers: playbooks.triggers }).from(playbooks).where(isNull(playbooks.retiredAt));
  const wanted = params.occasions.flatMap((occasion) =>
    active.filter((playbook) => playbook.triggers.includes(occasion.trigger)).map((playbook) => ({ occasion, playbookId: playbook.id })),
  );
  for (const { occasion } of wanted) covered.add(`${occasion.trigger}|${occasion.occasion}`);
  if (wanted.length === 0) return { started: [], covered };
  const created = await tx
    .insert(playbookRuns)
    .values(
      wanted.map(({ occasion, playbookId }) => ({
        accountId: occasion.accountId,
        playbookId,
        trigger: occasion.trigger,
        occasion: occasion.occasion,
        ruleFiringId: occasion.ruleFiringId ?? null,
        renewalId: occasion.renewalId ?? null,
        handoffId: occasion.handoffId ?? null,
        startedBy: params.actor.userId,
        startedByLabel: params.actor.label,
        startedAt: params.now,
        updatedAt: params.now,
      })),
    )
    // No target: both unique keys (the occasion, and one running run per account and playbook) make a duplicate a no-op.
    .onConflictDoNothing()
    .returning();
  if (created.length === 0) return { started: [], covered };
  const definitions = await Promise.all([...new Set(created.map((run) => run.playbookId))].map((id) => requirePlaybook(tx, { id })));
  const runs = created.map((run) => ({ run, playbook: definitions.find((d) => d.playbook.id === run.playbookId) as PlaybookWithSteps }));
  const runTasks = await createRunTasks(tx, runs, params.actor, params.now);
  return { started: created.map((run) => ({ run, tasks: runTasks.filter((task) => task.playbookRunId === run.id) })), covered };
}

export interface StartPlaybookParams {
  accountId: string;
  /** The playbook's id, or its key. */
  playbookId?: string | null;
  playbookKey?: string | null;
  actor: Actor;
  now: Date;
}

/**
 * A person starts a playbook by hand: the account's CSM, their manager or an admin. Refused for a retired
 * playbook, and while the same playbook already runs for the account (the database decides, not a read).
 */
export async function startPlaybook(db: Db, params: StartPlaybookParams): Promise<StartedRun> {
  return db.transaction(async (tx) => {
    const [account] = isUuid(params.accountId) ? await tx.select().from(accounts).where(eq(accounts.id, params.accountId)) : [];
    if (!account) throw new NotFoundError('That account no longer exists in Lifeline.', 'accountId');
    await requirePlaybookRunRights(tx, { actor: params.actor, account, action: 'start playbooks on' });
    if (!params.playbookId && !params.playbookKey) throw new InvalidInputError('Say which playbook to start: its `playbookId` or its `playbookKey` (the `playbooks` query lists both).', 'playbookId');
    const definition = await requirePlaybook(tx, { id: params.playbookId, key: params.playbookKey }, params.playbookId ? 'playbookId' : 'playbookKey');
    const { playbook } = definition;
    if (playbook.retiredAt) throw new InvalidInputError(`“${playbook.name}” is retired and cannot be started. Choose an active playbook.`, 'playbookId');
    const [run] = await tx
      .insert(playbookRuns)
      .values({
        accountId: account.id,
        playbookId: playbook.id,
        trigger: 'manual',
        startedBy: params.actor.userId,
        startedByLabel: params.actor.label,
        startedAt: params.now,
        updatedAt: params.now,
      })
      .onConflictDoNothing()
      .returning();
    if (!run) {
      const [current] = await tx
        .select({ startedAt: playbookRuns.startedAt, startedByLabel: playbookRuns.startedByLabel })
        .from(playbookRuns)
        .where(and(eq(playbookRuns.accountId, account.id), eq(playbookRuns.playbookId, playbook.id), eq(playbookRuns.status, 'running')));
      const since = current ? ` since ${isoDay(current.startedAt)} (started by ${current.startedByLabel})` : '';
      throw new InvalidInputError(`“${playbook.name}” is already running for ${account.name}${since}. Work its tasks, or close that run first to start it again.`, 'playbookId');
    }
    const runTasks = await createRunTasks(tx, [{ run, playbook: definition }], params.actor, params.now);
    for (const task of runTasks) if (task.ownerId !== params.actor.userId) await notifyOwner(tx, task);
    return { run, tasks: runTasks };
  });
}

/**
 * The account a person is about to start a playbook on, with the active playbooks to choose from: the same
 * refusals as the start (gone, not theirs), so a surface says why before it opens a form.
 */
export async function getPlaybookStartChoices(db: Db, params: { accountId: string; actor: Actor }): Promise<{ account: Account; playbooks: PlaybookWithSteps[] }> {
  const [account] = isUuid(params.accountId) ? await db.select().from(accounts).where(eq(accounts.id, params.accountId)) : [];
  if (!account) throw new NotFoundError('That account no longer exists in Lifeline.', 'accountId');
  await requirePlaybookRunRights(db, { actor: params.actor, account, action: 'start playbooks on' });
  const active = await listPlaybooks(db, { reader: params.actor });
  if (active.length === 0) throw new InvalidInputError('There is no active playbook to start. An admin defines playbooks with the `definePlaybook` mutation.', 'playbookId');
  return { account, playbooks: active };
}

const reasonSchema = z
  .string()
  .trim()
  .min(1, 'say why the run is closed (e.g. “health recovered”): it is kept with the run')
  .max(MAX_CLOSE_REASON, `keep the reason under ${MAX_CLOSE_REASON} characters`);

export interface ClosePlaybookRunParams {
  runId: string;
  reason: string;
  actor: Actor;
  now: Date;
}

/**
 * Closes a running playbook whose reason went away (health recovered, the customer churned), recording why and by
 * whom. Its open tasks are cancelled with the same reason. The account's CSM, their manager or an admin.
 */
export async function closePlaybookRun(db: Db, params: ClosePlaybookRunParams): Promise<PlaybookRun> {
  const reason = parseInput(reasonSchema, params.reason, 'reason');
  return db.transaction(async (tx) => {
    const [row] = isUuid(params.runId)
      ? await tx
          .select({ run: playbookRuns, account: accounts, playbookName: playbooks.name })
          .from(playbookRuns)
          .innerJoin(accounts, eq(accounts.id, playbookRuns.accountId))
          .innerJoin(playbooks, eq(playbooks.id, playbookRuns.playbookId))
          .where(eq(playbookRuns.id, params.runId))
          .for('update', { of: playbookRuns })
      : [];
    if (!row) throw new NotFoundError('That playbook run no longer exists in Lifeline.', 'runId');
    const { run, account, playbookName } = row;
    await requirePlaybookRunRights(tx, { actor: params.actor, account, action: 'close playbooks on' });
    if (run.status !== 'running') {
      const when = isoDay(run.closedAt ?? run.completedAt ?? params.now);
      throw new InvalidInputError(
        `“${playbookName}” for ${account.name} was already ${run.status === 'closed' ? `closed on ${when} (${run.closedReason})` : `completed on ${when}`}, so there is nothing to close.`,
        'runId',
      );
    }
    const cancelled = await tx
      .update(tasks)
      .set({ status: 'cancelled', snoozedUntil: null, cancelledAt: params.now, cancelledBy: params.actor.userId, outcomeNote: reason, version: sql`${tasks.version} + 1`, updatedAt: params.now })
      .where(and(eq(tasks.playbookRunId, run.id), inArray(tasks.status, ['open', 'snoozed'])))
      .returning({ id: tasks.id });
    if (cancelled.length > 0) {
      await tx.insert(taskEvents).values(
        cancelled.map((task) => ({ taskId: task.id, kind: 'cancelled' as const, actorId: params.actor.userId, actorLabel: params.actor.label, detail: { reason, playbookRunClosed: run.id }, occurredAt: params.now })),
      );
    }
    const [closed] = await tx
      .update(playbookRuns)
      .set({ status: 'closed', closedAt: params.now, closedBy: params.actor.userId, closedByLabel: params.actor.label, closedReason: reason, updatedAt: params.now })
      .where(eq(playbookRuns.id, run.id))
      .returning();
    if (!closed) throw new Error(`Playbook run ${run.id} vanished while locked`);
    return closed;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

/** A run as lists show it: with its playbook's name and how many of its tasks are still open. */
export interface PlaybookRunItem {
  run: PlaybookRun;
  playbookName: string;
  playbookKey: string;
  openTasks: number;
  totalTasks: number;
}

export interface ListPlaybookRunsParams {
  accountIds: readonly string[];
  reader: Actor;
  /** Only running ones (the account card); every run otherwise, newest first. */
  runningOnly?: boolean;
}

const openTaskCount = sql<number>`(select count(*)::int from tasks t where t.playbook_run_id = ${playbookRuns.id} and t.status in ('open', 'snoozed'))`;
const totalTaskCount = sql<number>`(select count(*)::int from tasks t where t.playbook_run_id = ${playbookRuns.id})`;

/** The playbook runs of these accounts the reader may see (account executives: the accounts they sold), newest first. */
export async function listPlaybookRunsByAccountIds(db: Db | Tx, params: ListPlaybookRunsParams): Promise<PlaybookRunItem[]> {
  const aeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  return db
    .select({
      run: playbookRuns,
      playbookName: playbooks.name,
      playbookKey: playbooks.key,
      openTasks: openTaskCount,
      totalTasks: totalTaskCount,
    })
    .from(playbookRuns)
    .innerJoin(playbooks, eq(playbooks.id, playbookRuns.playbookId))
    .innerJoin(accounts, eq(accounts.id, playbookRuns.accountId))
    .where(and(inArray(playbookRuns.accountId, ids), params.runningOnly ? eq(playbookRuns.status, 'running') : undefined, aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(asc(playbookRuns.accountId), desc(playbookRuns.startedAt), asc(playbookRuns.id));
}

// ---------------------------------------------------------------------------------------------------------------
// Onboarding milestones: the tasks of an account's onboarding run, which time to value is measured against

/**
 * Each account's onboarding milestones as of `nowTs`, as a query of (account_id, milestones_due, milestones_on_time):
 * the tasks of its onboarding runs (closed runs and cancelled tasks left out); due are those whose due day has passed
 * or that were reached, on time those done on or before their due day. Health's engagement component and the
 * onboarding read both count with this. `only` narrows it to some accounts (on `r.account_id`).
 */
export function onboardingMilestoneCounts(nowTs: SQL, only: (column: SQL) => SQL = () => sql``): SQL {
  const reached = sql`(t.status = 'done' and t.completed_at <= ${nowTs})`;
  return sql`
  select r.account_id,
         count(*) filter (where ${reached} or t.due_on < (${nowTs} at time zone 'UTC')::date)::int as milestones_due,
         count(*) filter (where ${reached} and (t.completed_at at time zone 'UTC')::date <= t.due_on)::int as milestones_on_time
  from playbook_runs r
  join playbooks p on p.id = r.playbook_id and p.key = ${ONBOARDING_PLAYBOOK}
  join tasks t on t.playbook_run_id = r.id and t.status <> 'cancelled'
  where r.status <> 'closed' and r.started_at <= ${nowTs} ${only(sql`r.account_id`)}
  group by r.account_id`;
}

/** One milestone reached on time: done on or before its due day (the rule onboardingMilestoneCounts counts with). */
export function reachedOnTime(task: Pick<Task, 'status' | 'completedAt' | 'dueOn'>): boolean {
  return task.status === 'done' && task.completedAt !== null && isoDay(task.completedAt) <= task.dueOn;
}

/** An onboarding account's progress: its latest onboarding run, how many milestones were due and how many were on time. */
export interface OnboardingProgress {
  run: PlaybookRunItem;
  milestonesDue: number;
  milestonesOnTime: number;
}

/**
 * The onboarding progress of every account with an onboarding run that is not closed (or of the accounts asked
 * for), newest run first. Managers and admins read it (metrics), as it compares CSMs' work.
 */
export async function listOnboardingProgress(db: Db | Tx, params: { reader: Actor; now: Date; accountIds?: readonly string[] | null; csmId?: string | null }): Promise<OnboardingProgress[]> {
  requireAccess(params.reader, 'read_metrics');
  if (params.csmId && !isUuid(params.csmId)) throw new InvalidInputError('`csmId` must be a user id (a UUID).', 'csmId');
  const ids = params.accountIds ? params.accountIds.filter(isUuid) : null;
  if (ids && ids.length === 0) return [];
  const runs = await db
    .select({ run: playbookRuns, playbookName: playbooks.name, playbookKey: playbooks.key, openTasks: openTaskCount, totalTasks: totalTaskCount })
    .from(playbookRuns)
    .innerJoin(playbooks, eq(playbooks.id, playbookRuns.playbookId))
    .innerJoin(accounts, eq(accounts.id, playbookRuns.accountId))
    .where(
      and(
        eq(playbooks.key, ONBOARDING_PLAYBOOK),
        sql`${playbookRuns.status} <> 'closed'`,
        ids ? inArray(playbookRuns.accountId, ids) : undefined,
        params.csmId ? eq(accounts.csmId, params.csmId) : undefined,
      ),
    )
    .orderBy(desc(playbookRuns.startedAt), asc(playbookRuns.id));
  if (runs.length === 0) return [];
  const nowTs = sql`${params.now.toISOString()}::timestamptz`;
  const accountIds = [...new Set(runs.map((item) => item.run.accountId))];
  const counts = await queryRows<{ account_id: string; milestones_due: number; milestones_on_time: number }>(
    db,
    onboardingMilestoneCounts(nowTs, (column) => sql`and ${column} = any(string_to_array(${accountIds.join(',')}, ',')::uuid[])`),
  );
  const latest = new Map<string, PlaybookRunItem>();
  for (const item of runs) if (!latest.has(item.run.accountId)) latest.set(item.run.accountId, item);
  return [...latest.values()].map((run) => {
    const count = counts.find((row) => row.account_id === run.run.accountId);
    return { run, milestonesDue: Number(count?.milestones_due ?? 0), milestonesOnTime: Number(count?.milestones_on_time ?? 0) };
  });
}
