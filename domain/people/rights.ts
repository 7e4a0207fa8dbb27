/**
 * People on the customer's side: who may read and who may change an account's contacts and its CSM sentiment. The
 * one home of these rules; contacts.ts and sentiment.ts call them for every surface (GraphQL, Slack, the demo).
 */
import { eq } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { type Account, accounts } from '../../db/schema.ts';
import { canReadAccount, requireAccess, requireReadAccount } from '../access.ts';
import type { Actor } from '../actors.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import { requireManagerOfOwners } from '../escalations.ts';
import { isUuid } from '../validation.ts';

type OwnedAccount = Pick<Account, 'id' | 'name' | 'csmId' | 'aeId'>;

/** The account by id, as the reader may read it: missing and unreadable say the same, so ids do not leak. */
export async function readableAccount(db: Db | Tx, params: { accountId: string; reader: Actor; field?: string }): Promise<OwnedAccount> {
  requireAccess(params.reader, 'read_accounts');
  const account = await accountById(db, params.accountId);
  if (!account || !canReadAccount(params.reader, account)) throw noSuchAccount(params.field);
  return account;
}

/**
 * The account a change is asked on, refused when there is none. Whether the actor may change it (or even read it)
 * is `requirePeopleRights`'s to say, with who can: a change is refused, as stage moves are, rather than hidden.
 */
export async function accountToChange(db: Db | Tx, params: { accountId: string; field?: string }): Promise<OwnedAccount> {
  const account = await accountById(db, params.accountId);
  if (!account) throw noSuchAccount(params.field);
  return account;
}

async function accountById(db: Db | Tx, accountId: string): Promise<OwnedAccount | undefined> {
  if (!isUuid(accountId)) return undefined;
  const [account] = await db.select({ id: accounts.id, name: accounts.name, csmId: accounts.csmId, aeId: accounts.aeId }).from(accounts).where(eq(accounts.id, accountId));
  return account;
}

function noSuchAccount(field = 'accountId'): NotFoundError {
  return new NotFoundError('There is no such account you can see. Check the account id (the `accounts` query lists them).', field);
}

/**
 * SECURITY: the one check before an account's people or its sentiment change: admins; the account's own CSM; a
 * manager of that CSM (every manager when the CSM reports to nobody, as escalations go to them all). Nobody else,
 * whatever else their role may do, and each refusal says who can.
 */
export async function requirePeopleRights(tx: Db | Tx, params: { actor: Actor; account: OwnedAccount; action: string }): Promise<void> {
  const { actor, account } = params;
  requireReadAccount(actor, account);
  if (actor.role === 'admin') return;
  if (actor.role === 'csm' && actor.userId !== null && account.csmId === actor.userId) return;
  if (actor.role === 'manager') {
    await requireManagerOfOwners(tx, { actor, ownerIds: [account.csmId], action: params.action, subject: account.name });
    return;
  }
  throw new ForbiddenError(
    actor.role === 'csm'
      ? `Only ${account.name}'s own CSM, their manager or an admin can ${params.action}. Ask them.`
      : `Your role (${actor.role}) cannot ${params.action}. Ask ${account.name}'s CSM, their manager or an admin.`,
  );
}

/**
 * Whether the reader may be offered the change at all, without reading anything: admins, managers and the account's
 * own CSM. The change itself still checks (`requirePeopleRights`), which may refuse a manager of another team.
 */
export function mayOfferPeopleChanges(actor: Actor, account: Pick<Account, 'csmId'>): boolean {
  if (actor.role === 'admin' || actor.role === 'manager') return true;
  return actor.role === 'csm' && actor.userId !== null && account.csmId === actor.userId;
}
