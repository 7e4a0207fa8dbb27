/**
 * The health score model: its version, its fixed parameters, and the weights and thresholds per segment that admins
 * edit. The rest of domain/health/ computes scores with it (recompute) and reads them back (queries).
 */
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import {
  type HealthWeights,
  type ScoredHealthStatus,
  type Segment,
  type TokenRole,
  healthComponentNames,
  healthSettings,
  segments,
} from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { ForbiddenError, InvalidInputError } from '../errors.ts';

/**
 * Bumped whenever a formula below changes, so every stored score says which model produced it and a trend
 * across a model change can be read for what it is.
 */
export const HEALTH_MODEL_VERSION = 1;

export const DEFAULT_WEIGHTS: HealthWeights = { usage: 40, support: 20, nps: 20, engagement: 20 };
export const DEFAULT_THRESHOLDS = { healthyMin: 70, atRiskMin: 40 } as const;

/** The model's fixed parameters, named so the recompute's SQL reads as the model does. */
export const MODEL = {
  /** Usage trend: the last 14 days against the 28 days before them. */
  recentDays: 14,
  priorDays: 28,
  /** Key events per active user per day that count as full use. */
  keyEventsPerUserDayTarget: 2,
  /** Inside the usage component: adoption (active/seats), trend, key-event volume. */
  usageParts: { adoption: 0.5, trend: 0.3, keyEvents: 0.2 },
  /** Points one open ticket takes off support, by severity, before the age factor (up to x2 at 30 days). */
  ticketPenalty: { low: 3, normal: 6, high: 15, urgent: 30 },
  ticketAgeFullDays: 30,
  /** Survey responses count for a year, weighing half as much every 90 days. */
  surveyLookbackDays: 365,
  surveyHalfLifeDays: 90,
  /** Engagement: a CSM touch within 14 days is full marks, none for 60 days is zero. */
  touchFreshDays: 14,
  touchStaleDays: 60,
  /** A reason is only worth saying when the fact moved the score by at least this many points. */
  usageTrendReasonPercent: 15,
} as const;

export interface HealthModelSettings {
  weights: HealthWeights;
  healthyMin: number;
  atRiskMin: number;
}

/** Settings for each segment: the segment's own row, else the `default` row, else the built-in defaults. */
export type ResolvedHealthSettings = Record<Segment, HealthModelSettings> & { default: HealthModelSettings };

/**
 * The status of a score; an account without one is insufficient_data, decided where scores are
 * (domain/health/recompute.ts).
 */
export function statusForScore(score: number, settings: Pick<HealthModelSettings, 'healthyMin' | 'atRiskMin'>): ScoredHealthStatus {
  if (score >= settings.healthyMin) return 'healthy';
  if (score >= settings.atRiskMin) return 'at_risk';
  return 'critical';
}

/** The settings in effect, for someone who reads accounts. */
export async function getHealthSettings(db: Db, params: { reader: Actor }): Promise<ResolvedHealthSettings> {
  // Refused as every account read is: an integration token, or an AE token linked to nobody, reads nothing.
  readableOwnerId(params.reader);
  return loadHealthSettings(db);
}

export async function loadHealthSettings(db: Db | Tx): Promise<ResolvedHealthSettings> {
  const rows = await db.select().from(healthSettings);
  const byScope = new Map(rows.map((row) => [row.scope, row]));
  const fallback: HealthModelSettings = (() => {
    const row = byScope.get('default');
    return row
      ? { weights: { ...DEFAULT_WEIGHTS, ...row.weights }, healthyMin: row.healthyMin, atRiskMin: row.atRiskMin }
      : { weights: { ...DEFAULT_WEIGHTS }, ...DEFAULT_THRESHOLDS };
  })();
  const resolved: Partial<Record<Segment, HealthModelSettings>> = {};
  for (const segment of segments) {
    const row = byScope.get(segment);
    resolved[segment] = row
      ? { weights: { ...fallback.weights, ...row.weights }, healthyMin: row.healthyMin, atRiskMin: row.atRiskMin }
      : fallback;
  }
  return { smb: resolved.smb ?? fallback, mid_market: resolved.mid_market ?? fallback, enterprise: resolved.enterprise ?? fallback, default: fallback };
}

const weight = z
  .number({ error: 'each weight must be a number from 0 to 100' })
  .min(0, 'each weight must be between 0 and 100')
  .max(100, 'each weight must be between 0 and 100');

export const healthSettingsInput = z
  .object({
    scope: z.enum(['default', ...segments], {
      error: `scope must be "default" or a segment (${segments.join(', ')})`,
    }),
    weights: z.object({ usage: weight, support: weight, nps: weight, engagement: weight }),
    healthyMin: z.number().int('healthyMin must be a whole number').min(1).max(100),
    atRiskMin: z.number().int('atRiskMin must be a whole number').min(0).max(99),
  })
  .superRefine((input, ctx) => {
    if (input.atRiskMin >= input.healthyMin) {
      ctx.addIssue({
        code: 'custom',
        path: ['atRiskMin'],
        message: `atRiskMin (${input.atRiskMin}) must be below healthyMin (${input.healthyMin}), or no score could be At risk`,
      });
    }
    if (healthComponentNames.every((name) => input.weights[name] === 0)) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: 'at least one weight must be above 0, or no score could be computed' });
    }
  });

/** `scope` is checked by the schema, so callers may pass what a person typed. */
export type UpdateHealthSettingsParams = Omit<z.input<typeof healthSettingsInput>, 'scope'> & { scope: string; actor: Actor };

const settingsEditors: readonly TokenRole[] = ['admin'];

/** Admins edit weights and thresholds, for everyone (`default`) or one segment. Applies at the next recompute. */
export async function updateHealthSettings(db: Db | Tx, params: UpdateHealthSettingsParams): Promise<HealthModelSettings> {
  if (!settingsEditors.includes(params.actor.role)) {
    throw new ForbiddenError(`Only admins can change health weights and thresholds; your role is ${params.actor.role}. Ask an admin.`);
  }
  const parsed = healthSettingsInput.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? 'input';
    throw new InvalidInputError(`Health settings not saved: ${field}: ${issue?.message ?? 'invalid'}.`, field);
  }
  const { scope, weights, healthyMin, atRiskMin } = parsed.data;
  const now = new Date();
  await db
    .insert(healthSettings)
    .values({ scope, weights, healthyMin, atRiskMin, updatedBy: params.actor.userId, updatedAt: now })
    .onConflictDoUpdate({
      target: healthSettings.scope,
      set: { weights, healthyMin, atRiskMin, updatedBy: params.actor.userId, updatedAt: now },
    });
  return { weights, healthyMin, atRiskMin };
}

export async function resetHealthSettings(db: Db | Tx, scope: string): Promise<void> {
  await db.delete(healthSettings).where(eq(healthSettings.scope, scope));
}
