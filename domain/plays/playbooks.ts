/**
 * Plays: playbooks, the named templates admins define (what starts one, and its steps), the defaults a new
 * install gets, and reading them. Starting and closing a playbook for an account is playbook-runs.ts.
 */
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import {
  type Playbook,
  type PlaybookStep,
  type PlaybookTrigger,
  lifecycleStages,
  playbookStepRoles,
  playbookSteps,
  playbookTriggers,
  playbooks,
} from '../../db/schema.ts';
import { requireAccess } from '../access.ts';
import type { Actor } from '../actors.ts';
import { InvalidInputError, NotFoundError, StaleVersionError } from '../errors.ts';
import { EARLY_ADOPTION_STAGE, IMPLEMENTATION_STAGE } from '../lifecycle/stages.ts';
import { isUuid, parseInput } from '../validation.ts';
import { MAX_TASK_TITLE } from './tasks.ts';

export type { Playbook, PlaybookStep, PlaybookTrigger };

/** A playbook is a short list of work, not a project plan: at most this many steps. */
export const MAX_PLAYBOOK_STEPS = 20;
/** A step is due at most this many days after the run starts. */
export const MAX_STEP_DUE_DAYS = 365;

/** The key of the default onboarding playbook: its run's tasks are the milestones time-to-value is measured against. */
export const ONBOARDING_PLAYBOOK = 'onboarding';

/** A playbook with its current steps, in order. */
export interface PlaybookWithSteps {
  playbook: Playbook;
  steps: PlaybookStep[];
}

export interface StepInput {
  title: string;
  ownerRole: PlaybookStep['ownerRole'];
  dueInDays: number;
  suggestedStageKey?: string | null;
}

export interface PlaybookDefinition {
  key: string;
  name: string;
  description: string;
  triggers: PlaybookTrigger[];
  steps: StepInput[];
}

/** The playbooks a new install starts with, from common customer-success practice. Data: admins edit them. */
export const defaultPlaybooks: PlaybookDefinition[] = [
  {
    key: ONBOARDING_PLAYBOOK,
    name: 'Onboarding',
    description: 'From the accepted handoff to first value: the milestones time to value is measured against.',
    triggers: ['handoff_accepted'],
    steps: [
      { title: 'Hold the kickoff with the champion and agree the success plan', ownerRole: 'csm', dueInDays: 5, suggestedStageKey: IMPLEMENTATION_STAGE },
      { title: 'Complete the technical setup with the customer’s admin', ownerRole: 'csm', dueInDays: 14 },
      { title: 'Get the customer to their first key action', ownerRole: 'csm', dueInDays: 21 },
      { title: 'Reach first value: the key workflow runs in production', ownerRole: 'csm', dueInDays: 45, suggestedStageKey: EARLY_ADOPTION_STAGE },
    ],
  },
  {
    key: 'risk',
    name: 'Risk',
    description: 'Usage fell or health turned Critical: reach the champion fast, review usage together, escalate if needed.',
    triggers: ['usage_drop', 'health_critical'],
    steps: [
      { title: 'Reach the champion and find out what changed', ownerRole: 'csm', dueInDays: 2 },
      { title: 'Review usage with the customer and agree a recovery plan', ownerRole: 'csm', dueInDays: 7 },
      { title: 'Escalate to the executive sponsor if usage has not recovered', ownerRole: 'manager', dueInDays: 14 },
    ],
  },
  {
    key: 'champion_left',
    name: 'Champion left',
    description: 'The customer’s champion left: find the new one before the relationship goes quiet.',
    triggers: ['champion_left'],
    steps: [
      { title: 'Find the new champion and introduce yourself', ownerRole: 'csm', dueInDays: 2 },
      { title: 'Walk the new champion through the success plan', ownerRole: 'csm', dueInDays: 14 },
      { title: 'Check in with the executive sponsor on the change', ownerRole: 'manager', dueInDays: 14 },
    ],
  },
  {
    key: 'renewal',
    name: 'Renewal',
    description: 'Ninety days before contract end: confirm the plan and who decides; thirty days before: the paperwork.',
    triggers: ['renewal_90'],
    steps: [
      { title: 'Confirm the renewal plan and the decision makers', ownerRole: 'csm', dueInDays: 7 },
      { title: 'Get the renewal paperwork signed', ownerRole: 'ae', dueInDays: 60 },
    ],
  },
  {
    key: 'expansion',
    name: 'Expansion',
    description: 'Advanced features are taking off: qualify the signal, then hand it to the account executive.',
    triggers: ['expansion_signal'],
    steps: [
      { title: 'Qualify the expansion signal with the champion', ownerRole: 'csm', dueInDays: 7 },
      { title: 'Take the qualified expansion to the customer', ownerRole: 'ae', dueInDays: 14 },
    ],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Reads

export interface ListPlaybooksParams {
  reader: Actor;
  /** Retired playbooks too (they keep their runs' history). */
  includeRetired?: boolean;
}

async function withSteps(db: Db | Tx, rows: Playbook[]): Promise<PlaybookWithSteps[]> {
  if (rows.length === 0) return [];
  const steps = await db
    .select()
    .from(playbookSteps)
    .where(and(inArray(playbookSteps.playbookId, rows.map((row) => row.id)), isNull(playbookSteps.removedAt)))
    .orderBy(asc(playbookSteps.position));
  return rows.map((playbook) => ({ playbook, steps: steps.filter((step) => step.playbookId === playbook.id) }));
}

/** Playbooks by name, with their steps; retired ones only when asked. Everyone who reads accounts reads them. */
export async function listPlaybooks(db: Db | Tx, params: ListPlaybooksParams): Promise<PlaybookWithSteps[]> {
  requireAccess(params.reader, 'read_accounts');
  const rows = await db
    .select()
    .from(playbooks)
    .where(params.includeRetired ? undefined : isNull(playbooks.retiredAt))
    .orderBy(asc(playbooks.name), asc(playbooks.id));
  return withSteps(db, rows);
}

/** Playbooks by id, with their steps, for rows the caller already holds (a run names its playbook). */
export async function getPlaybooksByIds(db: Db | Tx, params: { ids: readonly string[]; reader: Actor }): Promise<PlaybookWithSteps[]> {
  requireAccess(params.reader, 'read_accounts');
  const ids = params.ids.filter(isUuid);
  if (ids.length === 0) return [];
  return withSteps(db, await db.select().from(playbooks).where(inArray(playbooks.id, ids)));
}

/** One playbook by id or key; a NotFoundError that says where to find one otherwise. */
export async function requirePlaybook(db: Db | Tx, ref: { id?: string | null; key?: string | null }, field = 'playbookId'): Promise<PlaybookWithSteps> {
  const where = ref.id ? (isUuid(ref.id) ? eq(playbooks.id, ref.id) : undefined) : ref.key ? eq(playbooks.key, ref.key) : undefined;
  const [row] = where ? await db.select().from(playbooks).where(where) : [];
  if (!row) throw new NotFoundError('There is no such playbook. The `playbooks` query lists them with their ids and keys.', field);
  const [found] = await withSteps(db, [row]);
  if (!found) throw new Error('A playbook vanished while read');
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Writes (admins only)

const stepSchema = z.object({
  title: z.string().trim().min(1, 'give the step a title: what should be done?').max(MAX_TASK_TITLE - 60, `keep a step's title under ${MAX_TASK_TITLE - 60} characters`),
  ownerRole: z.enum(playbookStepRoles, `use one of ${playbookStepRoles.join(', ')}: whose task the step becomes`),
  dueInDays: z.number().int('must be a whole number of days').min(0, 'must be 0 (the day the run starts) or more').max(MAX_STEP_DUE_DAYS, `must be at most ${MAX_STEP_DUE_DAYS} days`),
  suggestedStageKey: z.string().trim().min(1).nullish(),
});

const contentSchema = z.object({
  name: z.string().trim().min(1, 'give the playbook a name').max(100, 'keep the name under 100 characters'),
  description: z.string().trim().max(1000, 'keep the description under 1000 characters').default(''),
  triggers: z
    .array(z.enum(playbookTriggers, `use one of ${playbookTriggers.join(', ')}`))
    .min(1, 'say what starts it: at least one trigger (`manual` for a playbook only started by hand)')
    .transform((triggers) => [...new Set(triggers)]),
  steps: z.array(stepSchema).min(1, 'a playbook needs at least one step').max(MAX_PLAYBOOK_STEPS, `a playbook has at most ${MAX_PLAYBOOK_STEPS} steps`),
});

const defineSchema = contentSchema.extend({
  key: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_]{1,39}$/, 'use 2 to 40 lowercase letters, digits or underscores, starting with a letter (e.g. `executive_review`)'),
});

export type DefinePlaybookParams = z.input<typeof defineSchema> & { actor: Actor; now?: Date };

async function requireStages(tx: Tx, steps: readonly { suggestedStageKey?: string | null | undefined }[]): Promise<void> {
  const keys = [...new Set(steps.map((step) => step.suggestedStageKey).filter((key): key is string => !!key))];
  if (keys.length === 0) return;
  const found = await tx.select({ key: lifecycleStages.key }).from(lifecycleStages).where(inArray(lifecycleStages.key, keys));
  const missing = keys.filter((key) => !found.some((stage) => stage.key === key));
  if (missing.length > 0) {
    const index = steps.findIndex((step) => step.suggestedStageKey === missing[0]);
    throw new InvalidInputError(`There is no stage “${missing[0]}”. Use a key from the \`stages\` query, or leave the suggested stage out.`, `steps[${index}].suggestedStageKey`);
  }
}

async function insertSteps(tx: Tx, playbookId: string, steps: readonly z.output<typeof stepSchema>[]): Promise<void> {
  await tx.insert(playbookSteps).values(
    steps.map((step, index) => ({
      playbookId,
      position: index + 1,
      title: step.title,
      ownerRole: step.ownerRole,
      dueInDays: step.dueInDays,
      suggestedStageKey: step.suggestedStageKey ?? null,
    })),
  );
}

/** An admin defines a new playbook. Its key is unique and never changes. */
export async function definePlaybook(db: Db, params: DefinePlaybookParams): Promise<PlaybookWithSteps> {
  requireAccess(params.actor, 'manage_playbooks');
  const input = parseInput(defineSchema, params);
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    await requireStages(tx, input.steps);
    const [created] = await tx
      .insert(playbooks)
      .values({ key: input.key, name: input.name, description: input.description, triggers: input.triggers, createdBy: params.actor.userId, createdAt: now, updatedAt: now })
      .onConflictDoNothing({ target: playbooks.key })
      .returning();
    if (!created) throw new InvalidInputError(`A playbook with the key “${input.key}” already exists. Choose another key, or edit that one with updatePlaybook.`, 'key');
    await insertSteps(tx, created.id, input.steps);
    return requirePlaybook(tx, { id: created.id });
  });
}

const updateSchema = contentSchema.partial().extend({ expectedVersion: z.number().int() });

export type UpdatePlaybookParams = z.input<typeof updateSchema> & { playbookId: string; actor: Actor; now?: Date };

/**
 * An admin edits a playbook: name, description, triggers, and (all at once) its steps. Runs already started keep
 * their tasks; the next run follows the new steps. A stale `expectedVersion` is refused, not overwritten.
 */
export async function updatePlaybook(db: Db, params: UpdatePlaybookParams): Promise<PlaybookWithSteps> {
  requireAccess(params.actor, 'manage_playbooks');
  const input = parseInput(updateSchema, params);
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    const { playbook } = await requirePlaybook(tx, { id: params.playbookId });
    if (playbook.retiredAt) throw new InvalidInputError(`“${playbook.name}” is retired. Define a new playbook instead.`, 'playbookId');
    const [updated] = await tx
      .update(playbooks)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.triggers !== undefined ? { triggers: input.triggers } : {}),
        version: playbook.version + 1,
        updatedAt: now,
      })
      .where(and(eq(playbooks.id, playbook.id), eq(playbooks.version, input.expectedVersion)))
      .returning();
    if (!updated) {
      const [current] = await tx.select({ version: playbooks.version }).from(playbooks).where(eq(playbooks.id, playbook.id));
      const version = current?.version ?? playbook.version;
      throw new StaleVersionError(`“${playbook.name}” was edited since you read it (version ${version}, you had ${input.expectedVersion}). Read it again and redo your edit.`, version);
    }
    if (input.steps) {
      await requireStages(tx, input.steps);
      await tx.update(playbookSteps).set({ removedAt: now }).where(and(eq(playbookSteps.playbookId, playbook.id), isNull(playbookSteps.removedAt)));
      await insertSteps(tx, playbook.id, input.steps);
    }
    return requirePlaybook(tx, { id: playbook.id });
  });
}

export interface RetirePlaybookParams {
  playbookId: string;
  actor: Actor;
  now?: Date;
}

/**
 * An admin retires a playbook: nothing starts it any more, by trigger or by hand. Its runs and their tasks stay,
 * running ones included (close them one by one when their reason went away). Playbooks are never deleted.
 */
export async function retirePlaybook(db: Db, params: RetirePlaybookParams): Promise<PlaybookWithSteps> {
  requireAccess(params.actor, 'manage_playbooks');
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    const { playbook } = await requirePlaybook(tx, { id: params.playbookId });
    if (playbook.retiredAt) throw new InvalidInputError(`“${playbook.name}” is already retired.`, 'playbookId');
    await tx
      .update(playbooks)
      .set({ retiredAt: now, retiredBy: params.actor.userId, version: playbook.version + 1, updatedAt: now })
      .where(eq(playbooks.id, playbook.id));
    return requirePlaybook(tx, { id: playbook.id });
  });
}

/**
 * Inserts the default playbooks whose keys do not exist yet; never touches an edited or retired one. Idempotent,
 * and safe when two replicas start at once (the key is unique).
 */
export async function ensureDefaultPlaybooks(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    const created = await tx
      .insert(playbooks)
      .values(defaultPlaybooks.map(({ key, name, description, triggers }) => ({ key, name, description, triggers })))
      .onConflictDoNothing({ target: playbooks.key })
      .returning({ id: playbooks.id, key: playbooks.key });
    if (created.length === 0) return;
    // A stage an admin removed is no longer suggested.
    const stageKeys = new Set((await tx.select({ key: lifecycleStages.key }).from(lifecycleStages)).map((stage) => stage.key));
    for (const row of created) {
      const definition = defaultPlaybooks.find((playbook) => playbook.key === row.key);
      if (!definition) continue;
      await insertSteps(tx, row.id, definition.steps.map((step) => ({ ...step, suggestedStageKey: step.suggestedStageKey && stageKeys.has(step.suggestedStageKey) ? step.suggestedStageKey : null })));
    }
  });
}
