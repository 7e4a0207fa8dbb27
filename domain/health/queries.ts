/**
 * The read side of health: the at-risk list, an account's health with its history, and the latest health of many
 * accounts at once. Each read takes its reader and leaves out what that reader may not see.
 */
import { and, asc, desc, eq, gte, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import {
  type Account,
  type CsmSentiment,
  type HealthComponents,
  type HealthStatus,
  type HealthSummary,
  type StoredHealthSummary,
  type ScoredHealthStatus,
  type User,
  accountHealth,
  accounts,
  csmSentiments,
  healthScores,
  healthSummaryColumns,
  lifecycleStages,
  users,
} from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { DAY_MS } from '../dates.ts';
import { isUuid } from '../validation.ts';
import { healthComponents, healthReasons, healthWords } from './words.ts';

export interface AtRiskItem {
  account: Account;
  score: number;
  /** Never insufficient_data: an account without a score is not at risk, nor safe; it is left out. */
  status: ScoredHealthStatus;
  scoreDayAgo: number | null;
  /** Points lost since about a day ago: positive means the score fell. */
  drop: number;
  reasons: string[];
  renewalDate: string | null;
  csm: User | null;
}

export interface ListAtRiskParams {
  /** Only this CSM's accounts; null or omitted for everyone's. */
  csmId?: string | null;
  /** Who is reading: an account executive lists only the accounts they sold. */
  reader: Actor;
  limit?: number;
  /** Reserved for callers that pin time (digests, tests); the list reads the latest computed scores. */
  now?: Date;
}

/**
 * A Healthy account still makes the at-risk list when it lost at least this many points since yesterday; the daily
 * digest (domain/digest.ts) lists by the same rule.
 */
export const AT_RISK_DROP_POINTS = 10;

/** Points lost since about a day ago: 0 when the score rose or there is no day-old score. */
export const scoreDropSql = sql<number>`greatest(coalesce(${accountHealth.scoreDayAgo} - ${accountHealth.score}, 0), 0)`;

/**
 * The at-risk rule, over account_health joined to its account and the account's lifecycle stage: an account in a
 * live stage that is At risk or Critical, or Healthy but fell AT_RISK_DROP_POINTS in a day. An account without a
 * score (insufficient_data) is neither at risk nor falling. The at-risk list, the digest, App Home and the
 * escalations all list by this one condition.
 */
export const onAtRiskList = sql`(not ${lifecycleStages.terminal} and (${accountHealth.status} in ('at_risk', 'critical') or (${accountHealth.status} = 'healthy' and ${scoreDropSql} >= ${AT_RISK_DROP_POINTS})))`;

/**
 * Accounts At risk or Critical, or falling fast, biggest drop first, then lowest score. Churned accounts never, nor
 * accounts without a score (insufficient_data).
 */
export async function listAtRisk(db: Db | Tx, params: ListAtRiskParams): Promise<AtRiskItem[]> {
  const aeId = readableOwnerId(params.reader);
  const limit = Math.min(Math.max(params.limit ?? 50, 1), 500);
  const rows = await db
    .select({ accountId: accounts.id, drop: scoreDropSql })
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .innerJoin(lifecycleStages, eq(lifecycleStages.key, accounts.stageKey))
    .where(and(onAtRiskList, params.csmId ? eq(accounts.csmId, params.csmId) : undefined, aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(desc(scoreDropSql), asc(accountHealth.score), asc(accounts.name), asc(accounts.id))
    .limit(limit);
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.accountId);
  const found = await db.select().from(accounts).where(inArray(accounts.id, ids));
  const healthRows = await db.select().from(accountHealth).where(inArray(accountHealth.accountId, ids));
  const csmIds = [...new Set(found.map((account) => account.csmId).filter((id): id is string => id !== null))];
  const csms = csmIds.length > 0 ? await db.select().from(users).where(inArray(users.id, csmIds)) : [];
  const accountById = new Map(found.map((account) => [account.id, account]));
  const healthById = new Map(healthRows.map((health) => [health.accountId, health]));
  const csmById = new Map(csms.map((user) => [user.id, user]));
  const items: AtRiskItem[] = [];
  for (const row of rows) {
    const account = accountById.get(row.accountId);
    const health = healthById.get(row.accountId);
    // Listed only with a score (the query above); checked again for the types, and for a recompute in between.
    if (!account || !health || health.score === null || health.status === 'insufficient_data') continue;
    items.push({
      account,
      score: health.score,
      status: health.status,
      scoreDayAgo: health.scoreDayAgo,
      drop: Number(row.drop),
      reasons: healthReasons(health),
      renewalDate: account.contractEnd,
      csm: account.csmId ? (csmById.get(account.csmId) ?? null) : null,
    });
  }
  return items;
}

export interface HealthPoint {
  /** Null when the status is insufficient_data. */
  score: number | null;
  status: HealthStatus;
  computedAt: Date;
  reasons: string[];
}

export interface AccountHealthView {
  accountId: string;
  /** Null when the status is insufficient_data: recomputed, with no customer signal to score. */
  score: number | null;
  status: HealthStatus;
  components: HealthComponents | null;
  reasons: string[];
  computedAt: Date;
  modelVersion: number;
  scoreDayAgo: number | null;
  scoreWeekAgo: number | null;
  /** Points lost since about a day / a week ago; positive means it fell, null without history that old. */
  dropSinceYesterday: number | null;
  dropSinceLastWeek: number | null;
  /** Every change of the last `historyDays`, newest first. */
  history: HealthPoint[];
  /** The CSM's own read, shown beside the score and never mixed into it. */
  sentiment: CsmSentiment | null;
}

export interface GetAccountHealthParams {
  accountId: string;
  /** Who is reading: null for an account the reader may not read (an AE reads only the accounts they sold). */
  reader: Actor;
  historyDays?: number;
  now?: Date;
}

/** Points lost from an earlier score to the current one (positive: it fell); null when either is missing. */
export function scoreDrop(earlier: number | null, current: number | null): number | null {
  return earlier === null || current === null ? null : earlier - current;
}

export async function getAccountHealth(db: Db | Tx, params: GetAccountHealthParams): Promise<AccountHealthView | null> {
  const readableAeId = readableOwnerId(params.reader);
  const { accountId } = params;
  if (!isUuid(accountId)) return null;
  const [row] = await db
    .select({ current: accountHealth })
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .where(and(eq(accountHealth.accountId, accountId), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
  if (!row) return null;
  const { current } = row;
  const since = new Date((params.now ?? current.computedAt).getTime() - (params.historyDays ?? 90) * DAY_MS);
  const history = await db
    .select({
      score: healthScores.score,
      status: healthScores.status,
      computedAt: healthScores.computedAt,
      facts: healthScores.facts,
      stageName: healthScores.stageName,
      npsWorstSaid: healthScores.npsWorstSaid,
      reasons: healthScores.reasons,
    })
    .from(healthScores)
    .where(and(eq(healthScores.accountId, accountId), gte(healthScores.computedAt, since)))
    .orderBy(desc(healthScores.computedAt))
    .limit(500);
  const [sentiment] = await db
    .select()
    .from(csmSentiments)
    .where(eq(csmSentiments.accountId, accountId))
    .orderBy(desc(csmSentiments.recordedAt))
    .limit(1);
  return {
    accountId,
    score: current.score,
    status: current.status,
    components: healthComponents(current),
    reasons: healthReasons(current),
    computedAt: current.computedAt,
    modelVersion: current.modelVersion,
    scoreDayAgo: current.scoreDayAgo,
    scoreWeekAgo: current.scoreWeekAgo,
    dropSinceYesterday: scoreDrop(current.scoreDayAgo, current.score),
    dropSinceLastWeek: scoreDrop(current.scoreWeekAgo, current.score),
    history: history.map(({ score, status, computedAt, ...words }) => ({ score, status, computedAt, reasons: healthReasons(words) })),
    sentiment: sentiment ?? null,
  };
}

/** The latest health of each account the reader may read, in one statement (for loaders); the others are left out. */
export async function getHealthSummariesByAccountIds(db: Db, params: { accountIds: readonly string[]; reader: Actor }): Promise<HealthSummary[]> {
  const readableAeId = readableOwnerId(params.reader);
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .select(healthSummaryColumns)
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .where(and(inArray(accountHealth.accountId, ids), readableAeId ? eq(accounts.aeId, readableAeId) : undefined));
  return rows.map(healthSummaryOf);
}

/** An account's latest health as read (healthSummaryColumns), its reasons and components in words. */
export function healthSummaryOf(row: StoredHealthSummary): HealthSummary {
  const { facts: _facts, stageName: _stageName, npsWorstSaid: _npsWorstSaid, ...summary } = row;
  return { ...summary, ...healthWords(row) };
}
