/**
 * The lifecycle's stages: the default lifecycle, the keys the rules name, reading the stages and editing them.
 * Who may move an account between them is policy.ts; the move itself is moves.ts.
 */
import { asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { type LifecycleStage, lifecycleStages, userRoles } from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { parseInput } from '../validation.ts';

// Stages are data admins edit, but these keys are what closed-won, the rules and the digest look for.
/**
 * The stage before closed-won, owned by account executives: the only one they may move an account out of. An
 * account still here was never a customer, so its first deal is a new customer's.
 */
export const PRE_ONBOARDING_STAGE = 'pre_onboarding';
/** Where a new customer enters at closed-won. */
export const ONBOARDING_STAGE = 'onboarding';
/** Where an account waits for first value; the first-value rule moves it on to Early adoption. */
export const IMPLEMENTATION_STAGE = 'implementation';
export const EARLY_ADOPTION_STAGE = 'early_adoption';
/** A customer who left: the digest no longer lists it. */
export const CHURNED_STAGE = 'churned';

/** The default lifecycle. Data, not code: admins edit it, and these rows only seed an empty database. */
export const defaultStages: LifecycleStage[] = [
  {
    key: PRE_ONBOARDING_STAGE,
    name: 'Pre-onboarding',
    position: 10,
    ownerRole: 'ae',
    entryCriteria: 'Deal in late stage with a signed order form pending.',
    exitCriteria: 'Deal closed-won and handoff to a CSM created.',
    slaDays: 7,
    terminal: false,
  },
  {
    key: ONBOARDING_STAGE,
    name: 'Onboarding',
    position: 20,
    ownerRole: 'csm',
    entryCriteria: 'Entered automatically at closed-won.',
    exitCriteria: 'Kickoff held, success plan agreed with the champion.',
    slaDays: 14,
    terminal: false,
  },
  {
    key: IMPLEMENTATION_STAGE,
    name: 'Implementation',
    position: 30,
    ownerRole: 'csm',
    entryCriteria: 'Kickoff held and success plan agreed.',
    exitCriteria: 'First value reached: the key workflow runs in production.',
    slaDays: 45,
    terminal: false,
  },
  {
    key: EARLY_ADOPTION_STAGE,
    name: 'Early adoption',
    position: 40,
    ownerRole: 'csm',
    entryCriteria: 'First value reached.',
    exitCriteria: 'Active users at 60% of seats for four consecutive weeks.',
    slaDays: 90,
    terminal: false,
  },
  {
    key: 'mature_adoption',
    name: 'Mature adoption',
    position: 50,
    ownerRole: 'csm',
    entryCriteria: 'Sustained adoption across the licensed seats.',
    exitCriteria: 'Renewal or churn.',
    slaDays: null,
    terminal: false,
  },
  {
    key: CHURNED_STAGE,
    name: 'Churned',
    position: 90,
    ownerRole: 'manager',
    entryCriteria: 'Customer gave notice or the contract ended without renewal.',
    exitCriteria: 'None: terminal. Reactivation moves the account back explicitly.',
    slaDays: null,
    terminal: true,
  },
];

/** Inserts the default lifecycle when no stage exists yet; never overwrites edited stages. */
export async function ensureDefaultStages(db: Db): Promise<void> {
  await db.insert(lifecycleStages).values(defaultStages).onConflictDoNothing();
}

/**
 * The lifecycle in order, with no reader: for the stage policy's own checks, and for the stage a row the caller
 * already holds refers to (the API's loader, as users are loaded by id). A listing someone asks for is listStages.
 */
export function readLifecycle(db: Db | Tx): Promise<LifecycleStage[]> {
  return db.select().from(lifecycleStages).orderBy(asc(lifecycleStages.position));
}

export interface ListStagesParams {
  reader: Actor;
}

/** The lifecycle, in order. */
export async function listStages(db: Db | Tx, params: ListStagesParams): Promise<LifecycleStage[]> {
  // SECURITY: integration tokens are for ingestion only; the lifecycle is read by people.
  requireAccess(params.reader, 'read_accounts');
  return readLifecycle(db);
}

const stageFields = {
  name: z.string().trim().min(1, 'the stage name is required').max(100),
  position: z.number().int('must be a whole number').min(1).max(10_000),
  ownerRole: z.enum(userRoles, `use one of ${userRoles.join(', ')}`),
  entryCriteria: z.string().trim().max(2000),
  exitCriteria: z.string().trim().max(2000),
  slaDays: z.number().int('must be a whole number of days').min(1, 'must be at least 1 day; leave it empty for no limit').max(3650).nullable(),
  terminal: z.boolean(),
};

const defineSchema = z.object({
  key: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_]{1,39}$/, 'use 2 to 40 lowercase letters, digits or underscores, starting with a letter (e.g. `renewal_prep`)'),
  ...stageFields,
  slaDays: stageFields.slaDays.default(null),
  terminal: stageFields.terminal.default(false),
  entryCriteria: stageFields.entryCriteria.default(''),
  exitCriteria: stageFields.exitCriteria.default(''),
});

export type DefineStageParams = z.input<typeof defineSchema> & { actor: Actor };

async function requireFreePosition(db: Db, position: number, exceptKey: string | null): Promise<void> {
  const [taken] = await db.select().from(lifecycleStages).where(eq(lifecycleStages.position, position));
  if (taken && taken.key !== exceptKey) {
    throw new InvalidInputError(`Position ${position} is already used by ${taken.name}. Pick a free position (positions need not be consecutive).`, 'position');
  }
}

/** Adds a lifecycle stage (admins). */
export async function defineStage(db: Db, params: DefineStageParams): Promise<LifecycleStage> {
  requireAccess(params.actor, 'manage_stages');
  const input = parseInput(defineSchema, params);
  const [existing] = await db.select().from(lifecycleStages).where(eq(lifecycleStages.key, input.key));
  if (existing) throw new InvalidInputError(`A stage with key "${input.key}" already exists; change it with updateStage.`, 'key');
  await requireFreePosition(db, input.position, null);
  const [stage] = await db.insert(lifecycleStages).values(input).returning();
  if (!stage) throw new Error('Stage insert returned no row');
  return stage;
}

const updateSchema = z.object({ key: z.string().trim().min(1), ...z.object(stageFields).partial().shape });
export type UpdateStageParams = z.input<typeof updateSchema> & { actor: Actor };

/** Edits a stage's name, order, owner role, criteria or SLA (admins). The key never changes: history refers to it. */
export async function updateStage(db: Db, params: UpdateStageParams): Promise<LifecycleStage> {
  requireAccess(params.actor, 'manage_stages');
  const { key, ...changes } = parseInput(updateSchema, params);
  const [existing] = await db.select().from(lifecycleStages).where(eq(lifecycleStages.key, key));
  if (!existing) throw new NotFoundError(`There is no stage "${key}". List stages with the \`stages\` query.`, 'key');
  if (changes.position !== undefined) await requireFreePosition(db, changes.position, key);
  const set = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
  if (Object.keys(set).length === 0) return existing;
  const [stage] = await db.update(lifecycleStages).set(set).where(eq(lifecycleStages.key, key)).returning();
  if (!stage) throw new Error(`Stage ${key} vanished during its update`);
  return stage;
}

/** Removes a stage nobody uses yet (admins). Stages used by an account or by history are never deleted. */
export async function deleteStage(db: Db, params: { key: string; actor: Actor }): Promise<void> {
  requireAccess(params.actor, 'manage_stages');
  const [usage] = await queryRows<{ accounts: number; transitions: number }>(
    db,
    sql`select (select count(*)::int from accounts where stage_key = ${params.key}) as accounts,
               (select count(*)::int from stage_transitions where from_stage = ${params.key} or to_stage = ${params.key}) as transitions`,
  );
  if (usage && (usage.accounts > 0 || usage.transitions > 0)) {
    throw new InvalidInputError(
      `Stage "${params.key}" is used by ${usage.accounts} account(s) and ${usage.transitions} recorded transition(s), so it cannot be deleted. Rename it or change its criteria instead.`,
      'key',
    );
  }
  const deleted = await db.delete(lifecycleStages).where(eq(lifecycleStages.key, params.key)).returning();
  if (deleted.length === 0) throw new NotFoundError(`There is no stage "${params.key}".`, 'key');
}
