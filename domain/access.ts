import type { Account, TokenRole } from '../db/schema.ts';
import type { Actor } from './actors.ts';
import { ForbiddenError } from './errors.ts';

/**
 * Who may do what. Roles: admin (everything), manager (read all, move any stage, metrics),
 * csm (read all, write own accounts), ae (read own accounts, confirm handoffs), viewer (read only),
 * integration (ingestion mutations only). Every domain function that reads or writes checks here, so the
 * API, the bot and jobs enforce the same rules.
 */
export const operations = [
  'read_accounts',
  'read_people',
  'read_metrics',
  'ingest',
  'manage_stages',
  'manage_people',
  'manage_tokens',
  'manage_playbooks',
  'manage_webhooks',
  'manage_churn_reasons',
] as const;
export type Operation = (typeof operations)[number];

const allowed: Record<Operation, readonly TokenRole[]> = {
  // AEs read, but only their own accounts: listings are narrowed by `readableOwnerId`.
  read_accounts: ['admin', 'manager', 'csm', 'ae', 'viewer'],
  read_people: ['admin', 'manager', 'csm', 'ae', 'viewer'],
  read_metrics: ['admin', 'manager'],
  ingest: ['admin', 'integration'],
  manage_stages: ['admin'],
  manage_people: ['admin'],
  manage_tokens: ['admin'],
  manage_playbooks: ['admin'],
  // SECURITY: an endpoint receives account names, health and people's ids, and its secret signs as Lifeline.
  manage_webhooks: ['admin'],
  manage_churn_reasons: ['admin'],
};

const explanations: Record<Operation, string> = {
  read_accounts: 'read accounts',
  read_people: 'read people',
  read_metrics: 'read metrics (managers and admins can)',
  ingest: 'send ingestion data (use an integration token, or ask an admin)',
  manage_stages: 'edit lifecycle stages (ask an admin)',
  manage_people: 'manage people and Slack links (ask an admin)',
  manage_tokens: 'create or revoke API tokens (ask an admin)',
  manage_playbooks: 'define, edit or retire playbooks (ask an admin)',
  manage_webhooks: 'manage webhook endpoints or their deliveries (ask an admin)',
  manage_churn_reasons: 'edit the list of churn reasons (ask an admin)',
};

export function can(actor: Actor, operation: Operation): boolean {
  return allowed[operation].includes(actor.role);
}

export function requireAccess(actor: Actor, operation: Operation): void {
  if (!can(actor, operation)) {
    throw new ForbiddenError(`Your role (${actor.role}) cannot ${explanations[operation]}.`);
  }
}

/** The owner an AE's account reads are narrowed to; null when the actor reads every account. */
export function readableOwnerId(actor: Actor): string | null {
  requireAccess(actor, 'read_accounts');
  if (actor.role !== 'ae') return null;
  // SECURITY: an AE token without a user would otherwise read nothing rather than everything; make that explicit.
  if (!actor.userId) throw new ForbiddenError('This account executive token is not linked to a user, so it owns no accounts. Ask an admin to link it.');
  return actor.userId;
}

/** Whether the actor may read this one account. */
export function canReadAccount(actor: Actor, account: Pick<Account, 'aeId'>): boolean {
  if (!can(actor, 'read_accounts')) return false;
  return actor.role !== 'ae' || (actor.userId !== null && account.aeId === actor.userId);
}

/** Refuses an account the actor may not read, saying why; the bot shows cards and pages by ids from buttons. */
export function requireReadAccount(actor: Actor, account: Pick<Account, 'aeId'>): void {
  if (canReadAccount(actor, account)) return;
  throw new ForbiddenError(
    actor.role === 'ae'
      ? 'Account executives see only the accounts they sold, and this is not one of them. Ask its CSM or a manager.'
      : `Your role (${actor.role}) cannot ${explanations.read_accounts}.`,
  );
}

/** Writes on an account's own data (not stage moves, which lifecycle decides): admins, managers, its CSM. */
export function canWriteAccount(actor: Actor, account: Pick<Account, 'csmId'>): boolean {
  if (actor.role === 'admin' || actor.role === 'manager') return true;
  return actor.role === 'csm' && actor.userId !== null && account.csmId === actor.userId;
}
