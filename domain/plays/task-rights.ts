/**
 * Plays: who may see, create and act on tasks. The one home of these rules; every surface (Slack, GraphQL, jobs)
 * reaches them through the task functions in tasks.ts.
 */
import type { Db, Tx } from '../../db/client.ts';
import type { Account, Task, User } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { ForbiddenError, InvalidInputError } from '../errors.ts';
import { requireManagerOfOwners } from '../escalations.ts';

/** Roles a task can be given to: the people who do customer work (not viewers, never a token). */
const OWNER_ROLES: readonly User['role'][] = ['admin', 'manager', 'csm', 'ae'];

/**
 * SECURITY: whether `actor` may read `task`. Everyone who reads accounts reads tasks, except account executives:
 * they see the tasks of the accounts they sold and the tasks assigned to them.
 */
export function canReadTask(actor: Actor, task: Pick<Task, 'ownerId'>, account: Pick<Account, 'aeId'>): boolean {
  requireAccess(actor, 'read_accounts');
  if (actor.role !== 'ae') return true;
  return actor.userId !== null && (task.ownerId === actor.userId || account.aeId === actor.userId);
}

/**
 * SECURITY: the one check before a task changes (done, snoozed, reassigned, cancelled). Admins act on every task;
 * anyone on the tasks assigned to them; a CSM on the tasks of their accounts; a manager on the tasks of accounts
 * whose CSM (or the task's owner) reports to them. Account executives act only on their own tasks.
 */
export async function requireTaskRights(
  tx: Db | Tx,
  params: { actor: Actor; task: Pick<Task, 'ownerId' | 'title'>; account: Pick<Account, 'csmId' | 'name'>; action: string },
): Promise<void> {
  const { actor, task, account } = params;
  if (actor.role === 'admin') return;
  if (actor.role === 'viewer' || actor.role === 'integration') {
    throw new ForbiddenError(`Your role (${actor.role}) cannot ${params.action} tasks. Ask the task's owner, ${account.name}'s CSM or a manager.`);
  }
  if (actor.userId !== null && task.ownerId === actor.userId) return;
  if (actor.role === 'csm') {
    if (actor.userId !== null && account.csmId === actor.userId) return;
    throw new ForbiddenError(`Only the task's owner, ${account.name}'s own CSM, their manager or an admin can ${params.action} “${task.title}”.`);
  }
  if (actor.role === 'ae') {
    throw new ForbiddenError(`Account executives can ${params.action} only the tasks assigned to them, and “${task.title}” is someone else's.`);
  }
  await requireManagerOfOwners(tx, { actor, ownerIds: [account.csmId, task.ownerId], action: `${params.action} tasks`, subject: account.name });
}

/**
 * SECURITY: who may put a task on an account: admins; a manager for accounts whose CSM reports to them; the
 * account's CSM; an account executive on an account they sold, for themselves.
 */
export async function requireTaskCreateRights(
  tx: Db | Tx,
  params: { actor: Actor; account: Pick<Account, 'csmId' | 'aeId' | 'name'>; ownerId: string | null },
): Promise<void> {
  const { actor, account } = params;
  if (actor.role === 'admin') return;
  if (actor.role === 'manager') {
    await requireManagerOfOwners(tx, { actor, ownerIds: [account.csmId], action: 'add tasks', subject: account.name });
    return;
  }
  if (actor.role === 'csm' && actor.userId !== null && account.csmId === actor.userId) return;
  if (actor.role === 'ae' && actor.userId !== null && account.aeId === actor.userId) {
    if (params.ownerId === actor.userId) return;
    throw new ForbiddenError(`Account executives add tasks for themselves only. Ask ${account.name}'s CSM or a manager to give one to someone else.`);
  }
  throw new ForbiddenError(
    actor.role === 'csm' || actor.role === 'ae'
      ? `Only ${account.name}'s own CSM, its account executive, a manager or an admin can add tasks to it.`
      : `Your role (${actor.role}) cannot add tasks. Ask the account's CSM or a manager.`,
  );
}

/** A task's owner must be a person who does customer work; says whom to choose otherwise. */
export function requireTaskOwner(owner: Pick<User, 'name' | 'role'> | undefined, field = 'ownerId'): asserts owner is Pick<User, 'name' | 'role'> {
  if (!owner) throw new InvalidInputError('There is no such person in Lifeline. Choose someone from the people list.', field);
  if (!OWNER_ROLES.includes(owner.role)) {
    throw new InvalidInputError(`${owner.name} is a ${owner.role} and cannot own tasks. Choose a CSM, an account executive, a manager or an admin.`, field);
  }
}

/**
 * Whether a surface offers to start a playbook on the account: admins, managers, and the account's own CSM. An offer
 * only: requirePlaybookRunRights decides when it is used (a manager may be refused for someone else's team).
 */
export function mayOfferPlaybookStart(actor: Actor, account: Pick<Account, 'csmId'>): boolean {
  return actor.role === 'admin' || actor.role === 'manager' || (actor.role === 'csm' && actor.userId !== null && account.csmId === actor.userId);
}

/**
 * SECURITY: who may start or close a playbook run on an account by hand: admins, the account's CSM, and a manager
 * of that CSM (any manager when the CSM reports to nobody, as escalations go to every manager then).
 */
export async function requirePlaybookRunRights(tx: Db | Tx, params: { actor: Actor; account: Pick<Account, 'csmId' | 'name'>; action: string }): Promise<void> {
  const { actor, account } = params;
  if (actor.role === 'admin') return;
  if (actor.role === 'csm') {
    if (actor.userId !== null && account.csmId === actor.userId) return;
    throw new ForbiddenError(`Only ${account.name}'s own CSM, their manager or an admin can ${params.action} it.`);
  }
  if (actor.role !== 'manager') {
    // Not named: an account executive may not read someone else's account.
    throw new ForbiddenError(`Your role (${actor.role}) cannot ${params.action} accounts. Ask the account's CSM, their manager or an admin.`);
  }
  await requireManagerOfOwners(tx, { actor, ownerIds: [account.csmId], action: params.action.replace(/ on$/, ''), subject: account.name });
}
