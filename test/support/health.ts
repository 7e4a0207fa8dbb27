// Builders for account health: the score an account shows now (account_health) and the history behind it
// (health_scores). Both are written directly, here and nowhere else in the tests: a digest, card or rule test needs
// a score, status and reasons of its own choosing, which no set of signals produces exactly, and history points in
// the past, which a recompute never writes. A test about the score itself adds signals and runs recomputeHealth.
import type { Db } from '../../db/client.ts';
import { eq } from 'drizzle-orm';
import { type Account, type HealthComponents, type HealthStatus, accountHealth, healthScores, healthWordsColumns } from '../../db/schema.ts';
import { healthWords } from '../../domain/health/words.ts';
import { HEALTH_MODEL_VERSION } from '../../domain/health/model.ts';
import { createAccount } from './factories.ts';

/** The current health of an account, as a recompute would have stored it. */
export type HealthState = Omit<typeof accountHealth.$inferInsert, 'accountId' | 'reasons' | 'computedAt' | 'modelVersion'> & {
  reasons?: string[];
  /** When the score was computed; now by default. */
  computedAt?: Date;
};

export async function setHealth(db: Db, accountId: string, health: HealthState): Promise<void> {
  await db.insert(accountHealth).values({ reasons: [], computedAt: new Date(), ...health, accountId, modelVersion: HEALTH_MODEL_VERSION });
}

/** An account (see createAccount) that already has a health score. */
export async function createAccountWithHealth(db: Db, overrides: Parameters<typeof createAccount>[1], health: HealthState): Promise<Account> {
  const account = await createAccount(db, overrides);
  await setHealth(db, account.id, health);
  return account;
}

export interface HealthPoint {
  at: Date;
  score: number | null;
  status: HealthStatus;
  reasons?: string[];
  /** No component had data, by default. */
  components?: HealthComponents;
}

const noComponents: HealthComponents = {
  usage: { score: null, weight: 0, detail: '' },
  support: { score: null, weight: 0, detail: '' },
  nps: { score: null, weight: 0, detail: '' },
  engagement: { score: null, weight: 0, detail: '' },
};

/** Points of an account's health history, e.g. the scores a rule compares across days. */
export async function addHealthHistory(db: Db, accountId: string, points: HealthPoint[]): Promise<void> {
  await db.insert(healthScores).values(
    points.map((point) => ({
      accountId,
      score: point.score,
      status: point.status,
      components: point.components ?? noComponents,
      reasons: point.reasons ?? [],
      modelVersion: HEALTH_MODEL_VERSION,
      computedAt: point.at,
    })),
  );
}

/** Each account's stored health as readers see it: the score, and its reasons and components in words. */
export async function saidHealthRows(db: Db): Promise<{ accountId: string; score: number | null; reasons: string[]; components: HealthComponents | null }[]> {
  const rows = await db.select({ accountId: accountHealth.accountId, score: accountHealth.score, ...healthWordsColumns }).from(accountHealth);
  return rows.map(({ accountId, score, ...source }) => ({ accountId, score, ...healthWords(source) }));
}

/** An account's stored health row, its reasons and components in words as readers see them. */
export async function storedHealthOf(db: Db, accountId: string) {
  const [row] = await db.select().from(accountHealth).where(eq(accountHealth.accountId, accountId));
  return row && { ...row, ...healthWords(row) };
}
