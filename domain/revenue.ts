import { z } from 'zod';
import { asc, eq, lte, and } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { type Account, type RevenueChange, type RevenueChangeKind, accounts, revenueChangeKinds, revenueChanges } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import { requireChurnReason } from './churn-reasons.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { isUuid, parseInput } from './validation.ts';

export const revenueSchema = z
  .object({
    accountId: z.uuid('must be a Lifeline account id').nullish(),
    accountExternalId: z.string().trim().min(1).max(200).nullish(),
    externalId: z.string().trim().min(1).max(200).nullish(),
    kind: z.enum(revenueChangeKinds, `use one of ${revenueChangeKinds.join(', ')}`),
    mrrDeltaCents: z.number().int('MRR is whole cents').refine((value) => value !== 0, 'a revenue change cannot be zero'),
    effectiveDate: z.iso.date('use a calendar date written YYYY-MM-DD'),
    note: z.string().trim().max(2000).nullish(),
    churnReasonKey: z.string().trim().min(1).max(40).nullish(),
  })
  .refine((input) => !input.churnReasonKey || input.kind === 'churn' || input.kind === 'contraction', {
    message: 'a churn reason is given only for a churn or a contraction; leave churnReasonKey out',
    path: ['churnReasonKey'],
  })
  .refine((input) => Boolean(input.accountId) !== Boolean(input.accountExternalId), {
    message: 'give exactly one of accountId (Lifeline id) or accountExternalId (CRM id)',
    path: ['accountId'],
  })
  // The ledger is signed so that MRR at any date is a plain sum; the kind and the sign must agree.
  .refine((input) => (input.kind === 'contraction' || input.kind === 'churn' ? input.mrrDeltaCents < 0 : input.mrrDeltaCents > 0), {
    message: 'new, expansion and reactivation add MRR (a positive delta); contraction and churn remove it (a negative delta)',
    path: ['mrrDeltaCents'],
  });

export type RecordRevenueChangeParams = z.input<typeof revenueSchema> & { actor: Actor };

/** One movement to write: the account must already be locked by the caller's transaction. */
export interface RevenueChangeValues {
  accountId: string;
  externalId: string | null;
  kind: RevenueChangeKind;
  mrrDeltaCents: number;
  effectiveDate: string;
  note: string | null;
  /** Why the revenue was lost (churn and contraction only), already checked with requireChurnReason. */
  churnReasonKey?: string | null;
}

type LedgerEntry = Pick<RevenueChange, 'id' | 'kind' | 'mrrDeltaCents' | 'effectiveDate' | 'externalId'>;

/** Amounts in messages are in the unit the API takes them in. */
function cents(value: number): string {
  return `${value} cents`;
}

/**
 * Why an entry cannot stand where it is, given the account's MRR just before it and whether the account had any
 * revenue before; null when it can. The kind a movement should have follows from the MRR it starts from: MRR
 * from zero is new business (first time) or a reactivation (after a churn), MRR up is an expansion, down a
 * contraction, to zero a churn.
 */
function entryProblem(entry: LedgerEntry, before: number, hadRevenue: boolean): string | null {
  const on = `on ${entry.effectiveDate}`;
  const after = before + entry.mrrDeltaCents;
  const fromZero = hadRevenue ? 'record a reactivation instead' : 'record it as new business (kind new) instead';
  switch (entry.kind) {
    case 'new':
      if (before > 0) return `the account already has ${cents(before)} of MRR ${on}; record an expansion instead`;
      if (hadRevenue) return `the account had MRR before and lost it; a customer coming back is a reactivation, so record a reactivation instead`;
      return null;
    case 'reactivation':
      if (before > 0) return `the account already has ${cents(before)} of MRR ${on}; record an expansion instead`;
      if (!hadRevenue) return `the account never had MRR before ${entry.effectiveDate}; record it as new business (kind new) instead`;
      return null;
    case 'expansion':
      if (before <= 0) return `the account has no MRR ${on}; ${fromZero}`;
      return null;
    case 'contraction':
      if (before <= 0) return `the account has no MRR ${on}, so there is nothing to contract`;
      if (after === 0) return `it brings MRR from ${cents(before)} to zero ${on}: that is a churn; record a churn instead`;
      if (after < 0) {
        return `it would take MRR below zero ${on} (MRR is ${cents(before)}); contract by less than that, or record a churn of -${before} cents if the customer left`;
      }
      return null;
    case 'churn':
      if (before <= 0) return `the account has no MRR ${on}, so there is nothing to churn`;
      if (after !== 0) {
        return `a churn brings MRR to zero, and MRR is ${cents(before)} ${on}: send mrrDeltaCents -${before}, or record a contraction for a partial loss`;
      }
      return null;
  }
}

/** The account's whole ledger in order, and the first entry that cannot stand; null when every one can. */
async function firstLedgerProblem(tx: Tx, accountId: string): Promise<{ entry: LedgerEntry; problem: string } | null> {
  // MRR at a date is the sum of the ledger up to and including that date; within a date, entries count in the
  // order they were recorded.
  const entries = await tx
    .select({
      id: revenueChanges.id,
      kind: revenueChanges.kind,
      mrrDeltaCents: revenueChanges.mrrDeltaCents,
      effectiveDate: revenueChanges.effectiveDate,
      externalId: revenueChanges.externalId,
    })
    .from(revenueChanges)
    .where(eq(revenueChanges.accountId, accountId))
    .orderBy(asc(revenueChanges.effectiveDate), asc(revenueChanges.createdAt), asc(revenueChanges.id));
  let mrr = 0;
  let hadRevenue = false;
  for (const entry of entries) {
    const problem = entryProblem(entry, mrr, hadRevenue);
    if (problem) return { entry, problem };
    mrr += entry.mrrDeltaCents;
    hadRevenue = true;
  }
  return null;
}

function describeEntry(entry: LedgerEntry): string {
  return `the ${entry.kind} of ${entry.effectiveDate}${entry.externalId ? ` (${entry.externalId})` : ''}`;
}

/**
 * Writes one movement into a locked account's ledger (an upsert when it has an externalId) and checks the
 * account's whole timeline afterwards, so a back-dated entry cannot make a later one impossible either. Throws
 * BAD_USER_INPUT naming the right kind; the caller's transaction then rolls the write back.
 */
export async function writeRevenueChangeInTx(tx: Tx, account: Pick<Account, 'id' | 'name'>, values: RevenueChangeValues): Promise<RevenueChange> {
  const [change] = values.externalId
    ? await tx
        .insert(revenueChanges)
        .values(values)
        .onConflictDoUpdate({
          target: revenueChanges.externalId,
          set: { kind: values.kind, mrrDeltaCents: values.mrrDeltaCents, effectiveDate: values.effectiveDate, note: values.note, churnReasonKey: values.churnReasonKey ?? null },
        })
        .returning()
    : await tx.insert(revenueChanges).values(values).returning();
  if (!change) throw new Error('Revenue change insert returned no row');
  if (change.accountId !== account.id) {
    throw new InvalidInputError(
      `externalId ${values.externalId} already records a revenue change of another account. Use the billing system's own id of this movement.`,
      'externalId',
    );
  }
  const found = await firstLedgerProblem(tx, account.id);
  if (found) {
    const own = found.entry.id === change.id;
    throw new InvalidInputError(
      own
        ? `This ${change.kind} cannot be recorded for ${account.name}: ${found.problem}.`
        : `This ${change.kind} of ${change.effectiveDate} for ${account.name} would make ${describeEntry(found.entry)} impossible: ${found.problem}. Correct that entry first, or record this one differently.`,
      own ? 'kind' : 'effectiveDate',
    );
  }
  return change;
}

/** The account's MRR at the end of a date: the sum of its ledger up to and including that date. */
export async function mrrOnDate(tx: Db | Tx, accountId: string, date: string, excludingExternalId?: string): Promise<{ mrrCents: number; hadRevenue: boolean }> {
  const rows = await tx
    .select({ externalId: revenueChanges.externalId, mrrDeltaCents: revenueChanges.mrrDeltaCents })
    .from(revenueChanges)
    .where(and(eq(revenueChanges.accountId, accountId), lte(revenueChanges.effectiveDate, date)));
  const counted = rows.filter((row) => excludingExternalId === undefined || row.externalId !== excludingExternalId);
  return { mrrCents: counted.reduce((sum, row) => sum + row.mrrDeltaCents, 0), hadRevenue: counted.length > 0 };
}

/**
 * One MRR movement in the ledger NRR and GRR are computed from; idempotent on the billing system's id. Movements
 * that cannot happen (an expansion of nothing, a contraction below zero, a churn that leaves MRR) are refused.
 */
export async function recordRevenueChange(db: Db, params: RecordRevenueChangeParams): Promise<RevenueChange> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(revenueSchema, params);
  return db.transaction(async (tx) => {
    if (input.churnReasonKey) await requireChurnReason(tx, input.churnReasonKey, input.kind === 'churn' ? 'churn' : 'contraction');
    // The account row is locked so two movements of one account are checked one after the other.
    const [account] = input.accountId
      ? isUuid(input.accountId)
        ? await tx.select({ id: accounts.id, name: accounts.name }).from(accounts).where(eq(accounts.id, input.accountId)).for('update')
        : []
      : await tx
          .select({ id: accounts.id, name: accounts.name })
          .from(accounts)
          .where(eq(accounts.externalId, input.accountExternalId ?? ''))
          .for('update');
    if (!account) {
      throw new NotFoundError(
        `No account ${input.accountId ?? input.accountExternalId}. Create it first with upsertAccounts.`,
        input.accountId ? 'accountId' : 'accountExternalId',
      );
    }
    return writeRevenueChangeInTx(tx, account, {
      accountId: account.id,
      externalId: input.externalId ?? null,
      kind: input.kind,
      mrrDeltaCents: input.mrrDeltaCents,
      effectiveDate: input.effectiveDate,
      note: input.note ?? null,
      churnReasonKey: input.churnReasonKey ?? null,
    });
  });
}

/**
 * Removes the movement recorded under `externalId` from a locked account's ledger, when there is one, and checks the
 * account's whole timeline afterwards (a later entry may have depended on it). For a correction whose movement is now
 * none: the row is amended away rather than reversed, so the ledger never holds a movement and its undoing.
 */
export async function removeRevenueChangeInTx(tx: Tx, account: Pick<Account, 'id' | 'name'>, externalId: string): Promise<void> {
  const removed = await tx
    .delete(revenueChanges)
    .where(and(eq(revenueChanges.accountId, account.id), eq(revenueChanges.externalId, externalId)))
    .returning({ id: revenueChanges.id });
  if (removed.length === 0) return;
  const found = await firstLedgerProblem(tx, account.id);
  if (found) {
    throw new InvalidInputError(
      `Removing the movement ${externalId} of ${account.name} would make ${describeEntry(found.entry)} impossible: ${found.problem}. Correct that entry first.`,
      'outcome',
    );
  }
}
