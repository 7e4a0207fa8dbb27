// Who may forecast and close a renewal: the account's CSM or AE, managers and admins; corrections are supervisors'.
import type { Account } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { ForbiddenError } from '../errors.ts';

/** Calling a renewal's forecast and recording its outcome: the account's CSM or AE, managers, admins. */
export function canActOnRenewal(actor: Actor, account: Pick<Account, 'csmId' | 'aeId'>): boolean {
  if (actor.rule) return false;
  if (actor.role === 'admin' || actor.role === 'manager') return true;
  if (actor.userId === null) return false;
  if (actor.role === 'csm') return account.csmId === actor.userId;
  if (actor.role === 'ae') return account.aeId === actor.userId;
  return false;
}

export function requireRenewalRights(actor: Actor, account: Pick<Account, 'name' | 'csmId' | 'aeId'>, what: string): void {
  if (canActOnRenewal(actor, account)) return;
  if (actor.role === 'csm' || actor.role === 'ae') {
    throw new ForbiddenError(`Only ${account.name}'s CSM or account executive, a manager or an admin can ${what}; you are not its ${actor.role === 'csm' ? 'CSM' : 'account executive'}. Ask its owner or a manager.`);
  }
  throw new ForbiddenError(`Your role (${actor.role}) cannot ${what}. Ask the account's CSM or a manager.`);
}

/** Correcting a recorded outcome: managers and admins only, since it rewrites the revenue ledger. */
export function requireCorrectionRights(actor: Actor): void {
  if (!actor.rule && (actor.role === 'admin' || actor.role === 'manager')) return;
  throw new ForbiddenError(`Only a manager or an admin can correct a renewal's outcome, because it rewrites the revenue ledger; your role is ${actor.role}. Ask a manager.`);
}
