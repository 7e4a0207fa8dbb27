import { z } from 'zod';
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client.ts';
import { type RevenueChange, revenueChangeKinds, revenueChanges } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { NotFoundError } from './errors.ts';
import { parseInput } from './validation.ts';

const revenueSchema = z
  .object({
    accountId: z.uuid('must be a Lifeline account id').nullish(),
    accountExternalId: z.string().trim().min(1).max(200).nullish(),
    externalId: z.string().trim().min(1).max(200).nullish(),
    kind: z.enum(revenueChangeKinds, `use one of ${revenueChangeKinds.join(', ')}`),
    mrrDeltaCents: z.number().int('MRR is whole cents').refine((value) => value !== 0, 'a revenue change cannot be zero'),
    effectiveDate: z.iso.date('use a calendar date written YYYY-MM-DD'),
    note: z.string().trim().max(2000).nullish(),
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

/** One MRR movement in the ledger NRR and GRR are computed from; idempotent on the billing system's id. */
export async function recordRevenueChange(db: Db, params: RecordRevenueChangeParams): Promise<RevenueChange> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(revenueSchema, params);
  const found = await queryRows<{ id: string }>(
    db,
    input.accountId
      ? sql`select id from accounts where id = ${input.accountId}`
      : sql`select id from accounts where external_id = ${input.accountExternalId ?? ''}`,
  );
  const accountId = found[0]?.id;
  if (!accountId) {
    throw new NotFoundError(
      `No account ${input.accountId ?? input.accountExternalId}. Create it first with upsertAccounts.`,
      input.accountId ? 'accountId' : 'accountExternalId',
    );
  }
  const values = {
    accountId,
    externalId: input.externalId ?? null,
    kind: input.kind,
    mrrDeltaCents: input.mrrDeltaCents,
    effectiveDate: input.effectiveDate,
    note: input.note ?? null,
  };
  const [change] = input.externalId
    ? await db
        .insert(revenueChanges)
        .values(values)
        .onConflictDoUpdate({
          target: revenueChanges.externalId,
          set: { kind: values.kind, mrrDeltaCents: values.mrrDeltaCents, effectiveDate: values.effectiveDate, note: values.note },
        })
        .returning()
    : await db.insert(revenueChanges).values(values).returning();
  if (!change) throw new Error('Revenue change insert returned no row');
  return change;
}
