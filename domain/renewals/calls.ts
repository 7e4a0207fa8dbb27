// Forecast calls on open renewals: the owner's commit / likely / at risk / churning, with a note, history kept.
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import { type Account, type Renewal, type RenewalCall, accounts, renewalCallKinds, renewalCalls, renewals } from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { isUuid, parseInput } from '../validation.ts';
import { requireRenewalRights } from './rights.ts';

/** How each call reads to people. */
export const renewalCallLabels: Record<(typeof renewalCallKinds)[number], string> = {
  commit: 'Commit',
  likely: 'Likely',
  at_risk: 'At risk',
  churning: 'Churning',
};

const callSchema = z.object({
  renewalId: z.string().trim().min(1, 'name the renewal'),
  call: z.enum(renewalCallKinds, `use one of ${renewalCallKinds.join(', ')}`),
  note: z.string().trim().max(2000, 'keep the note under 2000 characters').nullish(),
});

export type CallRenewalParams = z.input<typeof callSchema> & { actor: Actor; now?: Date };

export interface CallRenewalResult {
  renewal: Renewal;
  account: Account;
  call: RenewalCall;
  /** True when the latest call already said this (a double click, a retry): nothing was added. */
  replayed: boolean;
}

/**
 * Calls an open renewal's forecast (the account's CSM or AE, managers, admins). Every call is kept; the latest is the
 * current one. The same call with the same note by the same person as the latest adds nothing.
 */
export async function callRenewal(db: Db, params: CallRenewalParams): Promise<CallRenewalResult> {
  const input = parseInput(callSchema, params);
  return db.transaction(async (tx) => {
    const [row] = isUuid(input.renewalId)
      ? await tx.select({ renewal: renewals, account: accounts }).from(renewals).innerJoin(accounts, eq(accounts.id, renewals.accountId)).where(eq(renewals.id, input.renewalId)).for('update')
      : [];
    if (!row) throw new NotFoundError(`No renewal with id ${input.renewalId}. List renewals with the \`renewals\` query.`, 'renewalId');
    const { renewal, account } = row;
    requireRenewalRights(params.actor, account, `call ${account.name}'s renewal`);
    if (renewal.status !== 'open' && renewal.status !== 'upcoming') {
      throw new InvalidInputError(
        `${account.name}'s renewal of ${renewal.contractEnd} is closed (${renewal.outcome ?? renewal.status}); forecast calls are for renewals still to decide.`,
        'renewalId',
      );
    }
    const [last] = await tx.select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id)).orderBy(desc(renewalCalls.calledAt), desc(renewalCalls.id)).limit(1);
    if (last && last.call === input.call && (last.note ?? null) === (input.note ?? null) && last.calledBy === params.actor.userId) {
      return { renewal, account, call: last, replayed: true };
    }
    const [call] = await tx
      .insert(renewalCalls)
      .values({
        renewalId: renewal.id,
        call: input.call,
        note: input.note ?? null,
        calledBy: params.actor.userId,
        calledByLabel: params.actor.label,
        calledAt: params.now ?? new Date(),
      })
      .returning();
    if (!call) throw new Error('Renewal call insert returned no row');
    return { renewal, account, call, replayed: false };
  });
}

/** Every call of these renewals, oldest first (for loaders); an AE reads only their accounts'. */
export async function listRenewalCalls(db: Db, params: { renewalIds: readonly string[]; reader: Actor }): Promise<RenewalCall[]> {
  const aeId = readableOwnerId(params.reader);
  const ids = params.renewalIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .select({ call: renewalCalls })
    .from(renewalCalls)
    .innerJoin(renewals, eq(renewals.id, renewalCalls.renewalId))
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(and(inArray(renewalCalls.renewalId, ids), aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(asc(renewalCalls.calledAt), asc(renewalCalls.id));
  return rows.map((row) => row.call);
}
