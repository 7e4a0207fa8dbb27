// Churn reasons: the admin-edited list of why customers leave or shrink, its defaults, and the one check every
// churn and contraction (a move to Churned, a ledger row, a renewal outcome) makes of the reason it names.
import { asc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../db/client.ts';
import { type ChurnReason, churnReasons } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { parseInput } from './validation.ts';

/** What a reason is given for: losing the customer, or losing part of their revenue. */
export type ChurnReasonUse = 'churn' | 'contraction';

/** The defaults, from common CS practice. Data, not code: admins edit them; these only seed an empty list. */
export const defaultChurnReasons: Pick<ChurnReason, 'key' | 'label' | 'appliesToChurn' | 'appliesToContraction' | 'position'>[] = [
  { key: 'budget', label: 'Budget cuts', appliesToChurn: true, appliesToContraction: true, position: 10 },
  { key: 'champion_left', label: 'Champion left', appliesToChurn: true, appliesToContraction: true, position: 20 },
  { key: 'product_gaps', label: 'Product gaps', appliesToChurn: true, appliesToContraction: true, position: 30 },
  { key: 'competitor', label: 'Moved to a competitor', appliesToChurn: true, appliesToContraction: true, position: 40 },
  { key: 'acquired', label: 'Acquired', appliesToChurn: true, appliesToContraction: true, position: 50 },
  { key: 'out_of_business', label: 'Went out of business', appliesToChurn: true, appliesToContraction: false, position: 60 },
  { key: 'poor_onboarding', label: 'Poor onboarding', appliesToChurn: true, appliesToContraction: true, position: 70 },
  { key: 'low_adoption', label: 'Low adoption', appliesToChurn: true, appliesToContraction: true, position: 80 },
];

/** Inserts the default reasons that are missing; never overwrites an edited or retired one. Idempotent. */
export async function ensureDefaultChurnReasons(db: Db): Promise<void> {
  await db.insert(churnReasons).values(defaultChurnReasons).onConflictDoNothing();
}

export interface ListChurnReasonsParams {
  reader: Actor;
  /** Retired reasons too (for the admin list and for history); by default only those that can be chosen. */
  includeRetired?: boolean;
  /** Only the reasons that may be given for this. */
  use?: ChurnReasonUse;
}

/** The reasons, in their order. */
export async function listChurnReasons(db: Db | Tx, params: ListChurnReasonsParams): Promise<ChurnReason[]> {
  requireAccess(params.reader, 'read_accounts');
  const rows = await db
    .select()
    .from(churnReasons)
    .where(params.includeRetired ? undefined : isNull(churnReasons.retiredAt))
    .orderBy(asc(churnReasons.position), asc(churnReasons.key));
  return params.use ? rows.filter((reason) => appliesTo(reason, params.use ?? 'churn')) : rows;
}

function appliesTo(reason: ChurnReason, use: ChurnReasonUse): boolean {
  return use === 'churn' ? reason.appliesToChurn : reason.appliesToContraction;
}

/**
 * The reason named for a churn or a contraction, refused when it does not exist, is retired, or is not one given
 * for that kind of loss; the message lists the keys that may be used instead.
 */
export async function requireChurnReason(db: Db | Tx, key: string, use: ChurnReasonUse, field = 'churnReasonKey'): Promise<ChurnReason> {
  const all = await db.select().from(churnReasons).orderBy(asc(churnReasons.position), asc(churnReasons.key));
  const usable = all.filter((reason) => reason.retiredAt === null && appliesTo(reason, use));
  const choices = `Use one of: ${usable.map((reason) => reason.key).join(', ') || '(none: ask an admin to add a churn reason)'}.`;
  const found = all.find((reason) => reason.key === key);
  if (!found) throw new InvalidInputError(`There is no churn reason "${key}". ${choices}`, field);
  if (found.retiredAt) throw new InvalidInputError(`The churn reason "${found.label}" is retired. ${choices}`, field);
  if (!appliesTo(found, use)) throw new InvalidInputError(`"${found.label}" is not a reason given for a ${use}. ${choices}`, field);
  return found;
}

const reasonFields = {
  label: z.string().trim().min(1, 'the label is required').max(100, 'keep the label under 100 characters'),
  appliesToChurn: z.boolean(),
  appliesToContraction: z.boolean(),
  position: z.number().int('must be a whole number').min(1).max(10_000),
};

const defineSchema = z
  .object({
    key: z
      .string()
      .trim()
      .regex(/^[a-z][a-z0-9_]{1,39}$/, 'use 2 to 40 lowercase letters, digits or underscores, starting with a letter (e.g. `pricing`)'),
    ...reasonFields,
    appliesToChurn: reasonFields.appliesToChurn.default(true),
    appliesToContraction: reasonFields.appliesToContraction.default(true),
    position: reasonFields.position.default(100),
  })
  .refine((input) => input.appliesToChurn || input.appliesToContraction, {
    message: 'a reason must apply to churn, to contraction, or to both',
    path: ['appliesToChurn'],
  });

export type DefineChurnReasonParams = z.input<typeof defineSchema> & { actor: Actor };

/** Adds a churn reason (admins). */
export async function defineChurnReason(db: Db, params: DefineChurnReasonParams): Promise<ChurnReason> {
  requireAccess(params.actor, 'manage_churn_reasons');
  const input = parseInput(defineSchema, params);
  const [existing] = await db.select().from(churnReasons).where(eq(churnReasons.key, input.key));
  if (existing) {
    throw new InvalidInputError(
      `A churn reason with key "${input.key}" already exists${existing.retiredAt ? ' (retired: bring it back with updateChurnReason, retired: false)' : '; change it with updateChurnReason'}.`,
      'key',
    );
  }
  const [reason] = await db.insert(churnReasons).values(input).returning();
  if (!reason) throw new Error('Churn reason insert returned no row');
  return reason;
}

const updateSchema = z.object({ key: z.string().trim().min(1), ...z.object(reasonFields).partial().shape, retired: z.boolean().optional() });
export type UpdateChurnReasonParams = z.input<typeof updateSchema> & { actor: Actor };

/**
 * Edits a reason's label, order or use, or retires it (admins). A retired reason can no longer be chosen but keeps
 * naming the churns that gave it; reasons are never deleted. `retired: false` brings one back.
 */
export async function updateChurnReason(db: Db, params: UpdateChurnReasonParams): Promise<ChurnReason> {
  requireAccess(params.actor, 'manage_churn_reasons');
  const { key, retired, ...changes } = parseInput(updateSchema, params);
  const [existing] = await db.select().from(churnReasons).where(eq(churnReasons.key, key));
  if (!existing) throw new NotFoundError(`There is no churn reason "${key}". List them with the \`churnReasons\` query.`, 'key');
  const next = { ...existing, ...Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) };
  if (!next.appliesToChurn && !next.appliesToContraction) {
    throw new InvalidInputError('A reason must apply to churn, to contraction, or to both; to stop offering it, retire it instead.', 'appliesToChurn');
  }
  const [reason] = await db
    .update(churnReasons)
    .set({
      label: next.label,
      appliesToChurn: next.appliesToChurn,
      appliesToContraction: next.appliesToContraction,
      position: next.position,
      retiredAt: retired === undefined ? existing.retiredAt : retired ? (existing.retiredAt ?? new Date()) : null,
    })
    .where(eq(churnReasons.key, key))
    .returning();
  if (!reason) throw new Error(`Churn reason ${key} vanished during its update`);
  return reason;
}
