import DataLoader from 'dataloader';
import { desc, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type Account, type Handoff, type HealthSummary, type LifecycleStage, type Renewal, type User, accountHealth, healthSummaryColumns, renewals } from '../db/schema.ts';
import { type AccountPageRow, getAccountsByIds } from '../domain/accounts.ts';
import { isUuid } from '../domain/validation.ts';
import { getLatestHandoffsByAccountIds } from '../domain/handoffs.ts';
import { listStages } from '../domain/lifecycle.ts';
import { type SignalsSummary, getSignalsSummaries } from '../domain/signals.ts';
import { getUsersByIds } from '../domain/users.ts';

/** Per-request batching: a page of accounts costs one statement per related kind, not one per account. */
export interface Loaders {
  user: DataLoader<string, User | null>;
  account: DataLoader<string, Account | null>;
  stage: DataLoader<string, LifecycleStage | null>;
  health: DataLoader<string, HealthSummary | null>;
  handoffByAccount: DataLoader<string, Handoff | null>;
  renewalByAccount: DataLoader<string, Renewal | null>;
  signals: DataLoader<string, SignalsSummary | null>;
  /**
   * What a listing joined beside each of its accounts (stage, health, owners, renewal), keyed by the account object
   * it returned: its fields answer from here without a load, and so without a promise each.
   */
  listed: WeakMap<Account, AccountPageRow>;
}

function byKey<K, V>(rows: readonly V[], keyOf: (row: V) => K, keys: readonly K[]): (V | null)[] {
  const index = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => index.get(key) ?? null);
}

async function loadHealth(db: Db, ids: readonly string[]): Promise<HealthSummary[]> {
  const valid = ids.filter(isUuid);
  return valid.length === 0 ? [] : db.select(healthSummaryColumns).from(accountHealth).where(inArray(accountHealth.accountId, valid));
}

/** The latest renewal of each account: the one with the latest contract end. */
async function loadRenewals(db: Db, ids: readonly string[]): Promise<Renewal[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return db
    .selectDistinctOn([renewals.accountId])
    .from(renewals)
    .where(inArray(renewals.accountId, valid))
    .orderBy(renewals.accountId, desc(renewals.contractEnd));
}

export function createLoaders(db: Db): Loaders {
  let stages: Promise<LifecycleStage[]> | undefined;
  return {
    user: new DataLoader(async (ids) => byKey(await getUsersByIds(db, ids), (user) => user.id, ids)),
    account: new DataLoader(async (ids) => byKey(await getAccountsByIds(db, ids), (account) => account.id, ids)),
    // Stages are a handful of rows: load them all once per request.
    stage: new DataLoader(async (keys) => {
      stages ??= listStages(db);
      return byKey(await stages, (stage) => stage.key, keys);
    }),
    health: new DataLoader(async (ids) => byKey(await loadHealth(db, ids), (row) => row.accountId, ids)),
    handoffByAccount: new DataLoader(async (ids) => byKey(await getLatestHandoffsByAccountIds(db, ids), (row) => row.accountId, ids)),
    renewalByAccount: new DataLoader(async (ids) => byKey(await loadRenewals(db, ids), (row) => row.accountId, ids)),
    signals: new DataLoader(async (ids) => byKey(await getSignalsSummaries(db, ids), (row) => row.accountId, ids)),
    listed: new WeakMap(),
  };
}
